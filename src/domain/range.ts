// Contiguous address ranges, parsed from the three spellings a pool accepts:
// CIDR (192.0.2.0/28), first-last (192.0.2.10-192.0.2.20) and a single address.
import {
  cidrLast,
  FAMILY_BITS,
  type Family,
  formatValue,
  type ParseResult,
  parseAddress,
  parseCidr,
} from "./address.js";

export interface AddressRange {
  readonly family: Family;
  readonly first: bigint;
  readonly last: bigint;
}

export function rangeSize(r: AddressRange): bigint {
  return r.last - r.first + 1n;
}

export function rangeContains(r: AddressRange, family: Family, value: bigint): boolean {
  return r.family === family && value >= r.first && value <= r.last;
}

export function rangesOverlap(a: AddressRange, b: AddressRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

export function formatRange(r: AddressRange): string {
  const first = formatValue(r.family, r.first);
  if (r.first === r.last) return first;
  const size = rangeSize(r);
  const bits = FAMILY_BITS[r.family];
  // Print as CIDR when the range is exactly one aligned prefix.
  if ((size & (size - 1n)) === 0n && r.first % size === 0n) {
    const prefix = bits - (size.toString(2).length - 1);
    return `${first}/${prefix}`;
  }
  return `${first}-${formatValue(r.family, r.last)}`;
}

/** Parses one entry of `spec.addresses`. Errors say what was meant where they can. */
export function parseRange(text: string): ParseResult<AddressRange> {
  const s = text.trim();
  if (s === "") return { ok: false, error: "empty entry" };
  if (s.includes("/")) return cidrRange(s);
  if (s.includes("-")) return parseFirstLast(s);
  const single = parseAddress(s);
  if (!single.ok) return single;
  const { family, value } = single.value;
  return { ok: true, value: { family, first: value, last: value } };
}

function cidrRange(s: string): ParseResult<AddressRange> {
  const cidr = parseCidr(s);
  if (!cidr.ok) return cidr;
  const { family, value } = cidr.value;
  return { ok: true, value: { family, first: value, last: cidrLast(cidr.value) } };
}

function parseFirstLast(s: string): ParseResult<AddressRange> {
  const parts = s.split("-");
  if (parts.length !== 2) return { ok: false, error: `"${s}" is not a range: write first-last` };
  const [firstText = "", lastText = ""] = parts;
  const first = parseAddress(firstText);
  if (!first.ok) return { ok: false, error: `in "${s}": ${first.error}` };
  const last = parseAddress(lastText);
  if (!last.ok) return { ok: false, error: `in "${s}": ${last.error}` };
  if (first.value.family !== last.value.family) {
    return { ok: false, error: `"${s}" mixes ${first.value.family} and ${last.value.family}` };
  }
  if (first.value.value > last.value.value) {
    return { ok: false, error: `"${s}" starts after it ends` };
  }
  return {
    ok: true,
    value: { family: first.value.family, first: first.value.value, last: last.value.value },
  };
}

// --- avoidBuggyIPs ---------------------------------------------------------
// Some clients and middleboxes mishandle IPv4 addresses ending in .0 or .255,
// so a pool may skip them. The helpers below answer in O(1), never by walking.

export function isBuggy(family: Family, value: bigint): boolean {
  if (family !== "IPv4") return false;
  const low = value & 255n;
  return low === 0n || low === 255n;
}

/** Lowest value >= v that is usable, or v itself when nothing is avoided. */
export function nextUsable(family: Family, value: bigint, avoidBuggy: boolean): bigint {
  if (!avoidBuggy || !isBuggy(family, value)) return value;
  return (value & 255n) === 0n ? value + 1n : value + 2n;
}

/** Highest value <= v that is usable. */
export function previousUsable(family: Family, value: bigint, avoidBuggy: boolean): bigint {
  if (!avoidBuggy || !isBuggy(family, value)) return value;
  return (value & 255n) === 255n ? value - 1n : value - 2n;
}

/** Number of usable values in [first, last]. */
export function usableCount(r: AddressRange, avoidBuggy: boolean): bigint {
  if (!avoidBuggy || r.family !== "IPv4") return rangeSize(r);
  return rangeSize(r) - countLowByte(r.first, r.last, 0n) - countLowByte(r.first, r.last, 255n);
}

/** How many values in [first, last] have low byte b. */
function countLowByte(first: bigint, last: bigint, b: bigint): bigint {
  const upTo = (x: bigint) => (x < b ? 0n : (x - b) / 256n + 1n);
  return upTo(last) - (first === 0n ? 0n : upTo(first - 1n));
}

// IP addresses as the rest of Herald sees them: a family and a bigint, with one
// canonical text form (dotted quad, RFC 5952 compressed IPv6) used as map key,
// in Service status and in logs. Warm start parses every address in every
// Service's status, so parsing is on the hot path: node:net validates, ip-num
// compresses IPv6 text.
import { isIPv4, isIPv6 } from "node:net";
import { collapseIPv6Number } from "ip-num";

export type Family = "IPv4" | "IPv6";

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

export const FAMILY_BITS: Record<Family, number> = { IPv4: 32, IPv6: 128 };

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const IPV6_SHAPE = /^[0-9a-fA-F:.]+$/;

/**
 * Parses one address; rejects zones, leading zeros and IPv4-mapped IPv6.
 * Validation is node:net's (the same grammar the runtime uses for sockets);
 * the value is then read off the already-valid text.
 */
export function parseAddress(text: string): ParseResult<Address> {
  const s = text.trim();
  if (s === "") return { ok: false, error: "empty address" };
  if (s.includes(":")) {
    if (!IPV6_SHAPE.test(s)) return { ok: false, error: `"${s}" is not an IP address` };
    if (!isIPv6(s)) return { ok: false, error: `"${s}" is not a valid IPv6 address` };
    const value = ipv6Value(s);
    if (value >> 32n === 0xffffn) {
      return { ok: false, error: `"${s}" is an IPv4-mapped IPv6 address; write the IPv4 address instead` };
    }
    return { ok: true, value: { family: "IPv6", value } };
  }
  if (!/^[0-9.]+$/.test(s)) return { ok: false, error: `"${s}" is not an IP address` };
  const octets = s.split(".");
  if (octets.length !== 4) return { ok: false, error: `"${s}" is not an IP address: IPv4 has four octets` };
  if (octets.some((o) => o.length > 1 && o.startsWith("0"))) {
    return { ok: false, error: `"${s}" has a leading zero in an octet, which is ambiguous` };
  }
  if (!isIPv4(s)) return { ok: false, error: `"${s}" is not a valid IPv4 address` };
  const [a, b, c, d] = octets.map(Number) as [number, number, number, number];
  return { ok: true, value: { family: "IPv4", value: BigInt(((a << 24) | (b << 16) | (c << 8) | d) >>> 0) } };
}

/** The value of text that isIPv6 accepted (embedded IPv4 tail included). */
function ipv6Value(s: string): bigint {
  let text = s;
  const lastColon = text.lastIndexOf(":");
  if (text.indexOf(".", lastColon) >= 0) {
    const v4 = text
      .slice(lastColon + 1)
      .split(".")
      .map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(Number.parseInt(g, 16));
  return value;
}

export function formatAddress(a: Address): string {
  return formatValue(a.family, a.value);
}

export function formatValue(family: Family, value: bigint): string {
  if (family === "IPv4") {
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return collapseIPv6Number(groups.join(":"));
}

/** The canonical text of an address given as text, or undefined when it is not one. */
export function canonicalAddress(text: string): string | undefined {
  const parsed = parseAddress(text);
  return parsed.ok ? formatAddress(parsed.value) : undefined;
}

export function familyOf(text: string): Family | undefined {
  const parsed = parseAddress(text);
  return parsed.ok ? parsed.value.family : undefined;
}

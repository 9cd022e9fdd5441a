// IP addresses as the rest of Herald sees them: a family and a bigint, with one
// canonical text form (dotted quad, RFC 5952 compressed IPv6) used as map key,
// in Service status and in logs. Parsing leans on ip-num; the hot paths
// (formatting, comparisons) work on the bigint.
import { collapseIPv6Number, IPv4, IPv6, Validator } from "ip-num";

export type Family = "IPv4" | "IPv6";

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

export const FAMILY_BITS: Record<Family, number> = { IPv4: 32, IPv6: 128 };

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const IPV4_SHAPE = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6_SHAPE = /^[0-9a-fA-F:.]+$/;

/** Parses one address; rejects zones, leading zeros and IPv4-mapped IPv6. */
export function parseAddress(text: string): ParseResult<Address> {
  const s = text.trim();
  if (s === "") return { ok: false, error: "empty address" };
  if (s.includes(":")) {
    if (!IPV6_SHAPE.test(s)) return { ok: false, error: `"${s}" is not an IP address` };
    const [valid] = Validator.isValidIPv6String(s);
    if (!valid) return { ok: false, error: `"${s}" is not a valid IPv6 address` };
    const value = IPv6.fromString(s).getValue();
    if (value >> 32n === 0xffffn) {
      return { ok: false, error: `"${s}" is an IPv4-mapped IPv6 address; write the IPv4 address instead` };
    }
    return { ok: true, value: { family: "IPv6", value } };
  }
  if (!IPV4_SHAPE.test(s)) return { ok: false, error: `"${s}" is not an IP address` };
  if (s.split(".").some((octet) => octet.length > 1 && octet.startsWith("0"))) {
    return { ok: false, error: `"${s}" has a leading zero in an octet, which is ambiguous` };
  }
  const [valid] = Validator.isValidIPv4String(s);
  if (!valid) return { ok: false, error: `"${s}" is not a valid IPv4 address` };
  return { ok: true, value: { family: "IPv4", value: IPv4.fromString(s).getValue() } };
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

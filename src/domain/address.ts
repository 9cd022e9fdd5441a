// IP addresses as the rest of Herald sees them: a family and a bigint, with one
// canonical text form (dotted quad, RFC 5952 compressed IPv6) used as map key,
// in Service status, in packets' decoded form, in audit rows and in logs. Every
// component parses address text here, so each gives the same answer for the
// same text. Warm start parses every address in every Service's status and every
// audit event checks its addresses, so parsing is on the hot path: the plain
// spellings are scanned in one pass, anything else is judged by node:net's grammar
// (the one the runtime uses for sockets).
//
// Refused everywhere, with a message saying why:
// - zones (fe80::1%eth0): a zone names a link of one host; a Service's address,
//   a pool entry or an audit query is not link-scoped, and the same text would
//   mean different things on different nodes.
// - IPv4-mapped IPv6 (::ffff:192.0.2.1): a second spelling of an IPv4 address that
//   never appears on a wire (IANA: not forwardable). Accepted, it would be an NDP
//   target nobody asks for, or a second name for one IPv4 address that slips past
//   duplicate, sharing and pool checks. The message names the IPv4 form.
// - leading zeros in IPv4 octets (192.0.02.1): octal to some parsers, decimal to others.

import { isIPv4, isIPv6 } from "node:net";
import { collapseIPv6Number } from "ip-num";

export type Family = "IPv4" | "IPv6";

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

export const FAMILY_BITS: Record<Family, number> = { IPv4: 32, IPv6: 128 };
export const FAMILY_BYTES: Record<Family, number> = { IPv4: 4, IPv6: 16 };

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const IPV6_SHAPE = /^[0-9a-fA-F:.]+$/;

/** Parses one address; refuses zones, leading zeros and IPv4-mapped IPv6 (see above). */
export function parseAddress(text: string): ParseResult<Address> {
  const p = parseText(text);
  if (!p.ok) return p;
  const { family, octets, groups } = p.value;
  if (family === "IPv4") {
    const [a, b, c, d] = octets as [number, number, number, number];
    return { ok: true, value: { family, value: BigInt(((a << 24) | (b << 16) | (c << 8) | d) >>> 0) } };
  }
  let hex = "0x";
  for (const g of groups) hex += g.toString(16).padStart(4, "0");
  return { ok: true, value: { family, value: BigInt(hex) } };
}

/**
 * The canonical text of an address given as text, or why it is not one. The same answer as
 * parseAddress then formatAddress, without the detour through a bigint: audit events and
 * queries take this path for every address.
 */
export function parseCanonical(text: string): ParseResult<string> {
  const p = parseText(text);
  if (!p.ok) return p;
  return { ok: true, value: p.value.family === "IPv4" ? p.value.text : formatGroups(p.value.groups) };
}

interface ParsedText {
  family: Family;
  /** The trimmed text; for IPv4 already canonical. */
  text: string;
  octets: readonly number[];
  groups: readonly number[];
}

function parseText(text: string): ParseResult<ParsedText> {
  const s = text.trim();
  if (s === "") return { ok: false, error: "empty address" };
  if (s.includes(":")) {
    const zone = s.indexOf("%");
    if (zone >= 0 && isIPv6(s.slice(0, zone))) {
      return {
        ok: false,
        error: `"${s}" has a zone (${s.slice(zone)}); zones name one host's link and are not accepted: give the address alone`,
      };
    }
    let groups = plainIpv6Groups(s);
    if (groups === undefined) {
      if (!IPV6_SHAPE.test(s)) return { ok: false, error: `"${s}" is not an IP address` };
      if (!isIPv6(s)) return { ok: false, error: `"${s}" is not a valid IPv6 address` };
      groups = ipv6Groups(s);
    }
    if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
      const v4 = `${(groups[6] ?? 0) >> 8}.${(groups[6] ?? 0) & 255}.${(groups[7] ?? 0) >> 8}.${(groups[7] ?? 0) & 255}`;
      return {
        ok: false,
        error: `"${s}" is an IPv4-mapped IPv6 address; write the IPv4 address ${v4} instead`,
      };
    }
    return { ok: true, value: { family: "IPv6", text: s, octets: [], groups } };
  }
  const octets = plainIpv4Octets(s);
  if (octets !== undefined) return { ok: true, value: { family: "IPv4", text: s, octets, groups: [] } };
  if (!/^[0-9.]+$/.test(s)) return { ok: false, error: `"${s}" is not an IP address` };
  const parts = s.split(".");
  if (parts.length !== 4) return { ok: false, error: `"${s}" is not an IP address: IPv4 has four octets` };
  if (parts.some((o) => o.length > 1 && o.startsWith("0"))) {
    return { ok: false, error: `"${s}" has a leading zero in an octet, which is ambiguous` };
  }
  if (!isIPv4(s)) return { ok: false, error: `"${s}" is not a valid IPv4 address` };
  return { ok: true, value: { family: "IPv4", text: s, octets: parts.map(Number), groups: [] } };
}

/** The octets of dotted-quad text without leading zeros, in one pass; undefined for anything else. */
function plainIpv4Octets(s: string): number[] | undefined {
  const octets: number[] = [];
  let value = 0;
  let digits = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || octets.length === 3) return undefined;
      octets.push(value);
      value = 0;
      digits = 0;
      continue;
    }
    if (c < 48 || c > 57) return undefined;
    if (digits === 1 && value === 0) return undefined; // a leading zero
    value = value * 10 + (c - 48);
    if (++digits > 3 || value > 255) return undefined;
  }
  if (digits === 0 || octets.length !== 3) return undefined;
  octets.push(value);
  return octets;
}

/**
 * The groups of IPv6 text in the plain spelling (hex groups of 1 to 4 digits, at most one
 * "::", no IPv4 tail), in one pass; undefined for anything else, which the general path
 * (node:net's grammar) then judges. Audit events carry mostly distinct IPv6 addresses, so
 * this is what keeps their check cheap.
 */
function plainIpv6Groups(s: string): number[] | undefined {
  const head: number[] = [];
  const tail: number[] = [];
  let groups = head;
  let value = 0;
  let digits = 0;
  let gap = false;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 58 /* : */) {
      if (s.charCodeAt(i + 1) === 58) {
        // "::": once, at the start or right after a group, never ":::"
        if (gap || (digits === 0 && i > 0)) return undefined;
        if (digits > 0) groups.push(value);
        value = 0;
        digits = 0;
        gap = true;
        groups = tail;
        i++;
        if (s.charCodeAt(i + 1) === 58) return undefined;
        continue;
      }
      // a single colon ends a group and is followed by one
      if (digits === 0 || i === n - 1) return undefined;
      groups.push(value);
      value = 0;
      digits = 0;
      continue;
    }
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else return undefined;
    if (++digits > 4) return undefined;
    value = (value << 4) | d;
  }
  if (digits > 0) groups.push(value);
  const count = head.length + tail.length;
  if (gap ? count > 7 : count !== 8) return undefined;
  return gap ? [...head, ...new Array<number>(8 - count).fill(0), ...tail] : head;
}

/** The eight groups of text that isIPv6 accepted (embedded IPv4 tail included). */
function ipv6Groups(s: string): number[] {
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
  return groups.map((g) => Number.parseInt(g, 16));
}

export function formatAddress(a: Address): string {
  return formatValue(a.family, a.value);
}

export function formatValue(family: Family, value: bigint): string {
  if (family === "IPv4") {
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  return formatGroups(groups);
}

/** RFC 5952 text of eight groups (ip-num compresses the longest run of zero groups). */
function formatGroups(groups: readonly number[]): string {
  return collapseIPv6Number(groups.map((g) => g.toString(16)).join(":"));
}

/** The canonical text of an address given as text, or undefined when it is not one. */
export function canonicalAddress(text: string): string | undefined {
  const parsed = parseCanonical(text);
  return parsed.ok ? parsed.value : undefined;
}

export function familyOf(text: string): Family | undefined {
  const parsed = parseText(text);
  return parsed.ok ? parsed.value.family : undefined;
}

// --- byte forms (packets) --------------------------------------------------

/** The address in network byte order (4 or 16 bytes). */
export function addressBytes(a: Address): Uint8Array {
  const n = FAMILY_BYTES[a.family];
  const out = new Uint8Array(n);
  let v = a.value;
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 255n);
    v >>= 8n;
  }
  return out;
}

/**
 * Canonical text of the address stored at bytes[offset..] in network byte order. Packets
 * carry any value (mapped ones too): this formats, it does not judge.
 */
export function formatBytes(family: Family, bytes: Uint8Array, offset = 0): string {
  if (family === "IPv4") {
    return `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 8; i++)
    groups.push(((bytes[offset + 2 * i] ?? 0) << 8) | (bytes[offset + 2 * i + 1] ?? 0));
  return formatGroups(groups);
}

// --- CIDRs -----------------------------------------------------------------

export interface Cidr {
  readonly family: Family;
  /** The network address (host bits clear). */
  readonly value: bigint;
  readonly prefix: number;
}

/**
 * Parses ADDRESS/PREFIX. Host bits set are an error that names the network meant, unless
 * `hostBits: "clear"` (for fields where Kubernetes accepts them, such as source ranges).
 */
export function parseCidr(text: string, options: { hostBits?: "refuse" | "clear" } = {}): ParseResult<Cidr> {
  const s = text.trim();
  const parts = s.split("/");
  if (parts.length !== 2) {
    return { ok: false, error: parts.length > 2 ? `"${s}" has more than one "/"` : `"${s}" is not a CIDR` };
  }
  const [addressText = "", prefixText = ""] = parts;
  const address = parseAddress(addressText);
  if (!address.ok) return { ok: false, error: `in "${s}": ${address.error}` };
  const { family, value } = address.value;
  const bits = FAMILY_BITS[family];
  if (!/^\d{1,3}$/.test(prefixText.trim()) || Number(prefixText) > bits) {
    return { ok: false, error: `"${s}" has prefix length "${prefixText}"; ${family} takes 0 to ${bits}` };
  }
  const prefix = Number(prefixText);
  const hostBits = BigInt(bits - prefix);
  const network = (value >> hostBits) << hostBits;
  if (network !== value && options.hostBits !== "clear") {
    return {
      ok: false,
      error: `"${s}" has host bits set; did you mean ${formatValue(family, network)}/${prefix}?`,
    };
  }
  return { ok: true, value: { family, value: network, prefix } };
}

export function formatCidr(c: Cidr): string {
  return `${formatValue(c.family, c.value)}/${c.prefix}`;
}

/** The last address a CIDR covers. */
export function cidrLast(c: Cidr): bigint {
  return c.value + (1n << BigInt(FAMILY_BITS[c.family] - c.prefix)) - 1n;
}

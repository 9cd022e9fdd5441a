// Byte forms of the addresses the L2 codecs carry, through the one address module. Decoded packets use canonical text (MACs as
// "aa:bb:cc:dd:ee:ff", IPv4 dotted, IPv6 as RFC 5952) so they can be compared and used as map keys.
import { addressBytes, type Family, formatBytes, parseAddress } from "../../domain/address.js";

export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff";
export const ZERO_MAC = "00:00:00:00:00:00";

export function macToString(bytes: Uint8Array, offset = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push((bytes[offset + i] ?? 0).toString(16).padStart(2, "0"));
  return parts.join(":");
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with dashes); undefined when malformed. */
export function macToBytes(mac: string): Uint8Array | undefined {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
}

/** Group bit set: broadcast or multicast, never a valid sender. */
export function isMulticastMac(bytes: Uint8Array, offset = 0): boolean {
  return ((bytes[offset] ?? 0) & 1) === 1;
}

export function ipv4ToString(bytes: Uint8Array, offset = 0): string {
  return formatBytes("IPv4", bytes, offset);
}

/** The bytes of an IPv4 address; undefined for anything the one address parser refuses. */
export function ipv4ToBytes(ip: string): Uint8Array | undefined {
  return bytesOf(ip, "IPv4");
}

/** RFC 5952 text (the one formatter's). */
export function ipv6ToString(bytes: Uint8Array, offset = 0): string {
  return formatBytes("IPv6", bytes, offset);
}

/** The bytes of an IPv6 address; undefined for anything the one address parser refuses (zones, mapped). */
export function ipv6ToBytes(ip: string): Uint8Array | undefined {
  return bytesOf(ip, "IPv6");
}

function bytesOf(ip: string, family: Family): Uint8Array | undefined {
  const p = parseAddress(ip);
  return p.ok && p.value.family === family ? addressBytes(p.value) : undefined;
}

export function sameBytes(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, length: number) {
  for (let i = 0; i < length; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

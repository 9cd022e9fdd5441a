// Ethernet II header, shared by the ARP and NDP codecs.
import { codedError } from "../../errors.js";
import { macToBytes } from "./link-address.js";

export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERNET_HEADER = 14;
/** Shortest frame on the wire without the FCS; shorter frames are padded with zeros. */
export const MIN_FRAME = 60;

export class CodecError extends codedError("HERALD_L2_ENCODE") {}

/** For encoders: a malformed address in a packet we build is a programming error, not input. */
export function requireBytes(bytes: Uint8Array | undefined, what: string, text: string): Uint8Array {
  if (!bytes) throw new CodecError(`${what}: malformed address "${text}"`);
  return bytes;
}

export function writeEthernet(frame: Uint8Array, destination: string, source: string, etherType: number) {
  frame.set(requireBytes(macToBytes(destination), "ethernet destination", destination), 0);
  frame.set(requireBytes(macToBytes(source), "ethernet source", source), 6);
  frame[12] = etherType >> 8;
  frame[13] = etherType & 0xff;
}

export function etherTypeOf(frame: Uint8Array): number | undefined {
  if (frame.length < ETHERNET_HEADER) return undefined;
  return ((frame[12] ?? 0) << 8) | (frame[13] ?? 0);
}

export type Decoded<T, R extends string> = { ok: true; value: T } | { ok: false; reason: R };

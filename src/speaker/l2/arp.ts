// ARP over Ethernet for IPv4 (RFC 826), plus the RFC 5227 probe and announcement forms.
// decodeArp never throws: a frame that is not a well-formed Ethernet/IPv4 ARP packet comes back
// with the reason it was rejected, which the responder counts.
import {
  type Decoded,
  ETHERNET_HEADER,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  etherTypeOf,
  MIN_FRAME,
  requireBytes,
  writeEthernet,
} from "./ethernet.js";
import {
  BROADCAST_MAC,
  ipv4ToBytes,
  ipv4ToString,
  isMulticastMac,
  macToBytes,
  macToString,
  ZERO_MAC,
} from "./link-address.js";

export type ArpOperation = "request" | "reply";

export interface ArpPacket {
  ethernetDestination: string;
  ethernetSource: string;
  operation: ArpOperation;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export type ArpDropReason =
  | "truncated"
  | "notArp"
  | "badHardwareType"
  | "badProtocolType"
  | "badAddressLengths"
  | "badOperation"
  | "badSenderMac";

const ARP_LENGTH = 28;

export function decodeArp(frame: Uint8Array): Decoded<ArpPacket, ArpDropReason> {
  const type = etherTypeOf(frame);
  if (type === undefined) return { ok: false, reason: "truncated" };
  if (type !== ETHERTYPE_ARP) return { ok: false, reason: "notArp" };
  if (frame.length < ETHERNET_HEADER + ARP_LENGTH) return { ok: false, reason: "truncated" };
  const a = ETHERNET_HEADER;
  const u16 = (o: number) => ((frame[a + o] ?? 0) << 8) | (frame[a + o + 1] ?? 0);
  if (u16(0) !== 1) return { ok: false, reason: "badHardwareType" };
  if (u16(2) !== ETHERTYPE_IPV4) return { ok: false, reason: "badProtocolType" };
  if (frame[a + 4] !== 6 || frame[a + 5] !== 4) return { ok: false, reason: "badAddressLengths" };
  const op = u16(6);
  if (op !== 1 && op !== 2) return { ok: false, reason: "badOperation" };
  // A group address as sender (in the frame or in ARP) is never a host: caching it would
  // turn unicast into flooding (a known poisoning trick).
  if (isMulticastMac(frame, 6) || isMulticastMac(frame, a + 8)) return { ok: false, reason: "badSenderMac" };
  return {
    ok: true,
    value: {
      ethernetDestination: macToString(frame, 0),
      ethernetSource: macToString(frame, 6),
      operation: op === 1 ? "request" : "reply",
      senderMac: macToString(frame, a + 8),
      senderIp: ipv4ToString(frame, a + 14),
      targetMac: macToString(frame, a + 18),
      targetIp: ipv4ToString(frame, a + 24),
    },
  };
}

/** A 60-byte frame (padded to the Ethernet minimum). Throws CodecError on malformed addresses. */
export function encodeArp(p: ArpPacket): Uint8Array {
  const frame = new Uint8Array(MIN_FRAME);
  writeEthernet(frame, p.ethernetDestination, p.ethernetSource, ETHERTYPE_ARP);
  const a = ETHERNET_HEADER;
  frame.set(
    [0, 1, ETHERTYPE_IPV4 >> 8, ETHERTYPE_IPV4 & 0xff, 6, 4, 0, p.operation === "request" ? 1 : 2],
    a,
  );
  frame.set(requireBytes(macToBytes(p.senderMac), "sender mac", p.senderMac), a + 8);
  frame.set(requireBytes(ipv4ToBytes(p.senderIp), "sender ip", p.senderIp), a + 14);
  frame.set(requireBytes(macToBytes(p.targetMac), "target mac", p.targetMac), a + 18);
  frame.set(requireBytes(ipv4ToBytes(p.targetIp), "target ip", p.targetIp), a + 24);
  return frame;
}

/** The reply to `request` saying `mac` has `request.targetIp`, unicast back to the asker. */
export function arpReplyTo(request: ArpPacket, mac: string): ArpPacket {
  return {
    ethernetDestination: request.senderMac,
    ethernetSource: mac,
    operation: "reply",
    senderMac: mac,
    senderIp: request.targetIp,
    targetMac: request.senderMac,
    targetIp: request.senderIp,
  };
}

/** Gratuitous ARP (RFC 5227 "ARP announcement"): a broadcast request with sender = target = ip. */
export function arpAnnouncement(mac: string, ip: string): ArpPacket {
  return {
    ethernetDestination: BROADCAST_MAC,
    ethernetSource: mac,
    operation: "request",
    senderMac: mac,
    senderIp: ip,
    targetMac: ZERO_MAC,
    targetIp: ip,
  };
}

/** RFC 5227 probe: asks who has `ip` without claiming it (sender IP 0.0.0.0). */
export function arpProbe(mac: string, ip: string): ArpPacket {
  return { ...arpAnnouncement(mac, ip), senderIp: "0.0.0.0" };
}

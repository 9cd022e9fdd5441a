// IPv6 neighbour discovery over Ethernet (RFC 4861): neighbour solicitations and advertisements
// with their link-layer address options. decodeNdp applies the RFC 4861 validity checks (7.1.1,
// 7.1.2) and never throws: anything else comes back with the reason it was rejected.
import {
  type Decoded,
  ETHERNET_HEADER,
  ETHERTYPE_IPV6,
  etherTypeOf,
  requireBytes,
  writeEthernet,
} from "./ethernet.js";
import { ipv6ToBytes, ipv6ToString, isMulticastMac, macToBytes, macToString } from "./link-address.js";

const IPV6_HEADER = 40;
const ICMPV6 = 58;
const NS = 135;
const NA = 136;
const OPTION_SOURCE_LINK = 1;
const OPTION_TARGET_LINK = 2;
const NEIGHBOR_BODY = 24; // type, code, checksum, flags/reserved, target
export const ALL_NODES = "ff02::1";

interface NdpCommon {
  ethernetDestination: string;
  ethernetSource: string;
  ipSource: string;
  ipDestination: string;
  target: string;
}

export interface NeighborSolicitation extends NdpCommon {
  kind: "solicitation";
  sourceLinkAddress?: string;
}

export interface NeighborAdvertisement extends NdpCommon {
  kind: "advertisement";
  router: boolean;
  solicited: boolean;
  override: boolean;
  targetLinkAddress?: string;
}

export type NdpPacket = NeighborSolicitation | NeighborAdvertisement;

export type NdpDropReason =
  | "truncated"
  | "notIpv6"
  | "badIpVersion"
  | "notIcmpv6"
  | "notNeighborDiscovery"
  | "badHopLimit"
  | "badLength"
  | "badCode"
  | "badChecksum"
  | "badOption"
  | "multicastTarget"
  | "badDadSolicitation"
  | "badSolicitedFlag"
  | "badSenderMac";

/** Internet checksum of the ICMPv6 message with the IPv6 pseudo-header (RFC 8200 8.1). */
export function icmpv6Checksum(source: Uint8Array, destination: Uint8Array, message: Uint8Array): number {
  let sum = 0;
  const add = (bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  };
  add(source);
  add(destination);
  sum += (message.length >>> 16) + (message.length & 0xffff) + ICMPV6;
  add(message);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** ff02::1:ffXX:XXXX, the group a node joins to hear solicitations for `ip`. */
export function solicitedNodeAddress(ip: Uint8Array): Uint8Array {
  const out = ipv6ToBytes("ff02::1:ff00:0") as Uint8Array;
  out.set(ip.subarray(13, 16), 13);
  return out;
}

/** 33:33 + the low 32 bits: the Ethernet address of an IPv6 multicast group (RFC 2464). */
export function multicastMac(group: Uint8Array): string {
  return macToString(Uint8Array.from([0x33, 0x33, ...group.subarray(12, 16)]));
}

function isSolicitedNode(ip: Uint8Array): boolean {
  const prefix = ipv6ToBytes("ff02::1:ff00:0") as Uint8Array;
  for (let i = 0; i < 13; i++) if (ip[i] !== prefix[i]) return false;
  return true;
}

export function decodeNdp(frame: Uint8Array): Decoded<NdpPacket, NdpDropReason> {
  const type = etherTypeOf(frame);
  if (type === undefined) return { ok: false, reason: "truncated" };
  if (type !== ETHERTYPE_IPV6) return { ok: false, reason: "notIpv6" };
  const ip = ETHERNET_HEADER;
  if (frame.length < ip + IPV6_HEADER) return { ok: false, reason: "truncated" };
  if ((frame[ip] ?? 0) >> 4 !== 6) return { ok: false, reason: "badIpVersion" };
  if (frame[ip + 6] !== ICMPV6) return { ok: false, reason: "notIcmpv6" };
  const payloadLength = ((frame[ip + 4] ?? 0) << 8) | (frame[ip + 5] ?? 0);
  const icmp = ip + IPV6_HEADER;
  // Bytes past the payload are Ethernet padding; fewer bytes than announced is a cut frame.
  if (icmp + payloadLength > frame.length) return { ok: false, reason: "truncated" };
  if (payloadLength < 1) return { ok: false, reason: "badLength" };
  const icmpType = frame[icmp];
  if (icmpType !== NS && icmpType !== NA) return { ok: false, reason: "notNeighborDiscovery" };
  // 255 proves the sender is on this link: a router would have decremented it.
  if (frame[ip + 7] !== 255) return { ok: false, reason: "badHopLimit" };
  if (payloadLength < NEIGHBOR_BODY) return { ok: false, reason: "badLength" };
  if (frame[icmp + 1] !== 0) return { ok: false, reason: "badCode" };
  const source = frame.subarray(ip + 8, ip + 24);
  const destination = frame.subarray(ip + 24, ip + 40);
  const message = frame.subarray(icmp, icmp + payloadLength);
  if (icmpv6Checksum(source, destination, message) !== 0) return { ok: false, reason: "badChecksum" };
  if (frame[icmp + 8] === 0xff) return { ok: false, reason: "multicastTarget" };
  if (isMulticastMac(frame, 6)) return { ok: false, reason: "badSenderMac" };

  let linkAddress: string | undefined;
  const wanted = icmpType === NS ? OPTION_SOURCE_LINK : OPTION_TARGET_LINK;
  for (let o = icmp + NEIGHBOR_BODY; o < icmp + payloadLength; ) {
    const optionLength = (frame[o + 1] ?? 0) * 8;
    // Zero length would loop forever; RFC 4861 says drop the whole packet.
    if (o + 2 > icmp + payloadLength || optionLength === 0 || o + optionLength > icmp + payloadLength) {
      return { ok: false, reason: "badOption" };
    }
    if (frame[o] === wanted) {
      if (optionLength !== 8 || isMulticastMac(frame, o + 2)) return { ok: false, reason: "badOption" };
      linkAddress = macToString(frame, o + 2);
    }
    o += optionLength;
  }

  const common: NdpCommon = {
    ethernetDestination: macToString(frame, 0),
    ethernetSource: macToString(frame, 6),
    ipSource: ipv6ToString(source),
    ipDestination: ipv6ToString(destination),
    target: ipv6ToString(frame, icmp + 8),
  };
  if (icmpType === NS) {
    // Duplicate address detection: from ::, only to a solicited-node group, and no link address.
    if (common.ipSource === "::" && (!isSolicitedNode(destination) || linkAddress !== undefined)) {
      return { ok: false, reason: "badDadSolicitation" };
    }
    const ns: NeighborSolicitation = { kind: "solicitation", ...common };
    if (linkAddress !== undefined) ns.sourceLinkAddress = linkAddress;
    return { ok: true, value: ns };
  }
  const flags = frame[icmp + 4] ?? 0;
  const solicited = (flags & 0x40) !== 0;
  if (solicited && destination[0] === 0xff) return { ok: false, reason: "badSolicitedFlag" };
  const na: NeighborAdvertisement = {
    kind: "advertisement",
    ...common,
    router: (flags & 0x80) !== 0,
    solicited,
    override: (flags & 0x20) !== 0,
  };
  if (linkAddress !== undefined) na.targetLinkAddress = linkAddress;
  return { ok: true, value: na };
}

/** The whole frame, hop limit 255, checksum filled in. Throws CodecError on malformed addresses. */
export function encodeNdp(p: NdpPacket): Uint8Array {
  const link = p.kind === "solicitation" ? p.sourceLinkAddress : p.targetLinkAddress;
  const payloadLength = NEIGHBOR_BODY + (link === undefined ? 0 : 8);
  const frame = new Uint8Array(ETHERNET_HEADER + IPV6_HEADER + payloadLength);
  writeEthernet(frame, p.ethernetDestination, p.ethernetSource, ETHERTYPE_IPV6);
  const ip = ETHERNET_HEADER;
  const source = requireBytes(ipv6ToBytes(p.ipSource), "ipv6 source", p.ipSource);
  const destination = requireBytes(ipv6ToBytes(p.ipDestination), "ipv6 destination", p.ipDestination);
  frame.set([0x60, 0, 0, 0, payloadLength >> 8, payloadLength & 0xff, ICMPV6, 255], ip);
  frame.set(source, ip + 8);
  frame.set(destination, ip + 24);
  const icmp = ip + IPV6_HEADER;
  frame[icmp] = p.kind === "solicitation" ? NS : NA;
  if (p.kind === "advertisement") {
    frame[icmp + 4] = (p.router ? 0x80 : 0) | (p.solicited ? 0x40 : 0) | (p.override ? 0x20 : 0);
  }
  frame.set(requireBytes(ipv6ToBytes(p.target), "target", p.target), icmp + 8);
  if (link !== undefined) {
    frame[icmp + 24] = p.kind === "solicitation" ? OPTION_SOURCE_LINK : OPTION_TARGET_LINK;
    frame[icmp + 25] = 1;
    frame.set(requireBytes(macToBytes(link), "link-layer option", link), icmp + 26);
  }
  const sum = icmpv6Checksum(source, destination, frame.subarray(icmp));
  frame[icmp + 2] = sum >> 8;
  frame[icmp + 3] = sum & 0xff;
  return frame;
}

/**
 * The answer to `ns` saying `mac` has `ns.target`, sent from the target address itself. A DAD
 * probe (from ::) is answered to all nodes, unsolicited (RFC 4861 7.2.4).
 */
export function advertisementFor(ns: NeighborSolicitation, mac: string): NeighborAdvertisement {
  const dad = ns.ipSource === "::";
  const replyMac = ns.sourceLinkAddress ?? ns.ethernetSource;
  return {
    kind: "advertisement",
    ethernetDestination: dad ? multicastMac(ipv6ToBytes(ALL_NODES) as Uint8Array) : replyMac,
    ethernetSource: mac,
    ipSource: ns.target,
    ipDestination: dad ? ALL_NODES : ns.ipSource,
    target: ns.target,
    router: false,
    solicited: !dad,
    override: true,
    targetLinkAddress: mac,
  };
}

/** Unsolicited NA with Override: tells every neighbour that `ip` now lives at `mac`. */
export function unsolicitedAdvertisement(mac: string, ip: string): NeighborAdvertisement {
  return {
    kind: "advertisement",
    ethernetDestination: multicastMac(ipv6ToBytes(ALL_NODES) as Uint8Array),
    ethernetSource: mac,
    ipSource: ip,
    ipDestination: ALL_NODES,
    target: ip,
    router: false,
    solicited: false,
    override: true,
    targetLinkAddress: mac,
  };
}

/** Duplicate address detection probe (RFC 4862 5.4): who else holds `ip`? */
export function dadProbe(mac: string, ip: string): NeighborSolicitation {
  const group = solicitedNodeAddress(requireBytes(ipv6ToBytes(ip), "dad target", ip));
  return {
    kind: "solicitation",
    ethernetDestination: multicastMac(group),
    ethernetSource: mac,
    ipSource: "::",
    ipDestination: ipv6ToString(group),
    target: ip,
  };
}

// The frames of the soak's passive ARP/NDP referee: what one received frame says about who holds
// an address (a sighting), and the who-has / neighbour solicitation frames that make the holders
// answer. Pure: wire-watch.ts does the socket and the clock.
import { decodeArp, encodeArp } from "../../src/speaker/l2/arp.js";
import { ETHERTYPE_ARP, etherTypeOf } from "../../src/speaker/l2/ethernet.js";
import { BROADCAST_MAC, ipv6ToBytes, ipv6ToString, ZERO_MAC } from "../../src/speaker/l2/link-address.js";
import { decodeNdp, encodeNdp, multicastMac, solicitedNodeAddress } from "../../src/speaker/l2/ndp.js";
import type { WireSighting } from "./model.js";
import type { WatchAddress } from "./probe-input.js";

export type Sighting = Omit<WireSighting, "t">;

/**
 * What `frame` says, if it says who holds an address: an ARP reply, a gratuitous ARP (sender IP
 * = target IP, request or reply) or a neighbour advertisement. Anything else, anything malformed
 * (the codecs refuse it) and anything sent from `ownMac` is undefined.
 */
export function sightingOf(frame: Uint8Array, ownMac: string): Sighting | undefined {
  if (etherTypeOf(frame) === ETHERTYPE_ARP) {
    const d = decodeArp(frame);
    if (!d.ok || d.value.ethernetSource === ownMac || d.value.senderMac === ownMac) return undefined;
    const p = d.value;
    // An RFC 5227 probe (sender 0.0.0.0) claims nothing.
    if (p.senderIp === "0.0.0.0") return undefined;
    if (p.senderIp === p.targetIp) return { address: p.senderIp, mac: p.senderMac, kind: "arp-gratuitous" };
    if (p.operation === "reply") return { address: p.senderIp, mac: p.senderMac, kind: "arp-reply" };
    return undefined;
  }
  const d = decodeNdp(frame);
  if (!d.ok || d.value.kind !== "advertisement" || d.value.ethernetSource === ownMac) return undefined;
  const na = d.value;
  const mac = na.targetLinkAddress ?? na.ethernetSource;
  if (mac === ownMac) return undefined;
  return { address: na.target, mac, kind: na.solicited ? "na-solicited" : "na-unsolicited" };
}

/**
 * One frame per address: a broadcast who-has from `sourceV4` for IPv4, a neighbour solicitation
 * to the solicited-node group from `sourceV6` (with our link-layer address) for IPv6.
 */
export function queryFrames(
  addresses: readonly WatchAddress[],
  mac: string,
  sourceV4: string,
  sourceV6: string,
): Uint8Array[] {
  return addresses.map(({ address, family }) => {
    if (family === "IPv4") {
      return encodeArp({
        ethernetDestination: BROADCAST_MAC,
        ethernetSource: mac,
        operation: "request",
        senderMac: mac,
        senderIp: sourceV4,
        targetMac: ZERO_MAC,
        targetIp: address,
      });
    }
    const group = solicitedNodeAddress(ipv6ToBytes(address) as Uint8Array);
    return encodeNdp({
      kind: "solicitation",
      ethernetDestination: multicastMac(group),
      ethernetSource: mac,
      ipSource: sourceV6,
      ipDestination: ipv6ToString(group),
      target: address,
      sourceLinkAddress: mac,
    });
  });
}

// Packets the codec and responder tests share: a client asking for a speaker's address.
import type { ArpPacket } from "../../../src/speaker/l2/arp.js";
import type { NeighborSolicitation } from "../../../src/speaker/l2/ndp.js";

export const client = "02:00:00:00:00:64";
export const speaker = "02:00:00:00:00:0b";

/** "Who has targetIp? Tell 192.0.2.100", broadcast from the client. */
export function whoHas(targetIp: string, extra: Partial<ArpPacket> = {}): ArpPacket {
  return {
    ethernetDestination: "ff:ff:ff:ff:ff:ff",
    ethernetSource: client,
    operation: "request",
    senderMac: client,
    senderIp: "192.0.2.100",
    targetMac: "00:00:00:00:00:00",
    targetIp,
    ...extra,
  };
}

/** The client (2001:db8::64) solicits 2001:db8::a at its solicited-node group. */
export function solicitation(target = "2001:db8::a"): NeighborSolicitation {
  return {
    kind: "solicitation",
    ethernetDestination: "33:33:ff:00:00:0a",
    ethernetSource: client,
    ipSource: "2001:db8::64",
    ipDestination: "ff02::1:ff00:a",
    target,
    sourceLinkAddress: client,
  };
}

// Throughput of the L2 hot path, per core: decoding an ARP request and building the reply, and
// the same for a neighbour solicitation (checksum verified and computed), through the Responder
// with a socket that only counts. Also the decode rate for random garbage.
//   npm run bench:l2-codecs
import { encodeArp } from "../src/speaker/l2/arp.js";
import { macToBytes } from "../src/speaker/l2/link-address.js";
import { encodeNdp } from "../src/speaker/l2/ndp.js";
import { type FrameHandler, FrameType, type PacketSocket } from "../src/speaker/l2/packet-socket.js";
import { Responder } from "../src/speaker/l2/responder.js";

let sent = 0;
const socket: PacketSocket = {
  interfaceName: "bench0",
  interfaceIndex: 1,
  mac: macToBytes("02:00:00:00:00:0b") as Uint8Array,
  start: (_: FrameHandler) => {},
  send: () => {
    sent++;
  },
  joinMulticast: () => {},
  leaveMulticast: () => {},
  stats: () => ({ packets: 0, drops: 0, handlerErrors: 0 }),
  close: () => {},
};
const owned = Array.from({ length: 1000 }, (_, i) => `192.0.2.${i % 250}`).concat(
  Array.from({ length: 1000 }, (_, i) => `2001:db8::${i.toString(16)}`),
);
const responder = new Responder(socket);
responder.setOwned(owned);

const arp = encodeArp({
  ethernetDestination: "ff:ff:ff:ff:ff:ff",
  ethernetSource: "02:00:00:00:00:64",
  operation: "request",
  senderMac: "02:00:00:00:00:64",
  senderIp: "192.0.2.100",
  targetMac: "00:00:00:00:00:00",
  targetIp: "192.0.2.10",
});
const ns = encodeNdp({
  kind: "solicitation",
  ethernetDestination: "33:33:ff:00:00:0a",
  ethernetSource: "02:00:00:00:00:64",
  ipSource: "2001:db8::64",
  ipDestination: "ff02::1:ff00:a",
  target: "2001:db8::a",
  sourceLinkAddress: "02:00:00:00:00:64",
});
const garbage = Array.from({ length: 256 }, () =>
  Uint8Array.from({ length: 90 }, () => Math.floor(Math.random() * 256)),
);

function perSecond(fn: (i: number) => void, ms = 1000): number {
  for (let i = 0; i < 5000; i++) fn(i);
  const start = performance.now();
  let i = 0;
  while (performance.now() - start < ms) for (let j = 0; j < 1000; j++) fn(i++);
  return Math.round(i / ((performance.now() - start) / 1000));
}

const result = {
  arpRepliesPerSecond: perSecond(() => responder.handle(arp, FrameType.Broadcast)),
  ndpRepliesPerSecond: perSecond(() => responder.handle(ns, FrameType.Multicast)),
  garbageDropsPerSecond: perSecond((i) =>
    responder.handle(garbage[i & 255] as Uint8Array, FrameType.Broadcast),
  ),
  meanMicrosecondsPerArpReply: 0,
  framesSent: sent,
};
result.meanMicrosecondsPerArpReply = Number((1e6 / result.arpRepliesPerSecond).toFixed(2));
console.log(JSON.stringify(result, null, 2));
console.log(
  `l2-codecs: ${result.arpRepliesPerSecond} ARP replies/s, ${result.ndpRepliesPerSecond} NDP replies/s, ${result.garbageDropsPerSecond} garbage drops/s per core`,
);

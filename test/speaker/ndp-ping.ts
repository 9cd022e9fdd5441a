// Neighbour solicitations at a fixed interval from a host on the LAN, with every advertisement
// for the target and its MAC; unsolicited ones (a takeover's NA to all nodes) are kept apart:
//   node ndp-ping.js IFNAME SOURCE_IP ADDRESS COUNT INTERVAL_MS
// COUNT 0 runs until SIGTERM. Prints "ready", then "first reply" at the first solicited answer,
// and one JSON line at the end (ms since start):
//   {"sent":[ms...], "replies":[[ms, mac]...], "unsolicited":[[ms, mac]...]}
// The IPv6 twin of arp-ping.ts (ndisc6 sends one solicitation a second at most).

import { ipv6ToBytes, ipv6ToString, macToString } from "../../src/speaker/l2/link-address.js";
import { decodeNdp, encodeNdp, multicastMac, solicitedNodeAddress } from "../../src/speaker/l2/ndp.js";
import { openPacketSocket } from "../../src/speaker/l2/packet-socket.js";
import { probeLoop } from "./probe-loop.js";

const [ifname, source, target, countArg, intervalArg] = process.argv.slice(2);
const targetBytes = target ? ipv6ToBytes(target) : undefined;
if (!ifname || !source || !target || !countArg || !intervalArg || !targetBytes) {
  process.stderr.write("usage: ndp-ping IFNAME SOURCE_IP IPV6_ADDRESS COUNT INTERVAL_MS\n");
  process.exit(2);
}
const wanted = ipv6ToString(targetBytes);
const count = Number(countArg);
const interval = Number(intervalArg);
const socket = openPacketSocket(ifname);
const mac = macToString(socket.mac);
const group = solicitedNodeAddress(targetBytes);
const solicitation = encodeNdp({
  kind: "solicitation",
  ethernetDestination: multicastMac(group),
  ethernetSource: mac,
  ipSource: source,
  ipDestination: ipv6ToString(group),
  target: wanted,
  sourceLinkAddress: mac,
});
const replies: [number, string][] = [];
const unsolicited: [number, string][] = [];
const loop = probeLoop({
  count,
  intervalMs: interval,
  result: () => ({ replies, unsolicited }),
  close: () => socket.close(),
});
socket.start((frame) => {
  const d = decodeNdp(frame);
  if (!d.ok || d.value.kind !== "advertisement" || d.value.target !== wanted) return;
  const from = d.value.targetLinkAddress ?? d.value.ethernetSource;
  if (!d.value.solicited) {
    unsolicited.push([loop.since(), from]);
    return;
  }
  if (d.value.ipDestination !== source) return;
  replies.push([loop.since(), from]);
  if (replies.length === 1) process.stdout.write("first reply\n");
});
loop.run(() => socket.send(solicitation));

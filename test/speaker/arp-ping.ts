// ARP requests at a fixed interval from a host on the LAN, with every reply and its MAC:
//   node arp-ping.js IFNAME SOURCE_IP ADDRESS COUNT INTERVAL_MS
// COUNT 0 runs until SIGTERM. Prints "ready", then "first reply" at the first reply, and one JSON line at the end:
//   {"sent":[ms...], "replies":[[ms, mac]...]} (ms since start).
// iputils arping takes whole seconds only; failover gaps need 10 ms probes.
import { arpAnnouncement, decodeArp, encodeArp } from "../../src/speaker/l2/arp.js";
import { macToString } from "../../src/speaker/l2/link-address.js";
import { openPacketSocket } from "../../src/speaker/l2/packet-socket.js";
import { probeLoop } from "./probe-loop.js";

const [ifname, source, target, countArg, intervalArg] = process.argv.slice(2);
if (!ifname || !source || !target || !countArg || !intervalArg) {
  process.stderr.write("usage: arp-ping IFNAME SOURCE_IP ADDRESS COUNT INTERVAL_MS\n");
  process.exit(2);
}
const count = Number(countArg);
const interval = Number(intervalArg);
const socket = openPacketSocket(ifname);
const mac = macToString(socket.mac);
const replies: [number, string][] = [];
const loop = probeLoop({
  count,
  intervalMs: interval,
  result: () => ({ replies }),
  close: () => socket.close(),
});
socket.start((frame) => {
  const d = decodeArp(frame);
  if (!d.ok || d.value.operation !== "reply" || d.value.senderIp !== target || d.value.targetMac !== mac)
    return;
  replies.push([loop.since(), d.value.senderMac]);
  if (replies.length === 1) process.stdout.write("first reply\n");
});
// A broadcast "who has target?" from this host: an announcement's frame with our own sender.
loop.run(() => socket.send(encodeArp({ ...arpAnnouncement(mac, target), senderIp: source })));

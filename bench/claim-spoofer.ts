// A LAN host that claims a Service address with another host's MAC: gratuitous ARP whose sender
// hardware address is that MAC, at a fixed rate, from the project's own packet socket. The
// Ethernet source stays the spoofer's own, so the bridge's forwarding table is not what is measured.
//   node claim-spoofer.js IFNAME ADDRESS MAC PER_SECOND
// Runs until SIGTERM; prints {"sent": n} at the end.
import { arpAnnouncement, encodeArp } from "../src/speaker/l2/arp.js";
import { macToString } from "../src/speaker/l2/link-address.js";
import { openPacketSocket } from "../src/speaker/l2/packet-socket.js";

const [ifname, address, mac, rateArg] = process.argv.slice(2);
if (!ifname || !address || !mac || !rateArg) {
  process.stderr.write("usage: claim-spoofer IFNAME ADDRESS MAC PER_SECOND\n");
  process.exit(2);
}
const socket = openPacketSocket(ifname);
const frame = encodeArp({ ...arpAnnouncement(mac, address), ethernetSource: macToString(socket.mac) });
const perSecond = Number(rateArg);
const start = performance.now();
let sent = 0;
// Catch up on timer lateness so the rate holds on a loaded machine.
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - start) * perSecond) / 1000);
  for (; sent < due; sent++) socket.send(frame);
}, 1000 / perSecond);
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  clearInterval(timer);
  process.stdout.write(`${JSON.stringify({ sent })}\n`);
  socket.close();
  process.exit(0);
});

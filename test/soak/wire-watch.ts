// The soak's ARP/NDP referee's eyes on the client's LAN: asks for every target address at a fixed
// interval and prints every answer it sees, asked for or not, for any address:
//   node wire-watch.js IFNAME SOURCE_V4 SOURCE_V6 INTERVAL_MS
// stdin: one JSON array of addresses per line, each replacing the set. stdout: "ready", then one
// WireSighting (model.ts) per line, t in epoch ms. Ends on SIGTERM or at the end of stdin.
// Nothing is kept per frame: a flood costs CPU, not memory (stdout to a pipe blocks, so the
// kernel's queue fills and drops, which is reported on stderr at the end).
import { createInterface } from "node:readline";
import { formatAddress, parseAddress } from "../../src/domain/address.js";
import { macToString } from "../../src/speaker/l2/link-address.js";
import { openPacketSocket } from "../../src/speaker/l2/packet-socket.js";
import { parseAddressSet } from "./probe-input.js";
import { queryFrames, sightingOf } from "./wire-frames.js";

const [ifname, sourceV4Arg, sourceV6Arg, intervalArg] = process.argv.slice(2);
const v4 = sourceV4Arg ? parseAddress(sourceV4Arg) : undefined;
const v6 = sourceV6Arg ? parseAddress(sourceV6Arg) : undefined;
const interval = Number(intervalArg);
if (
  !ifname ||
  !v4?.ok ||
  v4.value.family !== "IPv4" ||
  !v6?.ok ||
  v6.value.family !== "IPv6" ||
  !(interval >= 1)
) {
  process.stderr.write("usage: wire-watch IFNAME SOURCE_V4 SOURCE_V6 INTERVAL_MS\n");
  process.exit(2);
}
const sourceV4 = formatAddress(v4.value);
const sourceV6 = formatAddress(v6.value);

const epochMs = () => Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
const socket = openPacketSocket(ifname, {
  onError: (e) => process.stderr.write(`wire-watch: socket failed: ${e.message}\n`),
});
const mac = macToString(socket.mac);
let frames: Uint8Array[] = [];
let sendError = "";
let drops = 0;

socket.start((frame) => {
  const s = sightingOf(frame, mac);
  if (s) process.stdout.write(`${JSON.stringify({ t: epochMs(), ...s })}\n`);
});

const timer = setInterval(() => {
  for (const f of frames) {
    try {
      socket.send(f);
      sendError = "";
    } catch (err) {
      // Once per stretch of failures, not once per frame.
      const message = (err as Error).message;
      if (message !== sendError) process.stderr.write(`wire-watch: send failed: ${message}\n`);
      sendError = message;
    }
  }
  drops += socket.stats().drops;
}, interval);

createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (line.trim() === "") return;
    const set = parseAddressSet(line);
    if (!set.ok) {
      process.stderr.write(`wire-watch: ignored a target line: ${set.error}\n`);
      return;
    }
    frames = queryFrames(set.value, mac, sourceV4, sourceV6);
  })
  .on("close", stop);
// The reader went away: nobody is left to tell.
process.stdout.on("error", () => process.exit(1));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdout.write("ready\n");

function stop(): void {
  clearInterval(timer);
  drops += socket.stats().drops;
  socket.close();
  if (drops > 0) process.stderr.write(`wire-watch: the kernel dropped ${drops} frames (queue full)\n`);
  process.exit(0);
}

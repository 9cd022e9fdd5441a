// Stands in for a pod (or another node's NodePort) in the namespace tests: answers every
// TCP line and UDP datagram with its own name and the source address it saw.
// usage: node echo-server.mjs NAME PORT...
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

const [name, ...ports] = process.argv.slice(2);
for (const port of ports.map(Number)) {
  createServer((c) => {
    c.setEncoding("utf8");
    let buffered = "";
    c.on("data", (d) => {
      buffered += d;
      for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
        buffered = buffered.slice(i + 1);
        c.write(`${name} ${c.remoteAddress?.replace(/^::ffff:/, "")}\n`);
      }
    });
    c.on("error", () => {});
  }).listen(port, "::");
  for (const type of ["udp4", "udp6"]) {
    const u = createSocket({ type, ipv6Only: type === "udp6" });
    u.on("message", (_m, r) => u.send(`${name} ${r.address}\n`, r.port, r.address));
    u.bind(port);
  }
}
process.stdout.write("ready\n");

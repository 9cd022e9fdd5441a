// The client side of the namespace tests: makes requests and prints one JSON line each.
// usage: node echo-client.mjs tcp|udp HOST PORT COUNT [SOURCE [SOURCE_PORT]]   (one connection per request)
//        node echo-client.mjs hold HOST PORT                       (one connection, a request per stdin line)
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { createInterface } from "node:readline";

const [mode, host, portText, countText = "1", sourceText, sourcePortText] = process.argv.slice(2);
const source = sourceText || undefined;
const sourcePort = sourcePortText ? Number(sourcePortText) : undefined;
const port = Number(portText);
const timeoutMs = 1500;
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

function tcpOnce() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const done = (o) => {
      s.destroy();
      resolve({ ...o, ms: Math.round(performance.now() - t0) });
    };
    const s = connect({ host, port, localAddress: source, localPort: sourcePort });
    s.setEncoding("utf8");
    s.setTimeout(timeoutMs, () => done({ error: "TIMEOUT" }));
    s.on("connect", () => s.write("hello\n"));
    s.on("data", (d) => done({ reply: d.trim() }));
    s.on("error", (e) => done({ error: e.code }));
  });
}

function udpOnce() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const u = createSocket(host.includes(":") ? "udp6" : "udp4");
    const timer = setTimeout(() => done({ error: "TIMEOUT" }), timeoutMs);
    const done = (o) => {
      clearTimeout(timer);
      u.close();
      resolve({ ...o, ms: Math.round(performance.now() - t0) });
    };
    u.on("error", (e) => done({ error: e.code }));
    u.on("message", (m) => done({ reply: m.toString().trim() }));
    // A refused datagram surfaces as ECONNREFUSED on the next send of a connected socket.
    const send = () => u.send("hello\n", (e) => e && done({ error: e.code }));
    u.bind({ address: source, port: sourcePort }, () =>
      u.connect(port, host, () => {
        send();
        setTimeout(send, 200).unref();
      }),
    );
  });
}

if (mode === "hold") {
  const s = connect({ host, port });
  s.setEncoding("utf8");
  s.on("data", (d) => print({ reply: d.trim() }));
  s.on("error", (e) => print({ error: e.code }));
  s.on("connect", () => print({ connected: true }));
  createInterface({ input: process.stdin })
    .on("line", () => s.write("again\n"))
    .on("close", () => s.destroy());
} else {
  for (let i = 0; i < Number(countText); i++) print(mode === "udp" ? await udpOnce() : await tcpOnce());
}

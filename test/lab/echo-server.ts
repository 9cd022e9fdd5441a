// The program every lab Pod runs, inside its pod network namespace: answers HTTP on
// TCP and datagrams on UDP with who answered (pod, node) and which client address it
// saw, which is what Service tests check (load spreading, source address kept or not).
// Runs on its own (`node echo-server.ts`), so it imports nothing from the lab.
//
// Arguments: --pod NAME --namespace NS --node NODE --http-port N --udp-port N
// Prints "echo-server ready" once both sockets listen.
import { createSocket } from "node:dgram";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    pod: { type: "string" },
    namespace: { type: "string", default: "default" },
    node: { type: "string", default: "" },
    "http-port": { type: "string", default: "8080" },
    "udp-port": { type: "string", default: "8080" },
  },
});
const pod = values.pod;
if (!pod) {
  process.stderr.write("echo-server: --pod is required\n");
  process.exit(2);
}
const identity = { pod, namespace: values.namespace, node: values.node };

function unmapped(address: string | undefined): string {
  return (address ?? "").replace(/^::ffff:/, "");
}

const http = createServer((req, res) => {
  const body = JSON.stringify({
    ...identity,
    protocol: "http",
    client: unmapped(req.socket.remoteAddress),
    clientPort: req.socket.remotePort,
    path: req.url,
  });
  // One request per connection, unless the client asks to keep it (a test holding a connection).
  const keep = req.headers.connection?.toLowerCase() === "keep-alive";
  res.writeHead(200, { "content-type": "application/json", connection: keep ? "keep-alive" : "close" });
  res.end(`${body}\n`);
});

// Both families on one socket each (IPv4 arrives mapped): Pods of a dual-stack lab have both.
const udp = createSocket({ type: "udp6", ipv6Only: false });
udp.on("message", (msg, from) => {
  const body = JSON.stringify({
    ...identity,
    protocol: "udp",
    client: unmapped(from.address),
    clientPort: from.port,
    echo: msg.toString("utf8"),
  });
  udp.send(`${body}\n`, from.port, from.address);
});

let listening = 0;
const ready = () => {
  listening += 1;
  if (listening === 2) process.stdout.write("echo-server ready\n");
};
http.listen({ port: Number(values["http-port"]), host: "::", ipv6Only: false }, ready);
udp.bind(Number(values["udp-port"]), "::", ready);
process.on("SIGTERM", () => process.exit(0));

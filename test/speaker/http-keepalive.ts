// HTTP requests over one kept-alive connection from a host on the LAN:
//   node http-keepalive.js URL COUNT INTERVAL_MS
// Prints "connected PORT" once the first request is answered (a caller waits for it before it
// disturbs the path), and one JSON line at the end: {"requests":[{"ms","pod"?,"localPort"?,"error"?}...]}.
// Every request names the client port it went out from, so the caller can tell whether the
// connection survived (one port throughout) or was replaced.
import { Agent, request } from "node:http";

const [url, countArg, intervalArg] = process.argv.slice(2);
if (!url || !countArg || !intervalArg) {
  process.stderr.write("usage: http-keepalive URL COUNT INTERVAL_MS\n");
  process.exit(2);
}
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const start = performance.now();
const since = () => Math.round(performance.now() - start);

interface Outcome {
  ms: number;
  pod?: string;
  localPort?: number;
  error?: string;
}

function once(): Promise<Outcome> {
  return new Promise((resolve) => {
    const ms = since();
    const req = request(url as string, { agent, timeout: 2000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { pod?: string };
          resolve({ ms, pod: body.pod, localPort: req.socket?.localPort });
        } catch {
          resolve({ ms, error: `status ${res.statusCode}` });
        }
      });
      res.on("error", (e) => resolve({ ms, error: e.message }));
    });
    req.on("timeout", () => req.destroy(new Error("TIMEOUT")));
    req.on("error", (e: NodeJS.ErrnoException) => resolve({ ms, error: e.code ?? e.message }));
    req.end();
  });
}

const requests: Outcome[] = [];
for (let i = 0; i < Number(countArg); i++) {
  const outcome = await once();
  requests.push(outcome);
  if (requests.length === 1 && outcome.error === undefined)
    process.stdout.write(`connected ${outcome.localPort}\n`);
  await new Promise((r) => setTimeout(r, Number(intervalArg)));
}
agent.destroy();
process.stdout.write(`${JSON.stringify({ requests })}\n`);

// An HTTP client on the LAN that opens a new connection every INTERVAL ms, whatever happened
// to the previous ones, and records each outcome:
//   node http-probe.js URL INTERVAL_MS TIMEOUT_MS
// Runs until SIGTERM, then prints one JSON line: {"requests":[[startMs, ok(0|1), endMs]...]}.
import { request } from "node:http";

const [url, intervalArg, timeoutArg] = process.argv.slice(2);
if (!url || !intervalArg || !timeoutArg) {
  process.stderr.write("usage: http-probe URL INTERVAL_MS TIMEOUT_MS\n");
  process.exit(2);
}
const timeout = Number(timeoutArg);
const start = performance.now();
const since = () => Math.round((performance.now() - start) * 10) / 10;
const requests: [number, number, number][] = [];

function probe(): void {
  const entry: [number, number, number] = [since(), 0, -1];
  requests.push(entry);
  const done = (ok: boolean) => {
    if (entry[2] >= 0) return;
    entry[1] = ok ? 1 : 0;
    entry[2] = since();
  };
  const req = request(url as string, { agent: false, timeout }, (res) => {
    res.resume();
    res.on("end", () => done(res.statusCode === 200));
    res.on("error", () => done(false));
  });
  req.on("timeout", () => req.destroy(new Error("timeout")));
  req.on("error", () => done(false));
  req.end();
}

setInterval(probe, Number(intervalArg));
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  // Requests still open count as failed at the time of the stop.
  for (const r of requests) if (r[2] < 0) r[2] = since();
  process.stdout.write(`${JSON.stringify({ requests })}\n`);
  process.exit(0);
});

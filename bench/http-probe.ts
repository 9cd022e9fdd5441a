// An HTTP client on the LAN that opens a new connection every INTERVAL ms, whatever happened
// to the previous ones, and records each outcome:
//   node http-probe.js URL INTERVAL_MS TIMEOUT_MS
// Runs until SIGTERM, then prints one JSON line:
//   {"requests":[[startMs, ok(0|1), endMs, error?]...], "stoppedAt": ms}
// (error: the failure's code, such as ECONNRESET, TIMEOUT, or "open" when still open at the stop).
import { request } from "node:http";

const [url, intervalArg, timeoutArg] = process.argv.slice(2);
if (!url || !intervalArg || !timeoutArg) {
  process.stderr.write("usage: http-probe URL INTERVAL_MS TIMEOUT_MS\n");
  process.exit(2);
}
const timeout = Number(timeoutArg);
const start = performance.now();
const since = () => Math.round((performance.now() - start) * 10) / 10;
const requests: [number, number, number, string?][] = [];

function probe(): void {
  const entry: [number, number, number, string?] = [since(), 0, -1];
  requests.push(entry);
  const done = (ok: boolean, error?: string) => {
    if (entry[2] >= 0) return;
    entry[1] = ok ? 1 : 0;
    entry[2] = since();
    if (!ok) entry[3] = error ?? "failed";
  };
  const req = request(url as string, { agent: false, timeout }, (res) => {
    res.resume();
    res.on("end", () => done(res.statusCode === 200, `status ${res.statusCode}`));
    res.on("error", (e: NodeJS.ErrnoException) => done(false, e.code ?? e.message));
  });
  req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
  req.on("error", (e: NodeJS.ErrnoException) => done(false, e.code ?? e.message));
  req.end();
}

setInterval(probe, Number(intervalArg));
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  // Requests still open count as failed at the time of the stop ("open"); the caller decides
  // whether one was simply cut short (sent a moment before the stop) or hung.
  const stoppedAt = since();
  for (const r of requests)
    if (r[2] < 0) {
      r[2] = stoppedAt;
      r[3] = "open";
    }
  process.stdout.write(`${JSON.stringify({ requests, stoppedAt })}\n`);
  process.exit(0);
});

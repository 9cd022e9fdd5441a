// The soak's traffic referee's client: a new TCP connection to every target at a fixed interval,
// whatever happened to the previous ones:
//   node tcp-prober.js INTERVAL_MS TIMEOUT_MS
// stdin: one JSON array of {"address","port"} per line, each replacing the set. stdout: one
// {"type":"outage",...Outage} line per closed outage as it closes; at SIGTERM or the end of stdin
// one {"type":"target",...ProbeTarget} line per target ever probed, the outages still open
// (closed at the target's end), then {"type":"end"}. Times are epoch ms. stderr: errors only.
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import type { Outage, ProbeTarget } from "./model.js";
import { parseTargetSet, targetKey } from "./probe-input.js";
import { TargetLedger } from "./probe-ledger.js";

const [intervalArg, timeoutArg] = process.argv.slice(2);
const interval = Number(intervalArg);
const timeout = Number(timeoutArg);
if (!(interval >= 1) || !(timeout >= 1)) {
  process.stderr.write("usage: tcp-prober INTERVAL_MS TIMEOUT_MS\n");
  process.exit(2);
}

const epochMs = () => Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
const printOutage = (o: Outage) => process.stdout.write(`${JSON.stringify({ type: "outage", ...o })}\n`);
let outageSink: (o: Outage) => void = printOutage;
const targets = new Map<string, TargetLedger>();
const finished: ProbeTarget[] = [];

function probe(ledger: TargetLedger, start: number): void {
  let socket: Socket | undefined;
  const p = ledger.begin(start, () => socket?.destroy());
  try {
    socket = connect({ host: ledger.address, port: ledger.port });
  } catch (err) {
    ledger.settle(p, epochMs(), (err as NodeJS.ErrnoException).code ?? "EUNKNOWN");
    return;
  }
  socket.once("connect", () => {
    ledger.settle(p, epochMs());
    // RST instead of FIN: hundreds of connections a second leave no TIME_WAIT behind.
    socket.resetAndDestroy();
  });
  socket.on("error", (e: NodeJS.ErrnoException) => ledger.settle(p, epochMs(), e.code ?? "EUNKNOWN"));
}

// One timer for every target, re-aimed at the next multiple of the interval so lateness does not
// add up; a tick missed entirely (the loop was busy) is skipped, not made up in a burst.
const origin = performance.now();
let slot = 0;
let timer: NodeJS.Timeout | undefined;
function tick(): void {
  const start = epochMs();
  for (const ledger of targets.values()) {
    ledger.expire(start);
    probe(ledger, start);
  }
  const now = performance.now();
  slot = Math.max(slot + 1, Math.floor((now - origin) / interval) + 1);
  timer = setTimeout(tick, origin + slot * interval - now);
}
timer = setTimeout(tick, interval);

function replace(line: string): void {
  if (line.trim() === "") return;
  const set = parseTargetSet(line);
  if (!set.ok) {
    process.stderr.write(`tcp-prober: ignored a target line: ${set.error}\n`);
    return;
  }
  const now = epochMs();
  const wanted = new Set(set.value.map(targetKey));
  for (const [key, ledger] of targets) {
    if (wanted.has(key)) continue;
    finished.push(ledger.end(now));
    targets.delete(key);
  }
  for (const t of set.value) {
    const key = targetKey(t);
    if (!targets.has(key))
      targets.set(key, new TargetLedger(t.address, t.port, now, timeout, (o) => outageSink(o)));
  }
}

let stopped = false;
function stop(): void {
  if (stopped) return;
  stopped = true;
  clearTimeout(timer);
  const now = epochMs();
  // Outages still open close now, after every target line: held back, then printed.
  const open: Outage[] = [];
  outageSink = (o) => {
    open.push(o);
  };
  for (const ledger of targets.values()) finished.push(ledger.end(now));
  targets.clear();
  for (const t of finished) process.stdout.write(`${JSON.stringify({ type: "target", ...t })}\n`);
  for (const o of open) printOutage(o);
  process.stdout.write(`${JSON.stringify({ type: "end" })}\n`);
  process.exit(0);
}

createInterface({ input: process.stdin }).on("line", replace).on("close", stop);
// The reader went away: nobody is left to tell.
process.stdout.on("error", () => process.exit(1));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

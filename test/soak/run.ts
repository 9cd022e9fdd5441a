// A seeded soak: random operations and faults in a real lab for a while, watched from outside,
// judged by referees that read nothing of Herald's state. As root, after a build:
//   npm run soak -- [--seed S] [--minutes M] [--faults KIND,...] [--out DIR]
// Same seed and minutes, same schedule. Writes DIR/soak-S.json (the report with the whole
// record) and DIR/soak-S.svg (the timeline), prints one summary line, and exits 1 when a
// referee fails. HERALD_LAB_MAIN runs the components from another build of the CLI.
import { randomInt } from "node:crypto";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { eventually, ingress } from "../controller/lab-controller.js";
import { readAuditRows } from "./audit-rows.js";
import { runFault } from "./faults.js";
import {
  FAULT_KINDS,
  type FaultKind,
  type FaultRecord,
  type OpRecord,
  type ServiceShape,
  type ServiceType,
  type SoakRecord,
} from "./model.js";
import { ApiWatcher, startClientObservers } from "./observers.js";
import { recordedOp, SOAK_NAMESPACE } from "./ops.js";
import { judge } from "./referees/index.js";
import { poolContains } from "./referees/windows.js";
import { soakReport, summaryLine, warmUpOutages } from "./report.js";
import { makeSchedule, POOL_BASE, POOL_EXTRA } from "./schedule.js";
import { startSoakLab } from "./soak-lab.js";
import { renderTimeline } from "./timeline.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    minutes: { type: "string", default: "30" },
    faults: { type: "string" },
    out: { type: "string", default: "soak-reports" },
  },
});
const seed = values.seed === undefined ? randomInt(1, 2 ** 31) : Number(values.seed);
const minutes = Number(values.minutes);
if (!Number.isInteger(seed) || seed < 0 || !(minutes > 0)) {
  process.stderr.write("usage: soak [--seed S (integer)] [--minutes M] [--faults KIND,...] [--out DIR]\n");
  process.exit(2);
}
const only =
  values.faults === undefined ? undefined : (values.faults.split(",").filter(Boolean) as FaultKind[]);
if (only?.some((k) => !FAULT_KINDS.includes(k))) {
  process.stderr.write(`soak: fault kinds are ${FAULT_KINDS.join(", ")}\n`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  process.stderr.write("soak: needs root (network namespaces, mounts)\n");
  process.exit(2);
}
const out = resolve(values.out);
mkdirSync(out, { recursive: true });

const NODES = ["node-1", "node-2", "node-3"];
const MAX_OPS_IN_FLIGHT = 2;
const schedule = makeSchedule({ seed, minutes, nodes: NODES, ...(only ? { faultKinds: only } : {}) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
// Lab processes do not hold the event loop open.
const keepAlive = setInterval(() => {}, 1000);

process.stderr.write(
  `soak: seed ${seed}, ${minutes} min, ${schedule.faults.length} faults, ${schedule.ops.length} ops\n`,
);
const s = await startSoakLab({ poolRanges: schedule.initialPoolRanges });
// Interrupted (Ctrl-C, or a job's timeout): take the lab down rather than leave it to the next start.
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    process.stderr.write(`soak: ${signal}, stopping the lab (no report)\n`);
    void s.lab.stop().finally(() => process.exit(130));
  });
let record: SoakRecord | undefined;
let auditFiles = { files: 0, unconvertedSegments: 0 };
try {
  const shapes = new Map<string, ServiceShape & { type: ServiceType }>();
  const opContext = { lab: s.lab, api: s.api, shapes };
  await Promise.all(
    schedule.initialPods.map((p) => s.lab.createPod({ name: p.name, node: p.node, labels: { app: p.app } })),
  );
  for (const svc of schedule.initialServices)
    await recordedOp(opContext, { kind: "createService", name: svc.name, shape: svc.shape }, () => 0);
  for (const svc of schedule.initialServices)
    await eventually(
      `${svc.name} gets an address`,
      async () => (await ingress(s.api, SOAK_NAMESPACE, svc.name))[0],
      60_000,
    );

  const t0 = Date.now();
  const now = () => Date.now() - t0;
  const observers = startClientObservers(s.lab, t0, now);
  // Services with an op in flight that changes what to probe (ports, address, existence), and
  // until the API view is from after the op: a stale view would probe what is no longer there.
  const inFlightOn = new Map<string, number>();
  const doneAt = new Map<string, number>();
  const suppressed = () => {
    const names = new Set(inFlightOn.keys());
    for (const [name, at] of doneAt)
      if (watcher.lastAnsweredPollAt > at) doneAt.delete(name);
      else names.add(name);
    return names;
  };
  const watcher = new ApiWatcher(s.api, now, (snap) => observers.update(snap, suppressed()));
  const refresh = () => observers.update(watcher.latest, suppressed());
  await watcher.poll();
  watcher.start();
  const tick = setInterval(refresh, 1000);

  const faults: FaultRecord[] = [];
  const ops: OpRecord[] = [];
  const heldAddresses = () =>
    (watcher.latest?.services ?? []).filter((v) => v.type === "LoadBalancer").flatMap((v) => v.addresses);
  const firstFault = schedule.faults[0]?.atMs ?? schedule.durationMs;
  const startSample = (async () => {
    // Before the first fault, and early also in a run without faults.
    await sleep(Math.max(1000, Math.min(10_000, firstFault - 1000)) - now());
    return s.sampleResources();
  })();

  const faultLane = (async () => {
    for (const f of schedule.faults) {
      await sleep(f.atMs - now());
      const r = await runFault(s, f, { now, heldAddresses });
      faults.push(r);
      process.stderr.write(
        `soak: ${Math.round(r.startMs / 1000)} s ${r.kind} ${r.node ?? r.controller ?? r.address ?? ""}${r.inboundOnly ? " (inbound only)" : ""}${r.skipped ? ` (${r.skipped})` : ""}\n`,
      );
    }
  })();
  const opLane = (async () => {
    const inFlight = new Set<Promise<void>>();
    for (const o of schedule.ops) {
      await sleep(o.atMs - now());
      while (inFlight.size >= MAX_OPS_IN_FLIGHT) await Promise.race(inFlight);
      const name =
        "name" in o.op && o.op.kind !== "createPod" && o.op.kind !== "deletePod" ? o.op.name : undefined;
      const hides = name !== undefined && o.op.kind !== "changePolicy";
      if (hides) inFlightOn.set(name, (inFlightOn.get(name) ?? 0) + 1);
      refresh();
      const p = recordedOp(opContext, o.op, now).then((r) => {
        ops.push(r);
        if (hides) {
          const n = (inFlightOn.get(name) ?? 1) - 1;
          if (n > 0) inFlightOn.set(name, n);
          else inFlightOn.delete(name);
          doneAt.set(name, r.endMs);
        }
        // The view catches up before the Service is probed again.
        void watcher.poll().then(refresh);
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  })();
  await Promise.all([faultLane, opLane]);
  await sleep(schedule.durationMs - now());
  const endSample = s.sampleResources();
  const start = await startSample;
  watcher.stop();
  clearInterval(tick);
  await observers.stop();
  await s.stop();
  const audit = await readAuditRows(s.auditDirs);
  auditFiles = { files: audit.files, unconvertedSegments: audit.unconvertedSegments };
  const warm = warmUpOutages(observers.outages, observers.probes);
  record = {
    t0,
    durationMs: schedule.durationMs,
    nodes: s.nodes,
    macs: s.macs,
    foreignMacs: [s.foreignMac],
    faults: faults.sort((a, b) => a.startMs - b.startMs),
    ops: ops.sort((a, b) => a.startMs - b.startMs),
    // What the capture saw for the pool's addresses (not the hosts' own link-local ones).
    wire: observers.wire.filter((w) => poolContains([...POOL_BASE, ...POOL_EXTRA], w.address)),
    probes: observers.probes,
    outages: warm.outages,
    snapshots: watcher.snapshots,
    audit: audit.rows,
    resources: { start, end: endSample },
  };
  const verdicts = judge(record);
  const report = soakReport({
    seed,
    minutes,
    only,
    schedule,
    record,
    verdicts,
    warmUps: warm.warmUps,
    auditFiles,
  });
  const title = `Herald soak, seed ${seed}, ${minutes} min${only ? ` (faults: ${only.join(",")})` : ""}`;
  writeFileSync(join(out, `soak-${seed}.json`), JSON.stringify({ ...report, title, record }));
  writeFileSync(join(out, `soak-${seed}.svg`), renderTimeline(record, verdicts, title));
  console.log(JSON.stringify({ ...report, record: undefined }));
  console.log(summaryLine(report, join(out, `soak-${seed}`)));
  process.exitCode = report.pass ? 0 : 1;
} finally {
  // Every component's log beside the report: the lab's run directory goes with the lab.
  const logs = join(s.lab.dir, "logs");
  if (existsSync(logs)) cpSync(logs, join(out, `soak-${seed}-logs`), { recursive: true });
  await s.lab.stop();
  clearInterval(keepAlive);
}
process.exit(process.exitCode ?? (record ? 0 : 1));

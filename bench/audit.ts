// Audit log benchmark: durable events per second, bytes per event on disk, and
// the time to find one address among 1,000,000 events in 50 Parquet files.
// Run: npm run bench:audit   (prints JSON, then one summary line)
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { AuditEvent, AuditEventInput } from "../src/audit/event.js";
import { parseFilter } from "../src/audit/filter.js";
import { parquetName } from "../src/audit/layout.js";
import { AuditLog } from "../src/audit/log.js";
import { encodeParquet } from "../src/audit/parquet-file.js";
import { emptyStats, queryEvents } from "../src/audit/query.js";

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 10) * 1000;
const IN_FLIGHT = 512;

function sampleEvent(i: number): AuditEventInput {
  const svc = i % 5000;
  return {
    component: i % 3 === 0 ? "controller" : "speaker",
    node: `node-${i % 16}`,
    kind: (["allocated", "announce", "withdraw", "takeover", "released"] as const)[i % 5] ?? "allocated",
    service: {
      namespace: `team-${svc % 40}`,
      name: `svc-${svc}`,
      uid: `5f0c${String(svc).padStart(8, "0")}-1d2e-4f5a-9b8c-7d6e5f4a3b2c`,
    },
    addresses: [`198.51.100.${svc % 256}`, `2001:db8::${svc.toString(16)}`],
    pool: `pool-${svc % 8}`,
    fromNode: `node-${(i + 1) % 16}`,
    toNode: `node-${i % 16}`,
    reason: "OwnerElected",
    message: "node was elected owner of the address",
    resourceVersion: String(100000 + i),
  };
}

async function dirBytes(dir: string, suffix: string): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  let files = 0;
  for (const n of await readdir(dir)) {
    if (!n.endsWith(suffix)) continue;
    files++;
    bytes += (await stat(join(dir, n))).size;
  }
  return { files, bytes };
}

async function durableThroughput(dir: string) {
  const log = new AuditLog({
    dir,
    logger: pino({ level: "warn" }),
    registry: new Registry(),
    segmentBytes: 8 * 1024 * 1024,
  });
  await log.start();
  let acked = 0;
  let failed = 0;
  let i = 0;
  const deadline = performance.now() + DURATION_MS;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) {
      const ack = await log.record(sampleEvent(i++));
      if (ack.durable) acked++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  const stopStarted = performance.now();
  await log.stop();
  const stopSeconds = (performance.now() - stopStarted) / 1000;
  const parquet = await dirBytes(dir, ".parquet");
  return {
    seconds,
    acked,
    failed,
    eventsPerSecond: acked / seconds,
    stopSeconds,
    parquetFiles: parquet.files,
    bytesPerEvent: parquet.bytes / acked,
  };
}

async function queryOneAddress(dir: string) {
  const files = 50;
  const perFile = 20_000;
  const base = BigInt(Date.now() - 86_400_000) * 1_000_000n;
  let seq = 0;
  const writeStarted = performance.now();
  for (let f = 0; f < files; f++) {
    const events: AuditEvent[] = [];
    for (let r = 0; r < perFile; r++) {
      seq++;
      events.push({ ...sampleEvent(seq * 7919), seq, timeNs: base + BigInt(seq) * 86_400_000n });
    }
    await writeFile(join(dir, parquetName(events[0]?.seq ?? 0, seq)), await encodeParquet(events, 8192));
  }
  const writeSeconds = (performance.now() - writeStarted) / 1000;
  const runs = [];
  for (const address of ["198.51.100.77", "2001:db8::42", "203.0.113.9"]) {
    const stats = emptyStats();
    const t0 = performance.now();
    let found = 0;
    for await (const _ of queryEvents(dir, parseFilter({ address }, 0n), stats)) found++;
    runs.push({ address, ms: performance.now() - t0, found, ...stats });
  }
  return { events: files * perFile, files, writeSeconds, runs };
}

const root = await mkdtemp(join(tmpdir(), "herald-bench-audit-"));
try {
  await rm(root, { recursive: true, force: true });
  const durable = await durableThroughput(join(root, "durable"));
  const query = await queryOneAddress(
    await mkdtemp(join(tmpdir(), "herald-bench-query-")).then((d) => {
      return d;
    }),
  );
  const worstQueryMs = Math.max(...query.runs.map((r) => r.ms));
  console.log(JSON.stringify({ durable, query }, null, 2));
  console.log(
    `audit: ${Math.round(durable.eventsPerSecond)} durable events/s (target >= 20000), ` +
      `${durable.bytesPerEvent.toFixed(1)} bytes/event in Parquet, ` +
      `one address among ${query.events} events in ${query.files} files: ${worstQueryMs.toFixed(0)} ms (target < 1000)`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}

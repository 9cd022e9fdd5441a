// Audit log benchmark: durable events per second, bytes per event on disk, and
// the time to find one address among 1,000,000 events in 50 Parquet files.
// Run: npm run bench:audit   (prints JSON, then one summary line)
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Registry } from "prom-client";
import { workerConverter } from "../src/audit/converter.js";
import type { AuditEvent, AuditEventInput } from "../src/audit/event.js";
import { parseFilter } from "../src/audit/filter.js";
import { parquetName } from "../src/audit/layout.js";
import { AuditLog } from "../src/audit/log.js";
import { DEFAULT_ROW_GROUP_ROWS, encodeParquet } from "../src/audit/parquet-file.js";
import { emptyStats, queryEvents } from "../src/audit/query.js";

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 10) * 1000;
const ROW_GROUP_ROWS = Number(process.env.BENCH_ROW_GROUP_ROWS ?? DEFAULT_ROW_GROUP_ROWS);
// 1,000,000 events over 50,000 Services: one Service's IPv6 address is in ~20 events,
// an IPv4 address of 198.51.100.0/24 is shared by ~195 Services (~3,900 events).
const QUERY_SERVICES = 50_000;
const IN_FLIGHT = 512;

/** Event i of a cluster with `services` Services, each with one IPv4 and one IPv6 address. */
function sampleEvent(i: number, services = 5000): AuditEventInput {
  const svc = i % services;
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
    converter: workerConverter(),
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
    // acknowledged = in the fsynced journal
    eventsPerSecond: acked / seconds,
    // until the last of them was in a Parquet file (conversion may trail the journal)
    stopSeconds,
    endToEndEventsPerSecond: acked / (seconds + stopSeconds),
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
      events.push({
        ...sampleEvent(seq * 7919, QUERY_SERVICES),
        seq,
        timeNs: base + BigInt(seq) * 86_400_000n,
      });
    }
    await writeFile(
      join(dir, parquetName(events[0]?.seq ?? 0, seq)),
      await encodeParquet(events, ROW_GROUP_ROWS),
    );
  }
  const writeSeconds = (performance.now() - writeStarted) / 1000;
  const runs = [];
  const cases = [
    { label: "rare", address: "2001:db8::4242" },
    { label: "busy", address: "198.51.100.77" },
    { label: "absent", address: "203.0.113.9" },
  ];
  for (const { label, address } of cases) {
    const stats = emptyStats();
    const t0 = performance.now();
    let found = 0;
    for await (const _ of queryEvents(dir, parseFilter({ address }, 0n), stats)) found++;
    runs.push({ label, address, ms: performance.now() - t0, found, ...stats });
  }
  return { events: files * perFile, files, writeSeconds, runs };
}

const root = await mkdtemp(join(tmpdir(), "herald-bench-audit-"));
try {
  const durable = process.env.BENCH_SKIP_DURABLE ? undefined : await durableThroughput(join(root, "durable"));
  const queryDir = join(root, "query");
  await mkdir(queryDir);
  const query = await queryOneAddress(queryDir);
  const ms = (label: string) => query.runs.find((r) => r.label === label)?.ms.toFixed(0);
  const querySize = (await dirBytes(queryDir, ".parquet")).bytes;
  console.log(
    JSON.stringify(
      { rowGroupRows: ROW_GROUP_ROWS, durable, query, queryBytesPerEvent: querySize / query.events },
      null,
      2,
    ),
  );
  console.log(
    `audit: ${Math.round(durable?.eventsPerSecond ?? 0)} durable events/s acknowledged (target >= 20000), ` +
      `${Math.round(durable?.endToEndEventsPerSecond ?? 0)}/s including conversion to Parquet, ` +
      `${durable?.bytesPerEvent.toFixed(1)} bytes/event in Parquet (query set: ${(querySize / query.events).toFixed(1)}), ` +
      `one address among ${query.events} events in ${query.files} files: ` +
      `${ms("rare")} ms for ~20 events, ${ms("busy")} ms for ~3900, ${ms("absent")} ms absent (target < 1000)`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}

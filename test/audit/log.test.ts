import { appendFile, mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { nodeDisk } from "../../src/audit/disk.js";
import { EVENT_KINDS } from "../../src/audit/event.js";
import { encodeFrame } from "../../src/audit/frame.js";
import { parquetName, segmentName } from "../../src/audit/layout.js";
import { encodeParquet } from "../../src/audit/parquet-file.js";
import { queryEvents } from "../../src/audit/query.js";
import { encodeRecord } from "../../src/audit/record.js";
import { followEvents, lastSeq } from "../../src/audit/tail.js";
import { FakeClock } from "../clock.js";
import { event, faultyDisk, metric, newLog, tempDir } from "./helpers.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

async function all(d = dir) {
  const out = [];
  for await (const e of queryEvents(d, {})) out.push(e);
  return out;
}

test("every event kind round-trips through journal and Parquet with all fields and ns time", async () => {
  const { log } = newLog(dir);
  await log.start();
  const inputs = EVENT_KINDS.map((k, i) => event(k, i));
  const acks = await Promise.all(inputs.map((e) => log.record(e)));
  expect(acks.every((a) => a.durable)).toBe(true);
  await log.stop();
  expect((await readdir(dir)).filter((n) => n.endsWith(".parquet"))).toHaveLength(1);
  const stored = await all();
  expect(stored.map(({ seq, timeNs, ...rest }) => rest)).toEqual(inputs);
  expect(stored.map((e) => e.seq)).toEqual(inputs.map((_, i) => i + 1));
  // nanosecond resolution, strictly increasing
  for (let i = 1; i < stored.length; i++)
    expect(stored[i]?.timeNs).toBeGreaterThan(stored[i - 1]?.timeNs ?? 0n);
  expect(Number((stored[0]?.timeNs ?? 0n) / 1_000_000n)).toBeGreaterThan(Date.now() - 60_000);
});

test("an event is acknowledged only with a sequence number; bad events are refused, not thrown", async () => {
  const { log, registry } = newLog(dir);
  await log.start();
  const ack = await log.record({ ...event("allocated", 1), addresses: ["not-an-ip"] });
  expect(ack.durable).toBe(false);
  if (!ack.durable) expect(ack.error.code).toBe("HERALD_AUDIT_BAD_EVENT");
  expect(await metric(registry, "herald_audit_events_total", { outcome: "failed" })).toBe(1);
  await log.stop();
});

test("segments roll into Parquet by size while writing continues", async () => {
  const { log } = newLog(dir, { segmentBytes: 4096 });
  await log.start();
  for (let i = 0; i < 200; i++) expect((await log.record(event("announce", i))).durable).toBe(true);
  await log.stop();
  const files = (await readdir(dir)).filter((n) => n.endsWith(".parquet"));
  expect(files.length).toBeGreaterThan(3);
  expect((await all()).map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  expect(await readdir(join(dir, "journal"))).toEqual([]);
});

test("segments roll into Parquet by age, and a query sees events still in the journal", async () => {
  const clock = new FakeClock();
  const { log } = newLog(dir, { segmentAgeMs: 50, clock });
  await log.start();
  await log.record(event("allocated", 1));
  expect((await all()).map((e) => e.seq)).toEqual([1]); // from the journal
  const parquet = async () => (await readdir(dir)).some((n) => n.endsWith(".parquet"));
  clock.advance(40);
  expect(await parquet()).toBe(false); // younger than segmentAgeMs: still in the journal
  clock.advance(20);
  await until(parquet);
  expect((await all()).map((e) => e.seq)).toEqual([1]);
  await log.stop();
});

async function writeSegment(firstSeq: number, count: number, tail: Buffer = Buffer.alloc(0)) {
  await mkdir(join(dir, "journal"), { recursive: true });
  const frames = [];
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i;
    frames.push(
      encodeFrame(
        encodeRecord({ ...event("takeover", seq), seq, timeNs: 1_700_000_000_123_456_789n + BigInt(seq) }),
      ),
    );
  }
  await writeFile(join(dir, "journal", segmentName(firstSeq)), Buffer.concat([...frames, tail]));
}

test("on start a torn journal tail is skipped with a warning and the rest is converted", async () => {
  const torn = encodeFrame(Buffer.from('{"v":1,"seq":99')).subarray(0, 20);
  await writeSegment(1, 5, torn);
  const { log, lines, registry } = newLog(dir);
  await log.start();
  expect((await all()).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  expect(lines.some((l) => l.msg === "audit journal: torn tail skipped" && l.bytes === 20)).toBe(true);
  expect(await metric(registry, "herald_audit_journal_skipped_bytes_total")).toBe(20);
  // numbering continues after what was recovered
  const ack = await log.record(event("announce", 6));
  expect(ack).toEqual({ durable: true, seq: 6 });
  await log.stop();
});

test("a crash between writing the Parquet file and deleting the segment leaves no duplicates", async () => {
  await writeSegment(1, 3);
  const { log: first } = newLog(dir);
  await first.start();
  await first.stop();
  const events = await all();
  // put the segment back, as if the process had died before unlinking it
  await writeSegment(1, 3);
  await writeFile(join(dir, `${parquetName(9, 9)}.tmp`), "half-written");
  const { log } = newLog(dir);
  await log.start();
  expect(await all()).toEqual(events);
  expect(await readdir(join(dir, "journal"))).toEqual([]);
  expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  await log.stop();
});

test("a full disk is reported (ack, metric, readiness, log) and the log recovers when space returns", async () => {
  let full: string | undefined;
  const clock = new FakeClock();
  const { log, registry, lines } = newLog(dir, { disk: faultyDisk(nodeDisk, () => full), clock });
  await log.start();
  expect(log.isReady()).toBe(true);
  expect((await log.record(event("allocated", 1))).durable).toBe(true);
  full = "ENOSPC";
  const ack = await log.record(event("allocated", 2));
  expect(ack.durable).toBe(false);
  if (!ack.durable) expect(ack.error.sysCode).toBe("ENOSPC");
  expect(log.isReady()).toBe(false);
  expect(await metric(registry, "herald_audit_ready")).toBe(0);
  expect(await metric(registry, "herald_audit_errors_total", { op: "journal", code: "ENOSPC" })).toBe(1);
  expect(lines.some((l) => l.level === 50 && l.code === "HERALD_AUDIT_JOURNAL_WRITE")).toBe(true);
  full = undefined;
  expect((await log.record(event("allocated", 3))).durable).toBe(true);
  // The segment sealed at the failure is converted when housekeeping retries.
  await until(async () => {
    clock.advance(20);
    return log.isReady();
  });
  await log.stop();
  expect((await all()).map((e) => e.seq)).toEqual([1, 3]);
});

test("an unwritable directory does not make start() throw; record() answers not durable", async () => {
  await writeFile(join(dir, "file"), "");
  const { log } = newLog(join(dir, "file", "audit"));
  await log.start();
  expect(log.isReady()).toBe(false);
  const ack = await log.record(event("allocated", 1));
  expect(ack.durable).toBe(false);
  await log.stop();
});

test("retention removes files by age and by total size, oldest first, never the newest", async () => {
  const sizes: number[] = [];
  for (let f = 0; f < 4; f++) {
    const seq = f * 10 + 1;
    const buf = await encodeParquet([{ ...event("announce", f), seq, timeNs: BigInt(seq) }], 100);
    sizes.push(buf.length);
    const path = join(dir, parquetName(seq, seq));
    await writeFile(path, buf);
    const ageSeconds = (4 - f) * 86_400; // 4, 3, 2, 1 days old
    const t = Date.now() / 1000 - ageSeconds;
    await utimes(path, t, t);
  }
  const { log } = newLog(dir, { retention: { maxAgeMs: 2.5 * 86_400_000 } });
  await log.start();
  await log.stop();
  expect((await all()).map((e) => e.seq)).toEqual([21, 31]);
  const { log: bySize } = newLog(dir, { retention: { maxBytes: 1 } });
  await bySize.start();
  await bySize.stop();
  expect((await all()).map((e) => e.seq)).toEqual([31]);
  await appendFile(join(dir, "unrelated.txt"), "kept");
  expect(await readdir(dir)).toContain("unrelated.txt");
});

/** Waits (on the event loop, not a fixed time) until the check holds, for at most 10 s of real time. */
async function until(check: () => Promise<boolean>) {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in 10 s");
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("retention also runs while no file is written: files age out by the injected clock", async () => {
  for (let f = 0; f < 3; f++) {
    const seq = f * 10 + 1;
    const buf = await encodeParquet([{ ...event("announce", f), seq, timeNs: BigInt(seq) }], 100);
    await writeFile(join(dir, parquetName(seq, seq)), buf);
  }
  const clock = new FakeClock();
  for (const name of await readdir(dir))
    await utimes(join(dir, name), clock.wall() / 1000, clock.wall() / 1000);
  const { log, registry } = newLog(dir, {
    clock,
    housekeepingMs: 1000,
    retention: { maxAgeMs: 7 * 86_400_000 },
    retentionIntervalMs: 60_000,
  });
  await log.start();
  const parquet = async () => (await readdir(dir)).filter((n) => n.endsWith(".parquet")).sort();
  expect(await parquet()).toHaveLength(3);
  clock.stepWall(8 * 86_400_000); // a week and a day later, nothing written meanwhile
  clock.advance(59_000);
  expect(await parquet()).toHaveLength(3); // retention waits for its interval
  clock.advance(1000);
  await until(async () => (await parquet()).length === 1);
  expect(await parquet()).toEqual([parquetName(21, 21)]); // the newest stays: it holds the highest seq
  expect(await metric(registry, "herald_audit_retention_deleted_files_total", { cause: "age" })).toBe(2);
  await log.stop();
});

test("retention by size runs after each Parquet file is written and counts what it removed", async () => {
  const { log, registry } = newLog(dir, { segmentBytes: 2048, retention: { maxBytes: 1 } });
  await log.start();
  for (let i = 0; i < 100; i++) await log.record(event("announce", i));
  await log.stop();
  const files = (await readdir(dir)).filter((n) => n.endsWith(".parquet"));
  expect(files).toHaveLength(1);
  expect(
    await metric(registry, "herald_audit_retention_deleted_files_total", { cause: "size" }),
  ).toBeGreaterThan(3);
  expect(await metric(registry, "herald_audit_parquet_files")).toBe(1);
});

test("a failed conversion keeps the segment in the journal and is retried once the disk has room", async () => {
  let full: string | undefined;
  const disk = faultyDisk(nodeDisk, () => full);
  const clock = new FakeClock();
  const { log, registry } = newLog(dir, {
    disk: { ...disk, createAppend: nodeDisk.createAppend },
    segmentBytes: 1,
    clock,
  });
  await log.start();
  full = "ENOSPC";
  expect((await log.record(event("moved", 1))).durable).toBe(true); // the journal still has room
  await until(async () => !log.isReady());
  expect(
    await metric(registry, "herald_audit_errors_total", { op: "parquet", code: "ENOSPC" }),
  ).toBeGreaterThan(0);
  expect(await readdir(join(dir, "journal"))).toHaveLength(1);
  expect((await all()).map((e) => e.seq)).toEqual([1]); // still queryable from the journal
  full = undefined;
  await until(async () => {
    clock.advance(20);
    return log.isReady();
  });
  expect(await readdir(join(dir, "journal"))).toEqual([]);
  await log.stop();
  expect((await all()).map((e) => e.seq)).toEqual([1]);
});

test("herald audit tail follows events as they become durable", async () => {
  const clock = new FakeClock();
  const { log } = newLog(dir, { clock });
  await log.start();
  await log.record(event("allocated", 1));
  const seen: number[] = [];
  const stop = new AbortController();
  const following = followEvents(
    dir,
    { kinds: ["announce"] },
    await lastSeq(dir),
    (e) => seen.push(e.seq),
    stop.signal,
    10,
    nodeDisk,
    clock,
  );
  await log.record(event("announce", 2));
  await log.record(event("withdraw", 3));
  await log.record(event("announce", 4));
  await until(async () => {
    clock.advance(10);
    return seen.length >= 2;
  });
  stop.abort();
  await following;
  expect(seen).toEqual([2, 4]);
  await log.stop();
});

test("times keep nanosecond digits and never go backwards, even when the clock does", async () => {
  const clock = new FakeClock();
  const { log } = newLog(dir, { clock });
  const epochNs = BigInt(FakeClock.EPOCH) * 1_000_000n;
  await log.start();
  clock.advance(0.000789);
  await log.record(event("announce", 0));
  await log.record(event("announce", 1));
  clock.stepWall(-1000);
  await log.record(event("announce", 2));
  clock.advance(2000);
  await log.record(event("announce", 3));
  await log.stop();
  expect((await all()).map((e) => e.timeNs)).toEqual([
    epochNs + 789n,
    epochNs + 790n,
    epochNs + 791n,
    epochNs + 1_000_000_000n,
  ]);
});

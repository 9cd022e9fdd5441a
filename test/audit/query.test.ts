import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Fastify from "fastify";
import { Registry } from "prom-client";
import { type AuditEvent, formatTimeNs } from "../../src/audit/event.js";
import { parseFilter } from "../../src/audit/filter.js";
import { auditRoutes } from "../../src/audit/http.js";
import { parquetName } from "../../src/audit/layout.js";
import { encodeParquet } from "../../src/audit/parquet-file.js";
import { emptyStats, queryEvents } from "../../src/audit/query.js";
import { runHerald } from "../../src/cli/herald.js";
import { FakeClock } from "../clock.js";
import { event, metric, tempDir } from "./helpers.js";

const T0 = 1_795_000_000_000_000_000n;
const HOUR = 3_600_000_000_000n;
const MINUTE = 60_000_000_000n;
/** The time of the i-th event (0-based) of file f. */
const at = (f: number, i: number, plusNs = 0n) =>
  formatTimeNs(T0 + BigInt(f) * HOUR + BigInt(i) * MINUTE + 7n + plusNs);
let dir: string;
let cleanup: () => Promise<void>;

// Three files of 20 events, one per hour; row groups of 5 rows.
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  for (let f = 0; f < 3; f++) {
    const events: AuditEvent[] = [];
    for (let i = 0; i < 20; i++) {
      const seq = f * 20 + i + 1;
      const kind = seq % 2 === 0 ? "announce" : "allocated";
      events.push({
        ...event(kind, seq),
        seq,
        timeNs: T0 + BigInt(f) * HOUR + BigInt(i) * 60_000_000_000n + 7n,
      });
    }
    await writeFile(join(dir, parquetName(f * 20 + 1, f * 20 + 20)), await encodeParquet(events, 5));
  }
});
afterAll(() => cleanup());

async function seqs(params: Record<string, string>) {
  const stats = emptyStats();
  const out: number[] = [];
  for await (const e of queryEvents(dir, parseFilter(params, T0 + 10n * HOUR), stats)) out.push(e.seq);
  return { out, stats };
}

test.each([
  ["address", { address: "2001:db8::5" }, [4]],
  ["address in another spelling", { address: "2001:DB8:0:0::5" }, [4]],
  ["address shared by events in several files", { address: "192.0.2.7" }, [7]],
  ["service", { service: "ns-1/svc-33" }, [33]],
  // node-0 decides seq 3, 6, ...; is the from-node of 2, 5, ...; the to-node of 3, 6, ...
  ["node, also as from/to node", { node: "node-0", until: at(0, 5) }, [2, 3, 5, 6]],
  ["kind", { kind: "announce", since: at(2, 15) }, [56, 58, 60]],
  ["time range across two files", { since: at(0, 19), until: at(1, 3) }, [20, 21, 22, 23, 24]],
  ["time bounds to the nanosecond", { since: at(1, 0, 1n), until: at(1, 2, -1n) }, [22]],
  [
    "relative time (now is 10 h after the first event)",
    { since: "8h", until: "470m" },
    [41, 42, 43, 44, 45, 46, 47, 48, 49, 50],
  ],
  ["relative time before everything", { until: "11h" }, []],
])("query by %s", async (_name, params, expected) => {
  expect((await seqs(params)).out).toEqual(expected);
});

test("row-group statistics skip whole files and row groups", async () => {
  const { stats } = await seqs({ since: at(2, 15) });
  expect(stats.files).toBe(3);
  expect(stats.filesSkipped).toBe(2);
  const absent = await seqs({ address: "203.0.113.1" });
  expect(absent.stats.rowGroupsDecoded).toBe(0);
  // Bloom filters leave only the row group that holds the address
  const present = await seqs({ address: "2001:db8::5" });
  expect(present.stats.rowGroupsDecoded).toBe(1);
  const service = await seqs({ service: "ns-1/svc-33" });
  expect(service.stats.rowGroupsDecoded).toBe(1);
});

test.each([
  ["address=300.1.2.3", "address"],
  ["address=fe80::1%25eth0", "has a zone (%eth0)"],
  ["address=::ffff:192.0.2.1", "write the IPv4 address 192.0.2.1 instead"],
  ["service=only-a-name", "service"],
  ["kind=exploded", "kind"],
  ["since=yesterday", "since"],
  ["since=1h&until=2h", "since is later than until"],
  ["limit=0", "limit"],
  ["limit=abc", "limit"],
  ["after=-1", "after"],
  ["colour=blue", "unknown parameter"],
])("GET /audit?%s is a 400 naming the problem", async (qs, word) => {
  const app = Fastify();
  await app.register(auditRoutes, { dir });
  const res = await app.inject({ method: "GET", url: `/audit?${qs}` });
  expect(res.statusCode).toBe(400);
  expect(res.json().code).toBe("HERALD_AUDIT_BAD_QUERY");
  expect(res.json().message).toContain(word);
  await app.close();
});

test("GET /audit counts relative times back from the injected clock", async () => {
  const clock = new FakeClock();
  // The clock's wall time: 10 h after the first event, as in the queries above.
  clock.stepWall(Number((T0 + 10n * HOUR) / 1_000_000n) - clock.wall());
  const app = Fastify();
  await app.register(auditRoutes, { dir, clock });
  const body = (await app.inject({ method: "GET", url: "/audit?since=8h&until=470m" })).json();
  expect(body.events.map((e: { seq: number }) => e.seq)).toEqual([41, 42, 43, 44, 45, 46, 47, 48, 49, 50]);
  await app.close();
});

test("GET /audit pages through the results", async () => {
  const app = Fastify();
  await app.register(auditRoutes, { dir });
  const seen: number[] = [];
  let url = "/audit?kind=announce&limit=7";
  for (let pages = 0; pages < 10; pages++) {
    const body = (await app.inject({ method: "GET", url })).json();
    seen.push(...body.events.map((e: { seq: number }) => e.seq));
    if (body.next === null) break;
    url = `/audit?kind=announce&limit=7&after=${body.next}`;
  }
  expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => 2 * (i + 1)));
  const one = (await app.inject({ method: "GET", url: "/audit?limit=1" })).json();
  expect(one.events[0]).toMatchObject({ seq: 1, time: at(0, 0), kind: "allocated" });
  await app.close();
});

test("herald audit query prints table, json and csv", async () => {
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runHerald(["audit", "query", "--dir", dir, ...args], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    return { code, out, err };
  };
  const json = await run("--service", "ns-0/svc-4", "--format", "json");
  expect(json.code).toBe(0);
  expect(json.out.map((l) => JSON.parse(l).seq)).toEqual([4]);
  const csv = await run("--address", "2001:db8::5", "--format", "csv");
  expect(csv.out[0]).toMatch(/^time,seq,/);
  expect(csv.out[1]).toContain('"event 4 with ""quotes"", commas and ünïcode"');
  const table = await run("--limit", "2");
  expect(table.out).toHaveLength(3);
  const badArg = await run("--since", "tuesday");
  expect(badArg.code).toBe(2);
  expect(badArg.err.join("")).toContain("since");
});

describe("a directory with unreadable files", () => {
  let bad: string;
  let cleanBad: () => Promise<void>;
  const truncated = parquetName(21, 40);
  const garbage = parquetName(61, 61);
  beforeAll(async () => {
    ({ dir: bad, cleanup: cleanBad } = await tempDir());
    for (const name of [parquetName(1, 20), parquetName(41, 60)]) {
      await writeFile(join(bad, name), await readFile(join(dir, name)));
    }
    const whole = await readFile(join(dir, truncated));
    await writeFile(join(bad, truncated), whole.subarray(0, Math.floor(whole.length / 2)));
    await writeFile(join(bad, garbage), Buffer.alloc(4096, 0x5a));
  });
  afterAll(() => cleanBad());
  const good = [
    ...Array.from({ length: 20 }, (_, i) => i + 1),
    ...Array.from({ length: 20 }, (_, i) => i + 41),
  ];

  test("a query answers the good files' rows and names the files it skipped", async () => {
    const stats = emptyStats();
    const seen: number[] = [];
    for await (const e of queryEvents(bad, {}, stats)) seen.push(e.seq);
    expect(seen).toEqual(good);
    expect(stats.filesUnreadable).toBe(2);
    expect(stats.warnings.map((w) => [w.file, w.code])).toEqual([
      [truncated, "HERALD_AUDIT_BAD_FILE"],
      [garbage, "HERALD_AUDIT_BAD_FILE"],
    ]);
  });

  test("GET /audit answers 200 with the rows, a warnings field and a counted metric", async () => {
    const registry = new Registry();
    const app = Fastify();
    await app.register(auditRoutes, { dir: bad, registry });
    const res = await app.inject("/audit?limit=1000");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.events.map((e: { seq: number }) => e.seq)).toEqual(good);
    expect(body.warnings.map((w: { file: string }) => w.file)).toEqual([truncated, garbage]);
    expect(body.warnings[0].message).toContain("unreadable");
    expect(await metric(registry, "herald_audit_query_unreadable_files_total")).toBe(2);
    await app.close();
  });

  test("herald audit query prints the rows on stdout and the warnings on stderr", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runHerald(["audit", "query", "--dir", bad, "--format", "json"], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    expect(code).toBe(0);
    expect(out.map((l) => JSON.parse(l).seq)).toEqual(good);
    expect(err).toHaveLength(2);
    expect(err[0]).toContain(`warning: ${truncated}`);
    expect(err[1]).toContain(`warning: ${garbage}`);
  });
});

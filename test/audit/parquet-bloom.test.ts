import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import parquet from "@dsnp/parquetjs";
import { openAuditFile } from "../../src/audit/parquet-file.js";
import { fixtureEvents } from "./fixture-events.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/schema-v1.parquet", import.meta.url));

test("a file written by an earlier Herald still reads: rows, nanosecond times and Bloom filters", async () => {
  const file = await openAuditFile(FIXTURE);
  try {
    expect(file.schemaVersion).toBe(1);
    const events = [];
    for (let i = 0; i < file.rowGroups.length; i++) events.push(...(await file.readRowGroup(i)));
    expect(events.sort((a, b) => a.seq - b.seq)).toEqual(fixtureEvents());
    // Each event's address is in its own row group's filter.
    const groups = await Promise.all(file.rowGroups.map((_, i) => file.readRowGroup(i, ["addresses"])));
    for (const [i, rows] of groups.entries()) {
      for (const e of rows)
        for (const a of e.addresses ?? []) expect(await file.mayContain(i, "addresses", a)).toBe(true);
    }
    const absent = await Promise.all(
      file.rowGroups.map((_, i) => file.mayContain(i, "addresses", "203.0.113.9")),
    );
    expect(absent.filter(Boolean).length).toBeLessThan(file.rowGroups.length);
  } finally {
    await file.close();
  }
});

// Why Herald writes its own Bloom filters (src/audit/bloom.ts) rather than using parquetjs's
// `bloomFilters` writer option: read back through parquetjs's own reader, its filters deny
// values the row group holds. A Bloom filter that answers "absent" wrongly makes a query miss
// events. When this test fails, parquetjs's filters may have become usable.
test("parquetjs's own Bloom filters deny values the file holds", async () => {
  const schema = new parquet.ParquetSchema({ address: { type: "UTF8" } });
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  const values = ["192.0.2.1", "192.0.2.2", "198.51.100.1", "198.51.100.2"];
  const writer = await parquet.ParquetWriter.openStream(schema, sink as never, {
    rowGroupSize: 2,
    bloomFilters: [{ column: "address", numFilterBytes: 1024 }],
  });
  for (const address of values) await writer.appendRow({ address });
  await writer.close();
  const reader = await parquet.ParquetReader.openBuffer(Buffer.concat(chunks));
  const filters = (await reader.getBloomFiltersFor(["address"])).address ?? [];
  expect(filters).toHaveLength(2);
  const held = await Promise.all(
    filters.map((f) =>
      Promise.all(values.slice(f.rowGroupIndex * 2, f.rowGroupIndex * 2 + 2).map((v) => f.sbbf.check(v))),
    ),
  );
  expect(held.flat()).toContain(false);
  await reader.close();
});

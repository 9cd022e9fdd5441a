import { DuckDBInstance } from "@duckdb/node-api";
import { EVENT_KINDS } from "../../src/audit/event.js";
import { queryEvents } from "../../src/audit/query.js";
import { event, newLog, tempDir } from "./helpers.js";

test("DuckDB reads the files Herald wrote: same rows, same types", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const { log } = newLog(dir, { rowGroupRows: 4 });
    await log.start();
    for (const [i, kind] of EVENT_KINDS.entries()) await log.record(event(kind, i));
    await log.record({ component: "speaker", kind: "withdraw" }); // optional fields left empty
    await log.stop();
    const ours = [];
    for await (const e of queryEvents(dir, {})) ours.push(e);

    const db = await DuckDBInstance.create(":memory:");
    const conn = await db.connect();
    const glob = `${dir}/*.parquet`;
    const types = (
      await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${glob}')`)
    ).getRowObjects();
    expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).toEqual({
      seq: "BIGINT",
      time: "TIMESTAMP_NS",
      component: "VARCHAR",
      node: "VARCHAR",
      kind: "VARCHAR",
      service_namespace: "VARCHAR",
      service_name: "VARCHAR",
      service_uid: "VARCHAR",
      addresses: "VARCHAR[]",
      pool: "VARCHAR",
      from_node: "VARCHAR",
      to_node: "VARCHAR",
      reason: "VARCHAR",
      message: "VARCHAR",
      resource_version: "VARCHAR",
    });
    const rows = (
      await conn.runAndReadAll(
        `SELECT seq, epoch_ns(time) AS time_ns, component, node, kind, service_namespace, service_name, service_uid,
                addresses, pool, from_node, to_node, reason, message, resource_version
         FROM read_parquet('${glob}') ORDER BY seq`,
      )
    ).getRowObjectsJS();
    expect(rows).toEqual(
      ours.map((e) => ({
        seq: BigInt(e.seq),
        time_ns: e.timeNs,
        component: e.component,
        node: e.node ?? null,
        kind: e.kind,
        service_namespace: e.service?.namespace ?? null,
        service_name: e.service?.name ?? null,
        service_uid: e.service?.uid ?? null,
        addresses: e.addresses ?? [],
        pool: e.pool ?? null,
        from_node: e.fromNode ?? null,
        to_node: e.toNode ?? null,
        reason: e.reason ?? null,
        message: e.message ?? null,
        resource_version: e.resourceVersion ?? null,
      })),
    );
    const kv = (
      await conn.runAndReadAll(
        `SELECT decode(value) AS v FROM parquet_kv_metadata('${glob}') WHERE decode(key) = 'herald.audit.schema_version'`,
      )
    ).getRowObjectsJS();
    expect(kv).toEqual([{ v: "1" }]);
    // DuckDB checks Herald's Bloom filters with its own hashing: a Service's row group
    // is never excluded, the other row groups are (4 rows per group here).
    const probe = async (name: string) =>
      (
        await conn.runAndReadAll(
          `SELECT row_group_id AS g, bloom_filter_excludes AS x FROM parquet_bloom_probe('${glob}', 'service_name', '${name}') ORDER BY g`,
        )
      ).getRowObjectsJS();
    expect(await probe("svc-5")).toEqual([0n, 1n, 2n].map((g) => ({ g, x: g !== 1n })));
    expect((await probe("svc-none")).every((r) => r.x === true)).toBe(true);
    conn.closeSync();
  } finally {
    await cleanup();
  }
});

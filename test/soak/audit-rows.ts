// The audit rows of a soak, read from every component's Parquet files with DuckDB (not with
// Herald's own reader: the referee trusts the files, not the code that wrote them). Journal
// segments left unconverted are counted: after a graceful stop there should be none.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import type { AuditRow } from "./model.js";

export async function readAuditRows(dirs: ReadonlyMap<string, string>): Promise<{
  rows: AuditRow[];
  files: number;
  unconvertedSegments: number;
}> {
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  const rows: AuditRow[] = [];
  let files = 0;
  let unconvertedSegments = 0;
  try {
    for (const [name, dir] of dirs) {
      const journal = join(dir, "journal");
      if (existsSync(journal))
        unconvertedSegments += readdirSync(journal).filter((f) => f.endsWith(".wal")).length;
      const parquet = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".parquet")) : [];
      files += parquet.length;
      if (parquet.length === 0) continue;
      const glob = join(dir, "*.parquet").replaceAll("'", "''");
      const result = await conn.runAndReadAll(
        `SELECT seq, epoch_ms(time) AS time_ms, component, node, kind, service_uid, service_name, addresses
         FROM read_parquet('${glob}') ORDER BY seq`,
      );
      for (const r of result.getRowObjectsJS()) {
        const addresses = (r.addresses as string[] | null) ?? [];
        rows.push({
          dir: name,
          component: String(r.component),
          ...(r.node ? { node: String(r.node) } : {}),
          seq: Number(r.seq),
          timeMs: Number(r.time_ms),
          kind: String(r.kind),
          ...(r.service_uid ? { serviceUid: String(r.service_uid) } : {}),
          ...(r.service_name ? { serviceName: String(r.service_name) } : {}),
          addresses: [...addresses].map(String),
        });
      }
    }
  } finally {
    conn.closeSync();
  }
  return { rows, files, unconvertedSegments };
}

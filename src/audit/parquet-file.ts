// Audit events to and from Parquet with @dsnp/parquetjs.
//
// parquetjs writes converted types only, and there is no converted type for
// nanosecond timestamps; the writer leaves `time` a plain INT64 and
// `withNanosecondTime` then adds the TIMESTAMP(NANOS) logical type to the
// footer. Only the footer changes: every offset in it points before it, so
// the file stays valid.

import type { WriteStream } from "node:fs";
import { Writable } from "node:stream";
import parquet from "@dsnp/parquetjs";
import thrift from "@dsnp/parquetjs/dist/gen-nodejs/parquet_types.js";
import type { RowGroupExt } from "@dsnp/parquetjs/dist/lib/declare.js";
import shred from "@dsnp/parquetjs/dist/lib/shred.js";
import parquetUtil from "@dsnp/parquetjs/dist/lib/util.js";
import { AuditError, describe } from "./errors.js";
import { AUDIT_SCHEMA_VERSION, type AuditEvent, type Component, type EventKind } from "./event.js";

const COMPRESSION = "GZIP";
const text = { type: "UTF8", compression: COMPRESSION } as const;
const optionalText = { ...text, optional: true } as const;

/** Column layout of schema version 1. New columns are only ever added, optional, at the end. */
const schema = new parquet.ParquetSchema({
  seq: { type: "INT64", compression: COMPRESSION },
  time: { type: "INT64", compression: COMPRESSION },
  component: text,
  node: optionalText,
  kind: text,
  service_namespace: optionalText,
  service_name: optionalText,
  service_uid: optionalText,
  addresses: { ...text, repeated: true },
  pool: optionalText,
  from_node: optionalText,
  to_node: optionalText,
  reason: optionalText,
  message: optionalText,
  resource_version: optionalText,
});

export const META_SCHEMA_VERSION = "herald.audit.schema_version";
export const META_FIRST_SEQ = "herald.audit.first_seq";
export const META_LAST_SEQ = "herald.audit.last_seq";

interface Row {
  seq: bigint;
  time: bigint;
  component: string;
  node?: string | null;
  kind: string;
  service_namespace?: string | null;
  service_name?: string | null;
  service_uid?: string | null;
  addresses?: string[] | null;
  pool?: string | null;
  from_node?: string | null;
  to_node?: string | null;
  reason?: string | null;
  message?: string | null;
  resource_version?: string | null;
}

function toRow(e: AuditEvent): Row {
  return {
    seq: BigInt(e.seq),
    time: e.timeNs,
    component: e.component,
    node: e.node,
    kind: e.kind,
    service_namespace: e.service?.namespace,
    service_name: e.service?.name,
    service_uid: e.service?.uid,
    addresses: e.addresses ?? [],
    pool: e.pool,
    from_node: e.fromNode,
    to_node: e.toNode,
    reason: e.reason,
    message: e.message,
    resource_version: e.resourceVersion,
  };
}

function fromRow(r: Row): AuditEvent {
  const e: AuditEvent = {
    seq: Number(r.seq ?? 0),
    timeNs: r.time == null ? 0n : BigInt(r.time),
    component: r.component as Component,
    kind: r.kind as EventKind,
  };
  if (r.node != null) e.node = r.node;
  if (r.service_namespace != null && r.service_name != null) {
    e.service = { namespace: r.service_namespace, name: r.service_name };
    if (r.service_uid != null) e.service.uid = r.service_uid;
  }
  if (r.addresses != null && r.addresses.length > 0) e.addresses = [...r.addresses];
  if (r.pool != null) e.pool = r.pool;
  if (r.from_node != null) e.fromNode = r.from_node;
  if (r.to_node != null) e.toNode = r.to_node;
  if (r.reason != null) e.reason = r.reason;
  if (r.message != null) e.message = r.message;
  if (r.resource_version != null) e.resourceVersion = r.resource_version;
  return e;
}

/** Encodes events (in seq order) as one Parquet file, in memory. */
export async function encodeParquet(events: AuditEvent[], rowGroupRows: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  const writer = await parquet.ParquetWriter.openStream(schema, sink as unknown as WriteStream, {
    rowGroupSize: rowGroupRows,
  });
  for (const e of events) await writer.appendRow(toRow(e) as unknown as Record<string, unknown>);
  writer.setMetadata(META_SCHEMA_VERSION, String(AUDIT_SCHEMA_VERSION));
  writer.setMetadata(META_FIRST_SEQ, String(events[0]?.seq ?? 0));
  writer.setMetadata(META_LAST_SEQ, String(events.at(-1)?.seq ?? 0));
  await writer.close();
  return withNanosecondTime(Buffer.concat(chunks));
}

function withNanosecondTime(file: Buffer): Buffer {
  const footerLength = file.readUInt32LE(file.length - 8);
  const footerStart = file.length - 8 - footerLength;
  const metadata = new thrift.FileMetaData();
  parquetUtil.decodeThrift(metadata, file.subarray(footerStart, file.length - 8));
  const time = metadata.schema.find((el) => el.name === "time");
  if (!time) throw new Error("time column missing from the written schema");
  // isAdjustedToUTC=false: engines then keep all nine digits (DuckDB reads TIMESTAMP_NS;
  // with true it reads a microsecond TIMESTAMPTZ). The values are UTC all the same.
  time.logicalType = new thrift.LogicalType({
    TIMESTAMP: new thrift.TimestampType({
      isAdjustedToUTC: false,
      unit: new thrift.TimeUnit({ NANOS: new thrift.NanoSeconds() }),
    }),
  });
  const encoded = parquetUtil.serializeThrift(metadata);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(encoded.length, 0);
  trailer.write("PAR1", 4, "latin1");
  return Buffer.concat([file.subarray(0, footerStart), encoded, trailer]);
}

export interface ColumnRange {
  min: unknown;
  max: unknown;
}

export interface RowGroupInfo {
  rows: number;
  /** min/max statistics per column name, where the writer recorded them. */
  stats: Map<string, ColumnRange>;
}

export interface AuditFile {
  schemaVersion: number;
  rowGroups: RowGroupInfo[];
  /** Reads the given columns (all when empty) of one row group, as events. */
  readRowGroup(index: number, columns?: string[]): Promise<AuditEvent[]>;
  close(): Promise<void>;
}

type Reader = Awaited<ReturnType<typeof parquet.ParquetReader.openFile>>;

export async function openAuditFile(path: string): Promise<AuditFile> {
  let reader: Reader;
  try {
    reader = await parquet.ParquetReader.openFile(path);
  } catch (error) {
    throw new AuditError(
      "HERALD_AUDIT_BAD_FILE",
      `${path}: not a readable Parquet file: ${describe(error)}`,
      error,
    );
  }
  const meta = reader.getMetadata() as Record<string, string | undefined>;
  const schemaVersion = Number(meta[META_SCHEMA_VERSION] ?? Number.NaN);
  if (!Number.isInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > AUDIT_SCHEMA_VERSION) {
    await reader.close();
    throw new AuditError(
      "HERALD_AUDIT_BAD_FILE",
      `${path}: audit schema version ${meta[META_SCHEMA_VERSION] ?? "(none)"} is not one this Herald reads (1..${AUDIT_SCHEMA_VERSION})`,
    );
  }
  const metadata = reader.metadata;
  const envelope = reader.envelopeReader;
  if (!metadata || !envelope) throw new AuditError("HERALD_AUDIT_BAD_FILE", `${path}: no metadata`);
  const groups = metadata.row_groups as RowGroupExt[];
  const rowGroups = groups.map((rg) => {
    const stats = new Map<string, ColumnRange>();
    for (const col of rg.columns) {
      const s = col.meta_data?.statistics as { min_value?: unknown; max_value?: unknown } | undefined;
      const name = col.meta_data?.path_in_schema[0];
      if (name && s && s.min_value !== undefined && s.max_value !== undefined) {
        stats.set(name, { min: s.min_value, max: s.max_value });
      }
    }
    return { rows: Number(rg.num_rows), stats };
  });
  return {
    schemaVersion,
    rowGroups,
    async readRowGroup(index, columns = []) {
      const rg = groups[index];
      if (!rg) return [];
      try {
        const buffer = await envelope.readRowGroup(
          reader.schema,
          rg,
          columns.map((c) => [c]),
        );
        return (shred.materializeRecords(reader.schema, buffer) as unknown as Row[]).map(fromRow);
      } catch (error) {
        throw new AuditError(
          "HERALD_AUDIT_BAD_FILE",
          `${path}: row group ${index}: ${describe(error)}`,
          error,
        );
      }
    },
    close: () => reader.close(),
  };
}

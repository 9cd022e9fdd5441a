// Audit events to and from Parquet with @dsnp/parquetjs, through its public API
// (ParquetWriter, ParquetReader, ParquetShredder) except for the footer:
//
// - parquetjs writes converted types only (ParquetEnvelopeWriter's footer encoder sets
//   `converted_type` and drops a field's `logicalType`), and there is no converted type
//   for nanosecond timestamps. The writer leaves `time` a plain INT64 and finishFooter
//   adds the TIMESTAMP(NANOS) logical type. Only the footer changes: every offset in it
//   points before it, so the file stays valid. Decoding and encoding the footer needs
//   parquetjs's thrift classes and (de)serialiser, which it does not export: the two
//   deep imports below are for that alone.
// - Bloom filters are Herald's own (bloom.ts), not parquetjs's `bloomFilters` option:
//   parquetjs keeps one filter per column for the whole file, writes it again after
//   every row group, inserts values without awaiting the hash, and leaves
//   bloom_filter_length unset; its filters deny values the file holds
//   (test/audit/parquet-bloom.test.ts shows it).

import type { WriteStream } from "node:fs";
import { Writable } from "node:stream";
import parquet, { type RowGroupExt } from "@dsnp/parquetjs";
import thrift from "@dsnp/parquetjs/dist/gen-nodejs/parquet_types.js";
import parquetUtil from "@dsnp/parquetjs/dist/lib/util.js";
import { bloomBytesFor, bloomHasher, SplitBlockBloom } from "./bloom.js";
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

/**
 * Small row groups keep a lookup cheap: a Bloom filter hit costs decoding one
 * group, and parquetjs decodes on the order of 10^5 rows per second.
 */
export const DEFAULT_ROW_GROUP_ROWS = 1024;

/** Encodes events (given in seq order) as one Parquet file, in memory. */
export async function encodeParquet(
  events: AuditEvent[],
  rowGroupRows = DEFAULT_ROW_GROUP_ROWS,
): Promise<Buffer> {
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
  const ordered = storageOrder(events);
  for (const e of ordered) await writer.appendRow(toRow(e) as unknown as Record<string, unknown>);
  writer.setMetadata(META_SCHEMA_VERSION, String(AUDIT_SCHEMA_VERSION));
  writer.setMetadata(META_FIRST_SEQ, String(events[0]?.seq ?? 0));
  writer.setMetadata(META_LAST_SEQ, String(events.at(-1)?.seq ?? 0));
  await writer.close();
  return finishFooter(Buffer.concat(chunks), ordered);
}

/**
 * Rows are stored by first address, then seq: the events of one address (and so
 * of one Service) share a few row groups instead of spreading over all of them,
 * so a lookup decodes little. Readers sort by seq.
 */
function storageOrder(events: AuditEvent[]): AuditEvent[] {
  const key = (e: AuditEvent) => e.addresses?.[0] ?? "";
  return [...events].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : a.seq - b.seq;
  });
}

/** Columns that get a Bloom filter per row group: the ones looked up by equality. */
const BLOOM_COLUMNS: Record<string, (e: AuditEvent) => string[]> = {
  addresses: (e) => e.addresses ?? [],
  service_name: (e) => (e.service ? [e.service.name] : []),
};

/**
 * Rewrites the footer: TIMESTAMP(NANOS) on `time`, and Bloom filters (placed
 * between the row groups and the footer) on the BLOOM_COLUMNS.
 */
async function finishFooter(file: Buffer, events: AuditEvent[]): Promise<Buffer> {
  const footerLength = file.readUInt32LE(file.length - 8);
  const footerStart = file.length - 8 - footerLength;
  const metadata = new thrift.FileMetaData();
  parquetUtil.decodeThrift(metadata, file.subarray(footerStart, file.length - 8));
  const blooms = await bloomFilters(metadata, events, footerStart);
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
  return Buffer.concat([file.subarray(0, footerStart), ...blooms, encoded, trailer]);
}

async function bloomFilters(
  metadata: thrift.FileMetaData,
  events: AuditEvent[],
  start: number,
): Promise<Buffer[]> {
  const hash = await bloomHasher();
  // thrift's Int64 (node-int64) without depending on it directly
  const Int64 = metadata.num_rows.constructor as new (n: number) => typeof metadata.num_rows;
  const out: Buffer[] = [];
  let offset = start;
  let first = 0;
  for (const rg of metadata.row_groups) {
    const rows = events.slice(first, first + Number(rg.num_rows));
    first += rows.length;
    for (const col of rg.columns) {
      const name = col.meta_data?.path_in_schema[0];
      const values = name === undefined ? undefined : BLOOM_COLUMNS[name];
      if (!values || !col.meta_data) continue;
      const distinct = new Set(rows.flatMap(values));
      const filter = SplitBlockBloom.withBytes(bloomBytesFor(distinct.size));
      for (const v of distinct) filter.insert(hash(Buffer.from(v)));
      const bitset = filter.bitset();
      const header = parquetUtil.serializeThrift(
        new thrift.BloomFilterHeader({
          numBytes: bitset.length,
          algorithm: new thrift.BloomFilterAlgorithm({ BLOCK: new thrift.SplitBlockAlgorithm() }),
          hash: new thrift.BloomFilterHash({ XXHASH: new thrift.XxHash() }),
          compression: new thrift.BloomFilterCompression({ UNCOMPRESSED: new thrift.Uncompressed() }),
        }),
      );
      col.meta_data.bloom_filter_offset = new Int64(offset);
      col.meta_data.bloom_filter_length = header.length + bitset.length;
      out.push(header, bitset);
      offset += header.length + bitset.length;
    }
  }
  return out;
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
  /** False when the row group's Bloom filter on `column` rules `value` out. */
  mayContain(index: number, column: string, value: string): Promise<boolean>;
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
  // All Bloom filters sit together before the footer: one read fetches them all.
  let bloomRegion: Promise<{ start: number; bytes: Buffer }> | undefined;
  const region = () => {
    bloomRegion ??= (async () => {
      let start = Number.POSITIVE_INFINITY;
      let end = 0;
      for (const rg of groups) {
        for (const c of rg.columns) {
          const m = c.meta_data;
          if (m?.bloom_filter_offset === undefined || !m.bloom_filter_length) continue;
          start = Math.min(start, Number(m.bloom_filter_offset));
          end = Math.max(end, Number(m.bloom_filter_offset) + m.bloom_filter_length);
        }
      }
      return end === 0
        ? { start: 0, bytes: Buffer.alloc(0) }
        : { start, bytes: await envelope.read(start, end - start) };
    })();
    return bloomRegion;
  };
  const filters = new Map<string, SplitBlockBloom | undefined>();
  const bloom = async (index: number, column: string) => {
    const key = `${index}/${column}`;
    if (filters.has(key)) return filters.get(key);
    const meta = groups[index]?.columns.find((c) => c.meta_data?.path_in_schema[0] === column)?.meta_data;
    let filter: SplitBlockBloom | undefined;
    if (meta?.bloom_filter_offset !== undefined && meta.bloom_filter_length) {
      const { start, bytes } = await region();
      const from = Number(meta.bloom_filter_offset) - start;
      const raw = bytes.subarray(from, from + meta.bloom_filter_length);
      const header = new thrift.BloomFilterHeader();
      const headerLength = parquetUtil.decodeThrift(header, raw);
      if (header.algorithm?.BLOCK && header.hash?.XXHASH && header.compression?.UNCOMPRESSED) {
        filter = SplitBlockBloom.fromBitset(raw.subarray(headerLength, headerLength + header.numBytes));
      }
    }
    filters.set(key, filter);
    return filter;
  };
  return {
    schemaVersion,
    rowGroups,
    async mayContain(index, column, value) {
      try {
        const filter = await bloom(index, column);
        return filter === undefined || filter.mayContain((await bloomHasher())(Buffer.from(value)));
      } catch (error) {
        throw new AuditError(
          "HERALD_AUDIT_BAD_FILE",
          `${path}: Bloom filter of ${column}: ${describe(error)}`,
          error,
        );
      }
    },
    async readRowGroup(index, columns = []) {
      const rg = groups[index];
      if (!rg) return [];
      try {
        const buffer = await envelope.readRowGroup(
          reader.schema,
          rg,
          columns.map((c) => [c]),
        );
        return (parquet.ParquetShredder.materializeRecords(reader.schema, buffer) as unknown as Row[]).map(
          fromRow,
        );
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

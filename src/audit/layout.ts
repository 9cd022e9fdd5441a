// File names in an audit directory. Pure.
//
//   DIR/journal/<seq>.wal                  journal segment; <seq> is its first event
//   DIR/audit-<first>-<last>.parquet       events first..last, converted from segment <first>
//   DIR/*.tmp                              a conversion that had not been renamed yet
//
// The Parquet name starts with the segment's name, so "was this segment already
// converted?" is a directory lookup: that is what makes conversion exactly-once
// when a crash falls between the rename and the deletion of the segment.
const DIGITS = 16;

export const JOURNAL_DIR = "journal";

export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(DIGITS, "0")}.wal`;
}

export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{16})\.wal$/.exec(name);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

export function parquetPrefix(firstSeq: number): string {
  return `audit-${String(firstSeq).padStart(DIGITS, "0")}-`;
}

export function parquetName(firstSeq: number, lastSeq: number): string {
  return `${parquetPrefix(firstSeq)}${String(lastSeq).padStart(DIGITS, "0")}.parquet`;
}

export interface ParquetName {
  firstSeq: number;
  lastSeq: number;
}

export function parseParquetName(name: string): ParquetName | undefined {
  const m = /^audit-(\d{16})-(\d{16})\.parquet$/.exec(name);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  return { firstSeq: Number(m[1]), lastSeq: Number(m[2]) };
}

export const isTempName = (name: string): boolean => name.endsWith(".tmp");

// Reading journal segments and converting them into Parquet files.
import { join } from "node:path";
import type { Disk } from "./disk.js";
import { AuditError, describe } from "./errors.js";
import type { AuditEvent } from "./event.js";
import { decodeFrames, type SkippedRange } from "./frame.js";
import { JOURNAL_DIR, parquetName, parquetPrefix, parseSegmentName } from "./layout.js";
import { encodeParquet } from "./parquet-file.js";
import { decodeRecord } from "./record.js";

export interface SegmentContents {
  events: AuditEvent[];
  /** Damaged byte ranges that were skipped; the records around them are kept. */
  skipped: SkippedRange[];
  /** Frames whose checksum held but whose content was not a record. */
  badRecords: number;
}

export function decodeSegment(buf: Buffer): SegmentContents {
  const { payloads, skipped } = decodeFrames(buf);
  const events: AuditEvent[] = [];
  let badRecords = 0;
  for (const p of payloads) {
    try {
      events.push(decodeRecord(p));
    } catch {
      badRecords++;
    }
  }
  return { events, skipped, badRecords };
}

export interface Conversion {
  segment: string;
  /** The Parquet file holding the segment's events, if it had any. */
  file?: string;
  events: number;
  /** The file already existed: a crash fell between its rename and the segment's deletion. */
  alreadyConverted: boolean;
  skipped: SkippedRange[];
  badRecords: number;
}

/**
 * Turns one sealed segment into a Parquet file (write to .tmp, fsync, rename, fsync
 * the directory) and then deletes the segment. Safe to repeat after a crash at any step.
 */
export async function convertSegment(
  disk: Disk,
  dir: string,
  segment: string,
  rowGroupRows: number,
): Promise<Conversion> {
  const firstSeq = parseSegmentName(segment);
  if (firstSeq === undefined)
    throw new AuditError("HERALD_AUDIT_BAD_FILE", `${segment}: not a journal segment`);
  const journalDir = join(dir, JOURNAL_DIR);
  const segmentPath = join(journalDir, segment);
  const prefix = parquetPrefix(firstSeq);
  const done = (await disk.list(dir)).find((n) => n.startsWith(prefix) && n.endsWith(".parquet"));
  const result: Conversion = {
    segment,
    events: 0,
    alreadyConverted: done !== undefined,
    skipped: [],
    badRecords: 0,
  };
  if (done === undefined) {
    const contents = decodeSegment(await disk.readFile(segmentPath));
    Object.assign(result, {
      events: contents.events.length,
      skipped: contents.skipped,
      badRecords: contents.badRecords,
    });
    const events = contents.events;
    const last = events.at(-1);
    if (last !== undefined) {
      const name = parquetName(firstSeq, last.seq);
      const tmp = join(dir, `${name}.tmp`);
      try {
        await disk.writeFileSynced(tmp, await encodeParquet(events, rowGroupRows));
        await disk.rename(tmp, join(dir, name));
        await disk.syncDir(dir);
      } catch (error) {
        await disk.unlink(tmp).catch(() => undefined);
        throw new AuditError("HERALD_AUDIT_PARQUET_WRITE", `writing ${name}: ${describe(error)}`, error);
      }
      result.file = name;
    }
  } else {
    result.file = done;
  }
  await disk.unlink(segmentPath);
  await disk.syncDir(journalDir);
  return result;
}

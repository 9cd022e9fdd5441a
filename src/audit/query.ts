// Reading an audit directory: Parquet files first, then the journal segments not
// converted yet, all in sequence order. Files and row groups that min/max
// statistics or Bloom filters rule out are not decoded; a filter on node or kind
// reads its own columns first and decodes whole rows only for the groups that
// hold a match. A file that cannot be read (truncated, corrupt, unknown schema) is
// skipped with a warning: one bad file must not hide every other file's events.
import { join } from "node:path";
import { type Disk, nodeDisk } from "./disk.js";
import { AuditError, describe, systemCode } from "./errors.js";
import type { AuditEvent } from "./event.js";
import { type AuditFilter, filterColumns, matches, rowGroupMayMatch } from "./filter.js";
import { JOURNAL_DIR, parquetPrefix, parseParquetName, parseSegmentName } from "./layout.js";
import { openAuditFile } from "./parquet-file.js";
import { decodeSegment } from "./segment.js";

/** A file the query could not read and left out. */
export interface QueryWarning {
  file: string;
  code: string;
  message: string;
}

/** Warnings kept per query; files beyond it are still counted in filesUnreadable. */
export const MAX_WARNINGS = 20;

export interface QueryStats {
  files: number;
  filesSkipped: number;
  /** Files left out because they could not be read; the first MAX_WARNINGS are in `warnings`. */
  filesUnreadable: number;
  rowGroups: number;
  rowGroupsSkipped: number;
  rowGroupsDecoded: number;
  warnings: QueryWarning[];
}

export const emptyStats = (): QueryStats => ({
  files: 0,
  filesSkipped: 0,
  filesUnreadable: 0,
  rowGroups: 0,
  rowGroupsSkipped: 0,
  rowGroupsDecoded: 0,
  warnings: [],
});

/**
 * The file's matching events, or none with a warning when it cannot be read. A
 * file that vanished meanwhile (retention) is left out silently.
 */
async function readableParquet(
  dir: string,
  name: string,
  f: AuditFilter,
  stats: QueryStats,
): Promise<AuditEvent[]> {
  try {
    return await fromParquet(join(dir, name), f, stats);
  } catch (error) {
    const sys = error instanceof AuditError ? error.sysCode : systemCode(error);
    if (sys === "ENOENT") return [];
    stats.filesUnreadable++;
    if (stats.warnings.length < MAX_WARNINGS) {
      const code = error instanceof AuditError ? error.code : "HERALD_AUDIT_BAD_FILE";
      stats.warnings.push({ file: name, code, message: `unreadable, skipped: ${describe(error)}` });
    }
    return [];
  }
}

/** The matching events of one file, in seq order (rows are stored by address). */
async function fromParquet(path: string, f: AuditFilter, stats: QueryStats): Promise<AuditEvent[]> {
  const file = await openAuditFile(path);
  const found: AuditEvent[] = [];
  try {
    const extra = filterColumns(f);
    for (const [index, group] of file.rowGroups.entries()) {
      stats.rowGroups++;
      if (!rowGroupMayMatch(group.stats, f)) {
        stats.rowGroupsSkipped++;
        continue;
      }
      if (
        (f.address !== undefined && !(await file.mayContain(index, "addresses", f.address))) ||
        (f.service !== undefined && !(await file.mayContain(index, "service_name", f.service.name)))
      ) {
        stats.rowGroupsSkipped++;
        continue;
      }
      let wanted: Set<number> | undefined;
      // Bloom filters answer for addresses and Services; a probe of the filter's own
      // columns pays off only for the rest (node, kind).
      if (extra.length > 0 && f.address === undefined && f.service === undefined) {
        const probe = await file.readRowGroup(index, ["seq", "time", ...extra]);
        wanted = new Set(probe.filter((e) => matches(e, f)).map((e) => e.seq));
        if (wanted.size === 0) {
          stats.rowGroupsSkipped++;
          continue;
        }
      }
      stats.rowGroupsDecoded++;
      for (const e of await file.readRowGroup(index)) {
        if ((wanted === undefined || wanted.has(e.seq)) && matches(e, f)) found.push(e);
      }
    }
  } finally {
    await file.close();
  }
  return found.sort((a, b) => a.seq - b.seq);
}

/** Every matching event in the directory, in sequence (and so time) order. */
export async function* queryEvents(
  dir: string,
  f: AuditFilter,
  stats: QueryStats = emptyStats(),
  disk: Disk = nodeDisk,
): AsyncGenerator<AuditEvent> {
  // Segments are listed before files: a segment converted in between is then
  // found as its file, never missed.
  const journalDir = join(dir, JOURNAL_DIR);
  const segments = (await disk.list(journalDir).catch(() => [] as string[]))
    .filter((n) => parseSegmentName(n) !== undefined)
    .sort();
  const names = await disk.list(dir);
  const files = names
    .map((name) => ({ name, parsed: parseParquetName(name) }))
    .filter((x) => x.parsed !== undefined)
    .sort((a, b) => (a.parsed?.firstSeq ?? 0) - (b.parsed?.firstSeq ?? 0));
  let last = f.afterSeq ?? 0;
  const fresh = function* (events: Iterable<AuditEvent>) {
    for (const e of events) {
      if (e.seq > last) {
        last = e.seq;
        yield e;
      }
    }
  };
  for (const { name, parsed } of files) {
    stats.files++;
    if (parsed && parsed.lastSeq <= last) {
      stats.filesSkipped++;
      continue;
    }
    const before = stats.rowGroupsDecoded;
    yield* fresh(await readableParquet(dir, name, f, stats));
    if (stats.rowGroupsDecoded === before) stats.filesSkipped++;
  }
  for (const segment of segments) {
    const firstSeq = parseSegmentName(segment) as number;
    let events: AuditEvent[];
    try {
      events = decodeSegment(await disk.readFile(join(journalDir, segment))).events;
    } catch (error) {
      if (systemCode(error) !== "ENOENT") throw error;
      const converted = (await disk.list(dir)).find((n) => n.startsWith(parquetPrefix(firstSeq)));
      if (!converted) continue;
      yield* fresh(await readableParquet(dir, converted, f, stats));
      continue;
    }
    yield* fresh(events.filter((e) => matches(e, f)));
  }
}

export interface AuditPage {
  events: AuditEvent[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
  /** Files left out of this page because they could not be read. */
  warnings: QueryWarning[];
  filesUnreadable: number;
}

export async function queryPage(
  dir: string,
  f: AuditFilter,
  limit: number,
  disk: Disk = nodeDisk,
): Promise<AuditPage> {
  const events: AuditEvent[] = [];
  const stats = emptyStats();
  const page = (next?: string): AuditPage => ({
    events,
    ...(next === undefined ? {} : { next }),
    warnings: stats.warnings,
    filesUnreadable: stats.filesUnreadable,
  });
  for await (const e of queryEvents(dir, f, stats, disk)) {
    if (events.length === limit) return page(String(events.at(-1)?.seq));
    events.push(e);
  }
  return page();
}

// Following an audit directory: new events as they become durable.
import { type Clock, systemClock } from "../clock.js";
import { type Disk, nodeDisk } from "./disk.js";
import type { AuditEvent } from "./event.js";
import type { AuditFilter } from "./filter.js";
import { parseParquetName } from "./layout.js";
import { queryEvents } from "./query.js";

/** The highest sequence number in the directory now (0 when empty). */
export async function lastSeq(dir: string, disk: Disk = nodeDisk): Promise<number> {
  let last = 0;
  for (const name of await disk.list(dir)) last = Math.max(last, parseParquetName(name)?.lastSeq ?? 0);
  // Only the journal is left to look at.
  for await (const e of queryEvents(dir, { afterSeq: last }, undefined, disk)) last = e.seq;
  return last;
}

/**
 * Calls onEvent for every matching event after `afterSeq`, polling every
 * `intervalMs` of `clock`, until the signal aborts. Journal segments are read directly, so
 * events show up once durable, not only once rolled into Parquet.
 */
export async function followEvents(
  dir: string,
  filter: AuditFilter,
  afterSeq: number,
  onEvent: (e: AuditEvent) => void,
  signal: AbortSignal,
  intervalMs = 250,
  disk: Disk = nodeDisk,
  clock: Clock = systemClock,
): Promise<void> {
  let after = afterSeq;
  while (!signal.aborted) {
    for await (const e of queryEvents(dir, { ...filter, afterSeq: after }, undefined, disk)) {
      onEvent(e);
      after = e.seq;
    }
    await wait(clock, intervalMs, signal);
  }
}

/** Resolves after `ms` on the clock, or at once when the signal aborts. */
function wait(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clock.clearTimeout(handle);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const handle = clock.setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

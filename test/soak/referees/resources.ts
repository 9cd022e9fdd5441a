// The resources referee: every component's RSS and open descriptors at the end of the run stay
// within a stated bound of the start (no leak over a run). From /proc samples only.
import type { SoakRecord, Verdict, Violation } from "../model.js";
import { at, capViolations } from "./windows.js";

/** RSS may grow by half: caches, the V8 heap and Parquet buffers warm up during the first minutes. */
export const RSS_FACTOR = 1.5;
/** Plus this, so small components are not failed for a few heap pages. */
export const RSS_SLACK_BYTES = 32 * 1024 * 1024;
/** Descriptors for sockets, watches and audit files that open lazily once work arrives. */
export const FD_SLACK = 16;

const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;

export function judgeResources(record: SoakRecord): Verdict {
  const violations: Violation[] = [];
  const t = record.durationMs;
  const end = new Map(record.resources.end.map((s) => [s.component, s]));
  for (const start of record.resources.start) {
    const last = end.get(start.component);
    if (last === undefined) {
      violations.push({
        t,
        message: `${start.component}: no sample at the end of the run (${at(t)}); expected the component to be running`,
      });
      continue;
    }
    const rssBound = RSS_FACTOR * start.rssBytes + RSS_SLACK_BYTES;
    if (last.rssBytes > rssBound) {
      violations.push({
        t,
        message: `${start.component}: RSS ${mib(last.rssBytes)} at the end (${at(t)}) against ${mib(start.rssBytes)} at the start; expected at most ${mib(rssBound)} (${RSS_FACTOR} x start + ${mib(RSS_SLACK_BYTES)})`,
      });
    }
    if (last.fds > start.fds + FD_SLACK) {
      violations.push({
        t,
        message: `${start.component}: ${last.fds} open descriptors at the end (${at(t)}) against ${start.fds} at the start; expected at most ${start.fds + FD_SLACK} (start + ${FD_SLACK})`,
      });
    }
  }
  return {
    referee: "resources",
    pass: violations.length === 0,
    checked: {
      components: record.resources.start.length,
      sampledAtEnd: end.size,
      violations: violations.length,
    },
    violations: capViolations(violations),
  };
}

// Events as JSON objects, CSV rows and table lines. Pure.
import { type AuditEvent, formatTimeNs } from "./event.js";

export const FORMATS = ["table", "json", "csv"] as const;
export type Format = (typeof FORMATS)[number];

/** An event as JSON: RFC 3339 time with nanoseconds instead of a bigint. */
export type EventJson = Omit<AuditEvent, "timeNs" | "addresses"> & { time: string; addresses: string[] };

export function eventJson(e: AuditEvent): EventJson {
  const { seq, timeNs, addresses, ...rest } = e;
  return { seq, time: formatTimeNs(timeNs), ...rest, addresses: addresses ?? [] };
}

const COLUMNS = [
  "time",
  "seq",
  "component",
  "node",
  "kind",
  "service",
  "addresses",
  "pool",
  "from",
  "to",
  "reason",
  "message",
];

function cells(e: AuditEvent): string[] {
  return [
    formatTimeNs(e.timeNs),
    String(e.seq),
    e.component,
    e.node ?? "",
    e.kind,
    e.service ? `${e.service.namespace}/${e.service.name}` : "",
    (e.addresses ?? []).join(","),
    e.pool ?? "",
    e.fromNode ?? "",
    e.toNode ?? "",
    e.reason ?? "",
    e.message ?? "",
  ];
}

const csvCell = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

/** Lines for a stream of events; `header` is printed once, before the first event. */
export function formatter(format: Format): { header: string | undefined; line: (e: AuditEvent) => string } {
  switch (format) {
    case "json":
      return { header: undefined, line: (e) => JSON.stringify(eventJson(e)) };
    case "csv":
      return { header: COLUMNS.join(","), line: (e) => cells(e).map(csvCell).join(",") };
    case "table":
      return { header: COLUMNS.map((c) => c.toUpperCase()).join("\t"), line: (e) => cells(e).join("\t") };
  }
}

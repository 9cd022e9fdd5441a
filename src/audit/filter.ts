// Query filters: parsed from CLI flags or URL parameters, matched against events
// and against row-group statistics. Pure.

import { parseCanonical } from "../domain/address.js";
import { AuditError } from "./errors.js";
import { type AuditEvent, EVENT_KINDS, type EventKind } from "./event.js";
import type { ColumnRange } from "./parquet-file.js";

export interface AuditFilter {
  address?: string;
  service?: { namespace: string; name: string };
  /** Matches the deciding node and the from/to nodes of a move. */
  node?: string;
  kinds?: EventKind[];
  sinceNs?: bigint;
  untilNs?: bigint;
  /** Only events after this sequence number: the paging cursor. */
  afterSeq?: number;
}

const bad = (message: string): never => {
  throw new AuditError("HERALD_AUDIT_BAD_QUERY", message);
};

const UNITS: Record<string, bigint> = {
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};

/** "2h" (ago), "90s", "7d", or RFC 3339 such as 2026-11-22T04:47:09.123456789Z. */
export function parseTime(name: string, text: string, nowNs: bigint): bigint {
  const rel = /^(\d+)(ms|s|m|h|d|w)$/.exec(text);
  if (rel?.[1] !== undefined && rel[2] !== undefined)
    return nowNs - BigInt(rel[1]) * (UNITS[rel[2]] as bigint);
  const abs = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(
    text,
  );
  if (abs?.[1] === undefined || abs[2] === undefined || abs[4] === undefined) {
    return bad(`${name}: "${text}" is neither a duration ago (like 2h, 30m, 7d) nor an RFC 3339 time`);
  }
  const ms = Date.parse(`${abs[1]}T${abs[2]}${abs[4].toUpperCase()}`);
  if (Number.isNaN(ms)) return bad(`${name}: "${text}" is not a valid time`);
  return BigInt(ms) * 1_000_000n + BigInt((abs[3] ?? "").padEnd(9, "0"));
}

export interface FilterParams {
  address?: string | undefined;
  service?: string | undefined;
  node?: string | undefined;
  kind?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  after?: string | undefined;
}

export function parseFilter(params: FilterParams, nowNs: bigint): AuditFilter {
  const filter: AuditFilter = {};
  if (params.address !== undefined) {
    const parsed = parseCanonical(params.address);
    filter.address = parsed.ok ? parsed.value : bad(`address: ${parsed.error}`);
  }
  if (params.service !== undefined) {
    const [namespace, name, ...rest] = params.service.split("/");
    if (!namespace || !name || rest.length > 0) bad(`service: "${params.service}" is not NAMESPACE/NAME`);
    filter.service = { namespace: namespace as string, name: name as string };
  }
  if (params.node !== undefined) {
    if (params.node === "") bad("node: empty");
    filter.node = params.node;
  }
  if (params.kind !== undefined) {
    filter.kinds = params.kind.split(",").map((k) => {
      if (!(EVENT_KINDS as readonly string[]).includes(k))
        bad(`kind: "${k}" is not one of ${EVENT_KINDS.join(", ")}`);
      return k as EventKind;
    });
  }
  if (params.since !== undefined) filter.sinceNs = parseTime("since", params.since, nowNs);
  if (params.until !== undefined) filter.untilNs = parseTime("until", params.until, nowNs);
  if (filter.sinceNs !== undefined && filter.untilNs !== undefined && filter.sinceNs > filter.untilNs) {
    bad("since is later than until");
  }
  if (params.after !== undefined) {
    if (!/^\d{1,15}$/.test(params.after)) bad(`after: "${params.after}" is not a sequence number`);
    filter.afterSeq = Number(params.after);
  }
  return filter;
}

export function matches(e: AuditEvent, f: AuditFilter): boolean {
  if (f.afterSeq !== undefined && e.seq <= f.afterSeq) return false;
  if (f.sinceNs !== undefined && e.timeNs < f.sinceNs) return false;
  if (f.untilNs !== undefined && e.timeNs > f.untilNs) return false;
  if (f.kinds && !f.kinds.includes(e.kind)) return false;
  if (f.address !== undefined && !(e.addresses ?? []).some((a) => a === f.address)) return false;
  if (f.service && (e.service?.namespace !== f.service.namespace || e.service.name !== f.service.name))
    return false;
  if (f.node !== undefined && e.node !== f.node && e.fromNode !== f.node && e.toNode !== f.node) return false;
  return true;
}

/** Columns the filter looks at beyond seq and time (for reading a row group in two passes). */
export function filterColumns(f: AuditFilter): string[] {
  const cols: string[] = [];
  if (f.address !== undefined) cols.push("addresses");
  if (f.service) cols.push("service_namespace", "service_name");
  if (f.node !== undefined) cols.push("node", "from_node", "to_node");
  if (f.kinds) cols.push("kind");
  return cols;
}

function within(range: ColumnRange | undefined, value: unknown): boolean {
  if (!range) return true; // no statistics: cannot rule it out
  const cmp = (a: unknown, b: unknown) => {
    if (typeof a === "string" && typeof b === "string") return Buffer.compare(Buffer.from(a), Buffer.from(b));
    return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
  };
  return cmp(range.min, value) <= 0 && cmp(value, range.max) <= 0;
}

/** False when min/max statistics prove that no row of the group can match. */
export function rowGroupMayMatch(stats: Map<string, ColumnRange>, f: AuditFilter): boolean {
  const seq = stats.get("seq");
  if (f.afterSeq !== undefined && seq && BigInt(seq.max as bigint) <= BigInt(f.afterSeq)) return false;
  const time = stats.get("time");
  if (time && f.sinceNs !== undefined && (time.max as bigint) < f.sinceNs) return false;
  if (time && f.untilNs !== undefined && (time.min as bigint) > f.untilNs) return false;
  if (f.kinds && !f.kinds.some((k) => within(stats.get("kind"), k))) return false;
  if (f.address !== undefined && !within(stats.get("addresses"), f.address)) return false;
  if (f.service) {
    if (!within(stats.get("service_namespace"), f.service.namespace)) return false;
    if (!within(stats.get("service_name"), f.service.name)) return false;
  }
  if (
    f.node !== undefined &&
    !["node", "from_node", "to_node"].some((c) => stats.has(c) && within(stats.get(c), f.node))
  ) {
    return false;
  }
  return true;
}

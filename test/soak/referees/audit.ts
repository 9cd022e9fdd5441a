// The audit referee: the Parquet rows (as DuckDB read them) hold every decision an outsider saw
// happen exactly once: each address the API view shows a Service gaining or losing, and each
// change of the node answering an address on the wire. Rows are compared with the view and the
// capture only, never with Herald's state.
import type { AuditRow, SoakRecord, Verdict, Violation } from "../model.js";
import {
  appliedFaults,
  at,
  canon,
  capViolations,
  covers,
  faultEnd,
  type Interval,
  macToNode,
  mergeIntervals,
  SETTLE_MS,
  settleWindows,
} from "./windows.js";

/** After disk space is freed: the journal's flush interval plus the Parquet conversion catching up. */
export const AUDIT_DISK_GRACE_MS = 5000;
/** Between a speaker's row and the wire showing its answer: ARP/NDP caches, settle windows, clock skew. */
export const AUDIT_WIRE_SLACK_MS = 5000;
/** Controller rows that give a Service an address. */
export const GAIN_KINDS = ["allocated", "shared", "moved"] as const;
/** Speaker rows that start answering an address. */
export const ANSWER_KINDS = ["announce", "takeover"] as const;

type Changes = Map<string, number[]>;

const add = (m: Changes, key: string, t: number): void => {
  const list = m.get(key);
  if (list === undefined) m.set(key, [t]);
  else list.push(t);
};

export function judgeAudit(record: SoakRecord): Verdict {
  const violations: Violation[] = [];
  const rel = (r: AuditRow): number => r.timeMs - record.t0;
  const disk = mergeIntervals(
    appliedFaults(record)
      .filter((f) => f.kind === "diskFull")
      .map((f) => ({ from: f.startMs, to: faultEnd(record, f) + AUDIT_DISK_GRACE_MS + 1 })),
  );
  // Each directory: every seq once, in time order
  const byDir = new Map<string, AuditRow[]>();
  for (const r of record.audit) {
    const rows = byDir.get(r.dir);
    if (rows === undefined) byDir.set(r.dir, [r]);
    else rows.push(r);
  }
  for (const [dir, rows] of byDir) {
    rows.sort((a, b) => a.seq - b.seq || a.timeMs - b.timeMs);
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1] as AuditRow;
      const b = rows[i] as AuditRow;
      if (a.seq === b.seq) {
        if (i < 2 || (rows[i - 2] as AuditRow).seq !== b.seq) {
          violations.push({
            t: rel(b),
            message: `audit ${dir}: seq ${b.seq} (${b.kind}${b.serviceName ? ` of ${b.serviceName}` : ""}, at ${at(rel(b))}) appears ${rows.filter((r) => r.seq === b.seq).length} times; expected every event exactly once`,
          });
        }
      } else if (b.timeMs < a.timeMs) {
        violations.push({
          t: rel(b),
          message: `audit ${dir}: seq ${b.seq} is dated ${at(rel(b))}, before seq ${a.seq} at ${at(rel(a))}; expected seq order to be time order`,
        });
      }
    }
  }
  // What the API view shows gained and lost, per "uid address"
  const names = new Map<string, string>();
  const viewGains: Changes = new Map();
  const viewLosses: Changes = new Map();
  let before = new Map<string, Set<string>>();
  for (const view of [...record.snapshots].sort((a, b) => a.t - b.t)) {
    const now = new Map<string, Set<string>>();
    for (const s of view.services) {
      names.set(s.uid, `${s.namespace}/${s.name}`);
      const held = new Set(s.addresses.map(canon));
      now.set(s.uid, held);
      for (const x of held) if (!before.get(s.uid)?.has(x)) add(viewGains, `${s.uid} ${x}`, view.t);
    }
    for (const [uid, held] of before)
      for (const x of held) if (!now.get(uid)?.has(x)) add(viewLosses, `${uid} ${x}`, view.t);
    before = now;
  }
  // What the controller's rows say was gained and lost
  const rowGains: Changes = new Map();
  const rowLosses: Changes = new Map();
  const audited = new Map<string, Set<string>>();
  const controllerRows = record.audit
    .filter((r) => r.component === "controller" && r.serviceUid)
    .sort((a, b) => a.timeMs - b.timeMs || a.seq - b.seq);
  for (const r of controllerRows) {
    const uid = r.serviceUid as string;
    if (r.serviceName) names.set(uid, names.get(uid) ?? r.serviceName);
    const had = audited.get(uid) ?? new Set<string>();
    const listed = new Set(r.addresses.map(canon));
    if (r.kind === "allocated" || r.kind === "shared") {
      for (const x of listed) add(rowGains, `${uid} ${x}`, rel(r));
      audited.set(uid, listed);
    } else if (r.kind === "moved") {
      for (const x of listed) if (!had.has(x)) add(rowGains, `${uid} ${x}`, rel(r));
      for (const x of had) if (!listed.has(x)) add(rowLosses, `${uid} ${x}`, rel(r));
      audited.set(uid, listed);
    } else if (r.kind === "released") {
      for (const x of listed) {
        add(rowLosses, `${uid} ${x}`, rel(r));
        had.delete(x);
      }
    }
  }
  const compare = (view: Changes, rows: Changes, what: string, kinds: string): void => {
    for (const key of new Set([...view.keys(), ...rows.keys()])) {
      const [uid = "", x = ""] = key.split(" ");
      const seen = view.get(key) ?? [];
      const written = rows.get(key) ?? [];
      const who = `Service ${names.get(uid) ?? "?"} (uid ${uid})`;
      const excused = seen.filter((t) => covers(disk, t)).length;
      if (written.length < seen.length - excused) {
        const t = seen.find((v) => !covers(disk, v)) ?? 0;
        violations.push({
          t,
          address: x,
          message: `${who} ${what} ${x} at ${at(t)} (API view) but the controller's audit has ${written.length} ${kinds} rows for it against ${seen.length} times in the view; expected each to be recorded once`,
        });
      } else if (written.length > seen.length) {
        const t = written[seen.length] ?? 0;
        violations.push({
          t,
          address: x,
          message: `${who}: the controller's audit records that it ${what} ${x} ${written.length} times (${kinds} rows, one at ${at(t)}) but the API view shows it ${seen.length} times; expected no duplicates`,
        });
      }
    }
  };
  compare(viewGains, rowGains, "gained", GAIN_KINDS.join("/"));
  compare(viewLosses, rowLosses, "lost", "released/moved");
  const changes = wireChanges(record);
  checkSpeakers(record, changes, disk, violations);
  return {
    referee: "audit",
    pass: violations.length === 0,
    checked: {
      rows: record.audit.length,
      dirs: byDir.size,
      viewGains: [...viewGains.values()].reduce((n, l) => n + l.length, 0),
      viewLosses: [...viewLosses.values()].reduce((n, l) => n + l.length, 0),
      wireChanges: changes.length,
      violations: violations.length,
    },
    violations: capViolations(violations),
  };
}

/** A change of the node answering an address: last seen from `from` at `lastMs`, first from `to` at `firstMs`. */
export interface WireChange {
  address: string;
  from: string;
  to: string;
  lastMs: number;
  firstMs: number;
}

/** Changes of the stable answering node per address: sightings outside settle windows and foreign claims. */
export function wireChanges(record: SoakRecord): WireChange[] {
  const settle = settleWindows(record);
  const claimed = new Map<string, Interval[]>();
  for (const f of appliedFaults(record)) {
    if (f.kind !== "foreignClaim" || f.address === undefined) continue;
    const a = canon(f.address);
    const window = { from: f.startMs, to: faultEnd(record, f) + SETTLE_MS + 1 };
    claimed.set(a, mergeIntervals([...(claimed.get(a) ?? []), window]));
  }
  const nodeOf = macToNode(record);
  const last = new Map<string, { node: string; t: number }>();
  const out: WireChange[] = [];
  for (const s of [...record.wire].sort((a, b) => a.t - b.t)) {
    const address = canon(s.address);
    const node = nodeOf.get(s.mac.toLowerCase());
    if (node === undefined || covers(settle, s.t) || covers(claimed.get(address) ?? [], s.t)) continue;
    const previous = last.get(address);
    if (previous !== undefined && previous.node !== node) {
      out.push({ address, from: previous.node, to: node, lastMs: previous.t, firstMs: s.t });
    }
    last.set(address, { node, t: s.t });
  }
  return out;
}

function checkSpeakers(record: SoakRecord, changes: WireChange[], disk: Interval[], out: Violation[]): void {
  const dirNode = new Map<string, string>();
  for (const r of record.audit) if (r.node) dirNode.set(r.dir, r.node);
  const answered = new Map<string, number[]>();
  for (const r of record.audit) {
    if (!(ANSWER_KINDS as readonly string[]).includes(r.kind)) continue;
    const node = r.node ?? dirNode.get(r.dir);
    if (node === undefined) continue;
    for (const a of r.addresses) add(answered, `${node} ${canon(a)}`, r.timeMs - record.t0);
  }
  for (const c of changes) {
    const from = c.lastMs - AUDIT_WIRE_SLACK_MS;
    const to = c.firstMs + AUDIT_WIRE_SLACK_MS;
    if ((answered.get(`${c.to} ${c.address}`) ?? []).some((t) => t >= from && t <= to)) continue;
    if (disk.some((d) => d.from <= to && from < d.to)) continue;
    out.push({
      t: c.firstMs,
      address: c.address,
      message: `${c.address}: the wire shows ${c.to} answering instead of ${c.from} (last seen ${at(c.lastMs)}, new from ${at(c.firstMs)}) but ${c.to}'s speaker has no ${ANSWER_KINDS.join("/")} row for it within ${AUDIT_WIRE_SLACK_MS} ms; expected the takeover to be recorded`,
    });
  }
}

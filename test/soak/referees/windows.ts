// What the referees share: which nodes are live at a moment, the settle windows after faults and
// operations, the API server's view at a moment, and who a MAC is. Pure functions of the record.
import { canonicalAddress, parseAddress } from "../../../src/domain/address.js";
import { parseRange, rangeContains } from "../../../src/domain/range.js";
import type {
  ApiSnapshot,
  FaultKind,
  FaultRecord,
  NodeName,
  OpRecord,
  ServiceView,
  SoakRecord,
  Violation,
} from "../model.js";

/** After a fault goes in and after it is taken back: failover (<1 s) plus gratuitous ARP/NDP bursts. */
export const SETTLE_MS = 2000;
/**
 * A node whose heartbeats are blocked while its LAN works answers beside the others until the Lease
 * evidence settles it (a renewal after the heartbeats stopped, every 2 s while contended, plus a claim
 * heard): the settle window after such a block goes in.
 */
export const HEARTBEAT_BLOCK_SETTLE_MS = 5000;
/**
 * After an operation is answered: the controller writes status and the speakers follow within this
 * (on this 2-core lab under a soak's load, the controller's answer took up to 1.6 s).
 */
export const OP_SETTLE_MS = 2000;
/** Per verdict, so that one broken rule in a long run does not bury the others in the report. */
export const MAX_VIOLATIONS = 100;

/** Faults during which their node answers nothing: its speaker is dead or its cable is cut. */
export const NODE_DOWN_KINDS: readonly FaultKind[] = ["speakerKill", "speakerTerm", "linkCut"];
/** Faults that name a node and may move that node's addresses. */
export const NODE_FAULT_KINDS: readonly FaultKind[] = [...NODE_DOWN_KINDS, "heartbeatBlock"];
/** Faults that keep the controller from writing status (the view lags behind the specs). */
export const CONTROLLER_FAULT_KINDS: readonly FaultKind[] = [
  "controllerKill",
  "controllerStop",
  "apiServerStop",
];

export interface Interval {
  from: number;
  /** Exclusive. */
  to: number;
}

/** Faults that were put in (skipped ones did nothing). */
export function appliedFaults(record: SoakRecord): FaultRecord[] {
  return record.faults.filter((f) => f.skipped === undefined);
}

/** When the fault was taken back; a fault still in at the end lasts to the end of the run. */
export function faultEnd(record: SoakRecord, f: FaultRecord): number {
  return f.endMs ?? record.durationMs;
}

/** Where a fault's failover budget starts: once it surely acts (see FaultRecord.appliedMs). */
export function budgetStart(f: FaultRecord): number {
  return f.appliedMs ?? f.startMs;
}

/** A fault is in effect for startMs <= t < endMs (forever when it was never taken back). */
export function inEffect(f: FaultRecord, t: number): boolean {
  return f.startMs <= t && (f.endMs === undefined || t < f.endMs);
}

export function isNodeDown(record: SoakRecord, node: NodeName, t: number): boolean {
  return appliedFaults(record).some(
    (f) => f.node === node && NODE_DOWN_KINDS.includes(f.kind) && inEffect(f, t),
  );
}

export function liveNodes(record: SoakRecord, t: number): NodeName[] {
  return record.nodes.filter((n) => !isNodeDown(record, n, t));
}

/** Merges intervals into a sorted, disjoint list. */
export function mergeIntervals(list: Interval[]): Interval[] {
  const sorted = list.filter((i) => i.to > i.from).sort((a, b) => a.from - b.from);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && i.from <= last.to) last.to = Math.max(last.to, i.to);
    else out.push({ ...i });
  }
  return out;
}

/** Whether t lies in one of the merged intervals (binary search). */
export function covers(merged: Interval[], t: number): boolean {
  let lo = 0;
  let hi = merged.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const i = merged[mid] as Interval;
    if (t < i.from) hi = mid - 1;
    else if (t >= i.to) lo = mid + 1;
    else return true;
  }
  return false;
}

/** The length of [from, to) that the merged intervals do not cover. */
export function uncovered(merged: Interval[], from: number, to: number): number {
  let left = Math.max(0, to - from);
  for (const i of merged) left -= Math.max(0, Math.min(to, i.to) - Math.max(from, i.from));
  return left;
}

/** An operation's settle window: from when it was sent to OP_SETTLE_MS after it was answered. */
export function opWindow(op: OpRecord): Interval {
  return { from: op.startMs, to: op.endMs + OP_SETTLE_MS };
}

/**
 * Every settle window of the run, merged: SETTLE_MS after each fault's start (a heartbeat block:
 * HEARTBEAT_BLOCK_SETTLE_MS) and after its end, and each operation's window.
 */
export function settleWindows(record: SoakRecord): Interval[] {
  const list: Interval[] = [];
  const faults = appliedFaults(record);
  for (const f of faults) {
    const settle = f.kind === "heartbeatBlock" ? HEARTBEAT_BLOCK_SETTLE_MS : SETTLE_MS;
    list.push({ from: f.startMs, to: budgetStart(f) + settle });
    if (f.endMs !== undefined) list.push({ from: f.endMs, to: f.endMs + endSettle(faults, f) });
  }
  for (const op of record.ops) list.push(opWindow(op));
  return mergeIntervals(list);
}

/**
 * How long after its end a fault settles: SETTLE_MS, but a node that comes back (its speaker
 * restarted, its cable plugged in) while another node's heartbeats are blocked cannot hear that
 * node, and contends with it for their addresses until the Lease evidence settles it: the
 * heartbeat block's allowance on top.
 */
function endSettle(faults: FaultRecord[], f: FaultRecord): number {
  const end = f.endMs;
  if (end === undefined || !NODE_FAULT_KINDS.includes(f.kind)) return SETTLE_MS;
  const blocked = faults.some(
    (b) =>
      b !== f &&
      b.kind === "heartbeatBlock" &&
      b.node !== f.node &&
      b.startMs < end + SETTLE_MS &&
      (b.endMs === undefined || b.endMs > end),
  );
  return blocked ? SETTLE_MS + HEARTBEAT_BLOCK_SETTLE_MS : SETTLE_MS;
}

/** Index of the last snapshot with snapshot.t <= t (snapshots sorted by t), or -1. */
export function snapshotIndexAt(snapshots: ApiSnapshot[], t: number): number {
  let lo = 0;
  let hi = snapshots.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((snapshots[mid] as ApiSnapshot).t <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** The API view at t: the last snapshot taken at or before t. */
export function viewAt(record: SoakRecord, t: number): ApiSnapshot | undefined {
  return record.snapshots[snapshotIndexAt(record.snapshots, t)];
}

/** MAC (lower case) -> node. */
export function macToNode(record: SoakRecord): Map<string, NodeName> {
  const map = new Map<string, NodeName>();
  for (const [node, mac] of Object.entries(record.macs)) map.set(mac.toLowerCase(), node);
  return map;
}

/** The canonical text of an address, so that differently spelt IPv6 compares equal. */
export function canon(text: string): string {
  return canonicalAddress(text) ?? text;
}

export function familyOfText(text: string): string | undefined {
  const a = parseAddress(text);
  return a.ok ? a.value.family : undefined;
}

/** Whether a pool's `addresses` entries (ranges, CIDRs, single addresses) contain the address. */
export function poolContains(entries: string[], address: string): boolean {
  const a = parseAddress(address);
  if (!a.ok) return false;
  return entries.some((e) => {
    const r = parseRange(e);
    return r.ok && rangeContains(r.value, a.value.family, a.value.value);
  });
}

/** Services in a view holding the address. */
export function holders(view: ApiSnapshot, address: string): ServiceView[] {
  return view.services.filter((s) => s.addresses.some((a) => canon(a) === address));
}

/**
 * By when the view should show the controller's answer to a change made at t: OP_SETTLE_MS later,
 * pushed back to SETTLE_MS after the end of a controller or API server fault in effect meanwhile.
 * With `budget`, `after` and `kinds`, the same for another allowance and the faults it waits for.
 */
export function settledBy(
  record: SoakRecord,
  t: number,
  budget = OP_SETTLE_MS,
  after = SETTLE_MS,
  kinds: readonly FaultKind[] = CONTROLLER_FAULT_KINDS,
): number {
  let deadline = t + budget;
  const faults = appliedFaults(record).filter((f) => kinds.includes(f.kind));
  for (let changed = true; changed; ) {
    changed = false;
    for (const f of faults) {
      const end = faultEnd(record, f) + after;
      if (f.startMs <= deadline && faultEnd(record, f) >= t && end > deadline) {
        deadline = end;
        changed = true;
      }
    }
  }
  return deadline;
}

/** "12.345 s": times in messages, since the run's start. */
export function at(t: number): string {
  return `${(t / 1000).toFixed(3)} s`;
}

/** Keeps the first MAX_VIOLATIONS (by time) and says how many more there were. */
export function capViolations(list: Violation[]): Violation[] {
  const sorted = [...list].sort((a, b) => a.t - b.t);
  if (sorted.length <= MAX_VIOLATIONS) return sorted;
  const kept = sorted.slice(0, MAX_VIOLATIONS);
  const last = sorted[sorted.length - 1] as Violation;
  kept.push({ t: last.t, message: `... and ${sorted.length - MAX_VIOLATIONS} more violations like these` });
  return kept;
}

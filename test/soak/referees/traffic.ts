// The traffic referee: every stretch of failed probes is charged to a fault or an operation that
// could cause it, and none lasts longer than that cause's budget. From the probes, the capture,
// the API view and the harness's own log of what it did.
import type {
  ApiSnapshot,
  FaultKind,
  Outage,
  ServiceView,
  SoakRecord,
  Verdict,
  Violation,
  WireSighting,
} from "../model.js";
import {
  appliedFaults,
  at,
  budgetStart,
  CONTROLLER_FAULT_KINDS,
  canon,
  capViolations,
  faultEnd,
  HEARTBEAT_BLOCK_SETTLE_MS,
  holders,
  type Interval,
  inEffect,
  mergeIntervals,
  NODE_DOWN_KINDS,
  NODE_FAULT_KINDS,
  SETTLE_MS,
  settledBy,
  snapshotIndexAt,
  uncovered,
  viewAt,
} from "./windows.js";

/** A node fault's addresses move within this after it goes in, and again after it is taken back (heartbeats: well under 1 s). */
export const FAILOVER_BUDGET_MS = 1000;
/**
 * A speaker that starts, or whose links work again, listens this long before it may be elected
 * (the speaker's default settle time): the only node that can serve a Local Service answers
 * that much after its fault ends.
 */
export const SPEAKER_SETTLE_MS = 1500;
/** After an operation is answered: status written, speakers and nftables follow, endpoints move. */
export const OP_BUDGET_MS = 3000;
/** A probe in flight when a fault went in started up to this long before it (10 ms interval plus a timed-out connect's wait). */
export const PROBE_IN_FLIGHT_MS = 100;
/** A foreign claim may take its address for the whole claim and this long after (the client's cache follows Herald's answer back). */
export const FOREIGN_CLAIM_BUDGET_MS = SETTLE_MS;
/** Faults that must cost no traffic at all: the data path does not depend on the control plane or the audit disk. */
export const NO_TRAFFIC_FAULT_KINDS: readonly FaultKind[] = [
  "apiServerStop",
  "controllerKill",
  "controllerStop",
  "diskFull",
];

/** Operations the controller answers: they change which addresses Services hold. */
const CONTROLLER_OPS = new Set([
  "createService",
  "deleteService",
  "changeType",
  "changeRequest",
  "changeSharing",
  "setPoolRanges",
  "setPoolDisabled",
]);
const API_FAULT_KINDS: readonly FaultKind[] = ["apiServerStop"];

/** Operations that may disturb every address (the pool and the advertisement move things around). */
const GLOBAL_OPS = new Set(["setPoolRanges", "setPoolDisabled", "setL2Exclusion"]);

export interface ChargedTo {
  /**
   * "endpoints": the Service had no Ready Pod to send the traffic to (kind "noReadyPods"; for a
   * Local Service, none on a node the L2Advertisement selects), or its
   * EndpointSlices still named as ready a Pod that was gone or not Ready (kind "staleEndpoints":
   * the control plane's view, which kube-proxy and Herald both follow).
   */
  by: "fault" | "op" | "endpoints";
  /** Index into record.faults or record.ops (-1 for "endpoints"). */
  index: number;
  kind: string;
  node?: string;
  /** The Service an operation names. */
  name?: string;
  startMs: number;
}

export interface OutageCharge {
  outage: Outage;
  lengthMs: number;
  /** The cause whose budget covers most of the outage; undefined when nothing could cause it. */
  chargedTo?: ChargedTo;
  /** How much of the outage no cause's budget covers (0 when within budget). */
  excessMs: number;
}

interface Cause extends ChargedTo {
  allowed: Interval[];
}

/** Per outage: what it is charged to and how far it went past every budget that applies. */
export function chargeOutages(record: SoakRecord): OutageCharge[] {
  const sightings = sightingsByAddress(record);
  return record.outages.map((outage) => {
    const causes = causesOf(record, outage, sightings.get(canon(outage.address)) ?? []);
    const lengthMs = Math.max(0, outage.toMs - outage.fromMs);
    const union = mergeIntervals(causes.flatMap((c) => c.allowed));
    const excessMs = uncovered(union, outage.fromMs, outage.toMs);
    let best: Cause | undefined;
    let bestCover = -1;
    // The cause covering most of it; of equals, the latest to start (the nearest explanation).
    for (const c of causes) {
      const cover = lengthMs - uncovered(mergeIntervals(c.allowed), outage.fromMs, outage.toMs);
      if (cover > bestCover || (cover === bestCover && best !== undefined && c.startMs > best.startMs)) {
        best = c;
        bestCover = cover;
      }
    }
    if (best === undefined) return { outage, lengthMs, excessMs };
    const { allowed: _, ...chargedTo } = best;
    return { outage, lengthMs, chargedTo, excessMs };
  });
}

export function judgeTraffic(record: SoakRecord): Verdict {
  const violations: Violation[] = [];
  const checked = {
    targets: record.probes.length,
    probes: record.probes.reduce((n, p) => n + p.probes, 0),
    outages: record.outages.length,
    chargedToFault: 0,
    chargedToOp: 0,
    chargedToNoReadyPods: 0,
    chargedToStaleEndpoints: 0,
    unexplained: 0,
    tooLong: 0,
  };
  for (const c of chargeOutages(record)) {
    const o = c.outage;
    const what = `${o.address}:${o.port} failed ${o.failures} probes (${errorsText(o.errors)}) from ${at(o.fromMs)} to ${at(o.toMs)} (${c.lengthMs} ms)`;
    if (c.chargedTo === undefined) {
      checked.unexplained++;
      const quiet = appliedFaults(record).filter(
        (f) => NO_TRAFFIC_FAULT_KINDS.includes(f.kind) && (inEffect(f, o.fromMs) || inEffect(f, o.toMs - 1)),
      );
      const during = quiet.length
        ? ` during ${quiet.map((f) => f.kind).join(", ")}, which must cost no traffic`
        : "";
      violations.push({
        t: o.fromMs,
        address: o.address,
        message: `${what}${during}; no fault or operation that could affect this address explains it`,
      });
      continue;
    }
    if (c.chargedTo.by === "fault") checked.chargedToFault++;
    else if (c.chargedTo.by === "op") checked.chargedToOp++;
    else if (c.chargedTo.kind === "staleEndpoints") checked.chargedToStaleEndpoints++;
    else checked.chargedToNoReadyPods++;
    if (c.excessMs > 0) {
      checked.tooLong++;
      violations.push({
        t: o.fromMs,
        address: o.address,
        message: `${what}, ${c.excessMs} ms longer than the budget of ${causeText(c.chargedTo)}`,
      });
    }
  }
  return {
    referee: "traffic",
    pass: violations.length === 0,
    checked: { ...checked, violations: violations.length },
    violations: capViolations(violations),
  };
}

function causesOf(record: SoakRecord, outage: Outage, seen: WireSighting[]): Cause[] {
  const address = canon(outage.address);
  const causes: Cause[] = [];
  /** A cause counts only when its window, [start, end + budget], overlaps the outage. */
  const overlaps = (w: Interval): boolean => w.from < outage.toMs && outage.fromMs < w.to;
  record.faults.forEach((f, index) => {
    if (f.skipped !== undefined) return;
    const end = faultEnd(record, f);
    const base = {
      by: "fault" as const,
      index,
      kind: f.kind,
      startMs: f.startMs,
      ...(f.node ? { node: f.node } : {}),
    };
    if (f.kind === "foreignClaim") {
      const allowed = span(f.startMs, end + FOREIGN_CLAIM_BUDGET_MS);
      if (f.address !== undefined && canon(f.address) === address && overlaps(allowed)) {
        causes.push({ ...base, allowed: [allowed] });
      }
      return;
    }
    if (!NODE_FAULT_KINDS.includes(f.kind) || f.node === undefined) return;
    if (!overlaps(span(f.startMs, end + SPEAKER_SETTLE_MS + FAILOVER_BUDGET_MS))) return;
    const applied = budgetStart(f);
    const mac = record.macs[f.node]?.toLowerCase();
    const during = seen.slice(firstAtOrAfter(seen, outage.fromMs), firstAtOrAfter(seen, outage.toMs + 1));
    const answered =
      seen[firstAtOrAfter(seen, f.startMs) - 1]?.mac.toLowerCase() === mac ||
      during.some((s) => s.mac.toLowerCase() === mac);
    // The Services as the outage found them: one created or changed during the fault counts.
    const seenAt = Math.max(f.startMs, outage.fromMs);
    const local = localPods(record, address, seenAt, f.node);
    // Cluster traffic is spread over every eligible node's NodePort: connections sent through a
    // node that just failed are lost until it is counted dead, whoever answers the address.
    const view = viewAt(record, seenAt);
    const spread =
      view !== undefined &&
      holders(view, address).some((v) => v.type === "LoadBalancer" && v.policy === "Cluster");
    // A cut cable also cuts the Pods on that node off, and kube-proxy on every node keeps sending
    // Cluster connections to them until their endpoints go (the node-monitor grace period, 40 s
    // by default; the lab has no node lifecycle at all): no load balancer avoids that loss.
    const backends = f.kind === "linkCut" && clusterPodsOn(record, address, outage.port, f.startMs, f.node);
    if (!answered && local === "none" && !spread) return;
    // A node back from a kill or a cut listens for the speakers' settle time before it answers.
    const settle = NODE_DOWN_KINDS.includes(f.kind) ? SPEAKER_SETTLE_MS : 0;
    const allowed =
      local === "only" || backends
        ? [span(f.startMs, end + (local === "only" ? settle : 0) + FAILOVER_BUDGET_MS)]
        : [
            // Two nodes may answer while the evidence settles a heartbeat block (the wire referee
            // allows it as long): a client moved to the one that withdraws loses its connection.
            span(
              f.startMs,
              f.kind === "heartbeatBlock"
                ? applied + HEARTBEAT_BLOCK_SETTLE_MS
                : Math.max(applied, standbyAt(record, f.node, f.startMs, view)) + FAILOVER_BUDGET_MS,
            ),
            ...(f.endMs !== undefined ? [span(f.endMs, f.endMs + FAILOVER_BUDGET_MS)] : []),
          ];
    causes.push({ ...base, allowed });
  });
  record.ops.forEach((op, index) => {
    // A refused operation changed nothing (the API server was away, or said no).
    if (!op.ok) return;
    const o = op.op;
    // A change made while the API server is away reaches the data path only after it is back:
    // kube-proxy, the speakers and the controller all follow it. One that moves addresses waits
    // for the controller too.
    const waitsFor = CONTROLLER_OPS.has(o.kind) ? CONTROLLER_FAULT_KINDS : API_FAULT_KINDS;
    const window = span(op.startMs, settledBy(record, op.endMs, OP_BUDGET_MS, OP_BUDGET_MS, waitsFor));
    if (!overlaps(window)) return;
    const base = { by: "op" as const, index, kind: o.kind, startMs: op.startMs, allowed: [window] };
    if (GLOBAL_OPS.has(o.kind)) causes.push(base);
    else if (o.kind === "createPod" || o.kind === "deletePod") {
      // A Pod moves the endpoints of the Services selecting it, and only theirs.
      const app = o.kind === "createPod" ? o.app : podApp(record, o.name, op.startMs);
      if (app !== undefined && selectingAddresses(record, app, op.startMs, window.to).has(address))
        causes.push({ ...base, name: o.name });
    } else if ("name" in o && serviceAddresses(record, o.name, op.startMs, window.to).has(address)) {
      causes.push({ ...base, name: o.name });
    }
  });
  for (const [kind, test] of [
    ["noReadyPods", withoutReadyPods],
    ["staleEndpoints", staleEndpoints],
  ] as const) {
    const allowed = endpointStretches(record, outage, (view) => test(view, address, outage.port));
    if (allowed.length > 0)
      causes.push({ by: "endpoints", index: -1, kind, startMs: allowed[0]?.from ?? 0, allowed });
  }
  return causes;
}

/**
 * When the first node that could take `node`'s addresses at t was there to take them: a node the
 * L2Advertisement selects, not itself down at t, or back from its own fault (speaker restarted,
 * cable back) and past the settle time it listens for. With every other node down as well, the
 * failover waits for the first to come back; t when one was there all along.
 */
function standbyAt(record: SoakRecord, node: string, t: number, view: ApiSnapshot | undefined): number {
  const others = record.nodes.filter((n) => n !== node && !view?.l2Excluded.includes(n));
  if (others.length === 0) return t;
  return Math.min(
    ...others.map((n) => {
      let ready = t;
      for (const g of record.faults) {
        if (g.node !== n || g.skipped !== undefined || !NODE_DOWN_KINDS.includes(g.kind)) continue;
        const back = faultEnd(record, g) + SPEAKER_SETTLE_MS;
        if (g.startMs <= t && back > t) ready = Math.max(ready, back);
      }
      return ready;
    }),
  );
}

/**
 * Whether an EndpointSlice of a Service serving address:port called ready a Pod the view shows
 * gone or not Ready: connections sent there are lost whoever forwards them.
 */
function staleEndpoints(view: ApiSnapshot, address: string, port: number): boolean {
  const ready = new Set(view.pods.filter((p) => p.ready).map((p) => p.name));
  return serving(view, address, port).some((s) =>
    (view.endpoints ?? []).some((e) => e.service === s.name && e.ready && e.pod !== "" && !ready.has(e.pod)),
  );
}

/** An allowance from `from` (less a probe in flight) to `to`, exclusive. */
function span(from: number, to: number): Interval {
  return { from: from - PROBE_IN_FLIGHT_MS, to };
}

/**
 * Whether a Local Service holding the address (in the view at t) has Ready Pods on the node:
 * "only" when all of them that can serve are there (nowhere else can serve it), "some", or "none".
 */
function localPods(record: SoakRecord, address: string, t: number, node: string): "only" | "some" | "none" {
  const view = viewAt(record, t);
  if (view === undefined) return "none";
  let result: "only" | "some" | "none" = "none";
  for (const s of holders(view, address)) {
    if (s.policy !== "Local") continue;
    const ready = servingPods(view, s);
    if (!ready.some((p) => p.node === node)) continue;
    if (ready.every((p) => p.node === node)) return "only";
    result = "some";
  }
  return result;
}

/** Whether a Cluster Service serving address:port (in the view at t) has a Ready Pod on the node. */
function clusterPodsOn(record: SoakRecord, address: string, port: number, t: number, node: string): boolean {
  const view = viewAt(record, t);
  return (
    view !== undefined &&
    serving(view, address, port).some(
      (s) =>
        s.type === "LoadBalancer" &&
        s.policy === "Cluster" &&
        readyPods(view, s).some((p) => p.node === node),
    )
  );
}

function readyPods(view: ApiSnapshot, s: ServiceView): ApiSnapshot["pods"] {
  const selector = Object.entries(s.selector);
  return view.pods.filter((p) => p.ready && selector.every(([k, v]) => k === "app" && p.app === v));
}

/**
 * Whether the Services serving address:port (or, when none serves it, holding it) have no Ready
 * Pod that can take the traffic. A Local Service's Pods on a node the L2Advertisement leaves out
 * cannot: no node may announce the address where they run, and no other node may forward to them.
 */
function withoutReadyPods(view: ApiSnapshot, address: string, port: number): boolean {
  const onPort = serving(view, address, port);
  const services = onPort.length > 0 ? onPort : holders(view, address);
  return services.length > 0 && services.every((s) => servingPods(view, s).length === 0);
}

/** Ready Pods that can take the Service's traffic: a Local one's only on nodes the L2Advertisement selects. */
function servingPods(view: ApiSnapshot, s: ServiceView): ApiSnapshot["pods"] {
  const ready = readyPods(view, s);
  return s.policy === "Local" ? ready.filter((p) => !view.l2Excluded.includes(p.node)) : ready;
}

/** Services in the view holding the address with a port `port`. */
function serving(view: ApiSnapshot, address: string, port: number): ServiceView[] {
  return holders(view, address).filter((s) => s.ports.some((p) => p.port === port));
}

/**
 * The stretches of the views around the outage for which `holds` is true, each extended by
 * OP_BUDGET_MS for endpoints to come back (nothing to send the traffic to, or only a Pod that
 * is gone: not Herald's unavailability).
 */
function endpointStretches(
  record: SoakRecord,
  outage: Outage,
  holds: (view: ApiSnapshot) => boolean,
): Interval[] {
  const out: Interval[] = [];
  const snapshots = record.snapshots;
  const last = snapshotIndexAt(snapshots, outage.toMs);
  // From the view in effect OP_BUDGET_MS earlier: its stretch reaches that far past the next view.
  for (let i = Math.max(0, snapshotIndexAt(snapshots, outage.fromMs - OP_BUDGET_MS)); i <= last; i++) {
    const view = snapshots[i] as ApiSnapshot;
    if (!holds(view)) continue;
    const until = snapshots[i + 1]?.t ?? record.durationMs;
    out.push({ from: view.t, to: until + OP_BUDGET_MS });
  }
  return mergeIntervals(out);
}

/** Addresses the Services called `name` held in the views in effect during [from, to]. */
function serviceAddresses(record: SoakRecord, name: string, from: number, to: number): Set<string> {
  return addressesOf(record, from, to, (s) => s.name === name);
}

/** Addresses the Services selecting Pods of `app` held in the views in effect during [from, to]. */
function selectingAddresses(record: SoakRecord, app: string, from: number, to: number): Set<string> {
  return addressesOf(record, from, to, (s) => s.selector.app === app);
}

function addressesOf(
  record: SoakRecord,
  from: number,
  to: number,
  pick: (s: ServiceView) => boolean,
): Set<string> {
  const out = new Set<string>();
  const last = snapshotIndexAt(record.snapshots, to);
  for (let i = Math.max(0, snapshotIndexAt(record.snapshots, from)); i <= last; i++)
    for (const s of record.snapshots[i]?.services ?? [])
      if (pick(s)) for (const a of s.addresses) out.add(canon(a));
  return out;
}

/** The app label of the Pod called `name`: from the operation that created it, else from the last view at or before t that lists it. */
function podApp(record: SoakRecord, name: string, t: number): string | undefined {
  for (const { op } of record.ops) if (op.kind === "createPod" && op.name === name) return op.app;
  for (let i = snapshotIndexAt(record.snapshots, t); i >= 0; i--) {
    const pod = record.snapshots[i]?.pods.find((p) => p.name === name);
    if (pod !== undefined) return pod.app;
  }
  return undefined;
}

function sightingsByAddress(record: SoakRecord): Map<string, WireSighting[]> {
  const map = new Map<string, WireSighting[]>();
  for (const s of record.wire) {
    const a = canon(s.address);
    const list = map.get(a);
    if (list === undefined) map.set(a, [s]);
    else list.push(s);
  }
  for (const list of map.values()) list.sort((a, b) => a.t - b.t);
  return map;
}

/** Index of the first sighting at or after t (sightings sorted by t). */
function firstAtOrAfter(list: WireSighting[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as WireSighting).t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function errorsText(errors: Record<string, number>): string {
  const parts = Object.entries(errors).map(([k, n]) => `${k} x${n}`);
  return parts.length ? parts.join(", ") : "no error codes";
}

function causeText(c: ChargedTo): string {
  if (c.by === "endpoints")
    return c.kind === "staleEndpoints"
      ? `EndpointSlices naming a Pod that is gone from ${at(c.startMs)}`
      : `no Ready Pod from ${at(c.startMs)}`;
  const named = c.kind === "createPod" || c.kind === "deletePod" ? "Pod" : "Service";
  const who = c.node ? ` of ${c.node}` : c.name ? ` of ${named} ${c.name}` : "";
  return `${c.by === "fault" ? "fault" : "operation"} ${c.kind}${who} at ${at(c.startMs)}`;
}

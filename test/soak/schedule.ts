// What a soak run will do, from (seed, minutes, nodes) alone: two lanes, operations and faults.
// The runner cannot check preconditions against the cluster while faults are in, so the generator
// keeps a model of what exists and schedules only operations that make sense in it.
import { LabError } from "../lab/errors.js";
import {
  FAULT_KINDS,
  type Fault,
  type FaultKind,
  type NodeName,
  type Op,
  type OpKind,
  type Policy,
  type Schedule,
  type ScheduledFault,
  type ScheduledOp,
  type ServiceShape,
  type ServiceType,
} from "./model.js";
import { Rng } from "./rng.js";

export const POOL_BASE = ["192.0.2.200-192.0.2.215", "2001:db8::200-2001:db8::215"];
export const POOL_EXTRA = ["192.0.2.216-192.0.2.223", "2001:db8::216-2001:db8::223"];
/** Requests name addresses of the extra range, so some fail (not in the pool) and some succeed. */
export const REQUEST_V4 = ["192.0.2.220", "192.0.2.221", "192.0.2.222", "192.0.2.223"];
export const REQUEST_V6 = ["2001:db8::220", "2001:db8::221", "2001:db8::222", "2001:db8::223"];
export const PORTS = [80, 81, 8000, 8001, 8002, 8003, 8004, 8005, 8006, 8007, 8008, 8009, 8010];
export const SHARING_KEYS = ["k1", "k2"];
export const APPS = ["web", "api"];
export const SERVICES = { min: 3, max: 8 };
export const PODS = { min: 3, max: 9 };
/** No operation in the last 20 s, no fault in the last 25 s: the referees see the cluster settle. */
export const QUIET_TAIL_MS = 20_000;
export const FAULT_TAIL_MS = 25_000;
/** setPoolDisabled true and setL2Exclusion node are undone this long after (ms). */
export const UNDO_MS = { min: 5_000, max: 20_000 };

export const FAULT_DURATION_MS: Record<FaultKind, { min: number; max: number }> = {
  speakerKill: { min: 3_000, max: 8_000 },
  speakerTerm: { min: 3_000, max: 8_000 },
  controllerKill: { min: 3_000, max: 10_000 },
  controllerStop: { min: 5_000, max: 20_000 },
  linkCut: { min: 2_000, max: 8_000 },
  heartbeatBlock: { min: 3_000, max: 10_000 },
  apiServerStop: { min: 5_000, max: 12_000 },
  foreignClaim: { min: 3_000, max: 8_000 },
  diskFull: { min: 5_000, max: 15_000 },
};

/** How often each operation is chosen, relative to the others (when it can be done at all). */
const OP_WEIGHTS: Record<OpKind, number> = {
  createService: 3,
  deleteService: 2,
  changePorts: 2,
  changeType: 2,
  changePolicy: 2,
  changeRequest: 2,
  changeSharing: 2,
  createPod: 2,
  deletePod: 2,
  setPoolRanges: 1,
  setPoolDisabled: 1,
  setL2Exclusion: 1,
};
export const OP_KINDS = Object.keys(OP_WEIGHTS) as OpKind[];

interface ModelService {
  shape: ServiceShape;
  type: ServiceType;
}

/** What exists at the lane's current time, as the operations so far left it. */
class Model {
  readonly services = new Map<string, ModelService>();
  readonly pods = new Map<string, { node: NodeName; app: string }>();
  extraRanges = false;
  /** Until when (ms, included) a pool disable or L2 exclusion is in force. */
  clusterStateUntil = -1;
  nextService: number;
  nextPod: number;

  constructor(
    readonly nodes: NodeName[],
    s: Pick<Schedule, "initialPods" | "initialServices">,
  ) {
    for (const p of s.initialPods) this.pods.set(p.name, { node: p.node, app: p.app });
    for (const v of s.initialServices) this.services.set(v.name, { shape: v.shape, type: "LoadBalancer" });
    this.nextService = s.initialServices.length + 1;
    this.nextPod = s.initialPods.length + 1;
  }

  /** Ports other Services with `key` use (a Service sharing an address needs ports of its own). */
  portsOfKey(key: string, except: string): Set<number> {
    const used = new Set<number>();
    for (const [name, v] of this.services) {
      if (name !== except && v.shape.sharingKey === key) for (const p of v.shape.ports) used.add(p);
    }
    return used;
  }

  requestedBy(except: string): Set<string> {
    const used = new Set<string>();
    for (const [name, v] of this.services)
      if (name !== except) for (const a of v.shape.request ?? []) used.add(a);
    return used;
  }

  apply(op: Op): void {
    const v = "name" in op ? this.services.get(op.name) : undefined;
    switch (op.kind) {
      case "createService":
        this.services.set(op.name, { shape: op.shape, type: "LoadBalancer" });
        this.nextService++;
        return;
      case "deleteService":
        this.services.delete(op.name);
        return;
      case "changePorts":
        if (v) v.shape = { ...v.shape, ports: op.ports };
        return;
      case "changeType":
        if (v) v.type = op.type;
        return;
      case "changePolicy":
        if (v) v.shape = { ...v.shape, policy: op.policy };
        return;
      case "changeRequest":
        if (v) v.shape = withOptional(v.shape, "request", op.request ?? undefined);
        return;
      case "changeSharing":
        if (v) v.shape = withOptional(v.shape, "sharingKey", op.sharingKey ?? undefined);
        return;
      case "createPod":
        this.pods.set(op.name, { node: op.node, app: op.app });
        this.nextPod++;
        return;
      case "deletePod":
        this.pods.delete(op.name);
        return;
      case "setPoolRanges":
        this.extraRanges = op.ranges.length > POOL_BASE.length;
        return;
      case "setPoolDisabled":
      case "setL2Exclusion":
        return; // clusterStateUntil is set where the pair is scheduled
    }
  }
}

/** `shape` with `key` set to `value`, or without `key` (no undefined fields: the report is JSON). */
function withOptional<K extends "request" | "sharingKey">(
  shape: ServiceShape,
  key: K,
  value: ServiceShape[K] | undefined,
): ServiceShape {
  const out = { ...shape };
  if (value === undefined) delete out[key];
  else out[key] = value;
  return out;
}

/** 1-2 distinct ports, none in `taken`, in ascending order; undefined when fewer are free. */
function drawPorts(rng: Rng, taken: Set<number>): number[] | undefined {
  const free = PORTS.filter((p) => !taken.has(p));
  const count = rng.int(1, 2);
  if (free.length < count) return undefined;
  return rng
    .shuffle(free)
    .slice(0, count)
    .sort((a, b) => a - b);
}

/** A request nobody else holds: one IPv4 address, plus one IPv6 address for a dual-stack Service. */
function drawRequest(rng: Rng, m: Model, name: string, dualStack: boolean): string[] | undefined {
  const taken = m.requestedBy(name);
  const v4 = REQUEST_V4.filter((a) => !taken.has(a));
  const v6 = REQUEST_V6.filter((a) => !taken.has(a));
  if (v4.length === 0 || (dualStack && v6.length === 0)) return undefined;
  return dualStack ? [rng.pick(v4), rng.pick(v6)] : [rng.pick(v4)];
}

type Maker = (rng: Rng, m: Model) => Op | undefined;

/** One maker per operation: the operation drawn from the model, or undefined if none makes sense. */
const MAKERS: Record<Exclude<OpKind, "setPoolDisabled" | "setL2Exclusion">, Maker> = {
  createService(rng, m) {
    if (m.services.size >= SERVICES.max) return undefined;
    const name = `svc-${m.nextService}`;
    const dualStack = rng.chance(0.4);
    const policy: Policy = rng.chance(0.3) ? "Local" : "Cluster";
    const app = rng.pick(APPS);
    let shape: ServiceShape = { dualStack, policy, ports: drawPorts(rng, new Set()) ?? [80], app };
    if (rng.chance(0.2)) shape = withOptional(shape, "request", drawRequest(rng, m, name, dualStack));
    if (policy === "Cluster" && rng.chance(0.2)) {
      const key = rng.pick(SHARING_KEYS);
      const taken = m.portsOfKey(key, name);
      if (shape.ports.every((p) => !taken.has(p))) shape = withOptional(shape, "sharingKey", key);
    }
    return { kind: "createService", name, shape };
  },
  deleteService(rng, m) {
    if (m.services.size <= SERVICES.min) return undefined;
    return { kind: "deleteService", name: rng.pick([...m.services.keys()]) };
  },
  changePorts(rng, m) {
    const [name, v] = rng.pick([...m.services]);
    const key = v.shape.sharingKey;
    const ports = drawPorts(rng, key === undefined ? new Set() : m.portsOfKey(key, name));
    if (ports === undefined || ports.join() === v.shape.ports.join()) return undefined;
    return { kind: "changePorts", name, ports };
  },
  // Back to LoadBalancer, a Service has the policy its shape had last (the runner sets it again).
  changeType(rng, m) {
    const clusterIp = [...m.services].filter(([, v]) => v.type === "ClusterIP");
    if (clusterIp.length > 0 && rng.chance(0.6)) {
      return { kind: "changeType", name: rng.pick(clusterIp)[0], type: "LoadBalancer" };
    }
    const lb = [...m.services].filter(([, v]) => v.type === "LoadBalancer");
    if (lb.length === 0) return undefined;
    return { kind: "changeType", name: rng.pick(lb)[0], type: "ClusterIP" };
  },
  changePolicy(rng, m) {
    // Only LoadBalancer Services: the API server refuses externalTrafficPolicy on a ClusterIP one.
    // A shared Service stays Cluster (sharing with Local needs the same selector: not modelled).
    const can = [...m.services].filter(
      ([, v]) =>
        v.type === "LoadBalancer" && (v.shape.policy === "Local" || v.shape.sharingKey === undefined),
    );
    if (can.length === 0) return undefined;
    const [name, v] = rng.pick(can);
    return { kind: "changePolicy", name, policy: v.shape.policy === "Local" ? "Cluster" : "Local" };
  },
  changeRequest(rng, m) {
    const [name, v] = rng.pick([...m.services]);
    const current = v.shape.request;
    const next =
      current !== undefined && rng.chance(0.4) ? undefined : drawRequest(rng, m, name, v.shape.dualStack);
    if (next === undefined || next.join() === current?.join()) {
      return current === undefined ? undefined : { kind: "changeRequest", name, request: null };
    }
    return { kind: "changeRequest", name, request: next };
  },
  changeSharing(rng, m) {
    const [name, v] = rng.pick([...m.services]);
    const choices: (string | null)[] = v.shape.sharingKey === undefined ? [] : [null];
    for (const key of SHARING_KEYS) {
      if (key === v.shape.sharingKey || v.shape.policy !== "Cluster") continue;
      const taken = m.portsOfKey(key, name);
      if (v.shape.ports.every((p) => !taken.has(p))) choices.push(key);
    }
    if (choices.length === 0) return undefined;
    return { kind: "changeSharing", name, sharingKey: rng.pick(choices) };
  },
  createPod(rng, m) {
    if (m.pods.size >= PODS.max) return undefined;
    return { kind: "createPod", name: `pod-${m.nextPod}`, node: rng.pick(m.nodes), app: rng.pick(APPS) };
  },
  deletePod(rng, m) {
    if (m.pods.size <= PODS.min) return undefined;
    const pods = [...m.pods];
    // Every app keeps a Pod, so every Service keeps an endpoint somewhere.
    const can = pods.filter(([, p]) => pods.some(([, q]) => q !== p && q.app === p.app));
    if (can.length === 0) return undefined;
    return { kind: "deletePod", name: rng.pick(can)[0] };
  },
  setPoolRanges(_rng, m) {
    return { kind: "setPoolRanges", ranges: m.extraRanges ? [...POOL_BASE] : [...POOL_BASE, ...POOL_EXTRA] };
  },
};

function initialState(nodes: NodeName[]): Pick<Schedule, "initialPods" | "initialServices"> {
  const node = (i: number) => nodes[i % nodes.length] as NodeName;
  return {
    initialPods: [
      { name: "pod-1", node: node(0), app: "web" },
      { name: "pod-2", node: node(1), app: "web" },
      { name: "pod-3", node: node(2), app: "web" },
      { name: "pod-4", node: node(0), app: "api" },
      { name: "pod-5", node: node(1), app: "api" },
    ],
    initialServices: [
      { name: "svc-1", shape: { dualStack: true, policy: "Cluster", ports: [80], app: "web" } },
      { name: "svc-2", shape: { dualStack: false, policy: "Local", ports: [80], app: "api" } },
      {
        name: "svc-3",
        shape: { dualStack: false, policy: "Cluster", ports: [8001], app: "web", sharingKey: "k1" },
      },
      {
        name: "svc-4",
        shape: { dualStack: false, policy: "Cluster", ports: [8002], app: "web", sharingKey: "k1" },
      },
    ],
  };
}

function opsLane(rng: Rng, durationMs: number, m: Model): ScheduledOp[] {
  const nodes = m.nodes;
  const lastMs = durationMs - QUIET_TAIL_MS;
  const ops: ScheduledOp[] = [];
  for (let t = 5_000; t <= lastMs; t += rng.int(1_000, 4_000)) {
    // At most one cluster-wide state at a time, always undone before the quiet tail.
    const clusterWide = t > m.clusterStateUntil && lastMs - t >= UNDO_MS.min;
    const kinds = OP_KINDS.filter((k) => clusterWide || (k !== "setPoolDisabled" && k !== "setL2Exclusion"));
    while (kinds.length > 0) {
      const kind = rng.weighted(kinds.map((k) => [k, OP_WEIGHTS[k]] as const));
      if (kind === "setPoolDisabled" || kind === "setL2Exclusion") {
        const undoAt = t + rng.int(UNDO_MS.min, Math.min(UNDO_MS.max, lastMs - t));
        m.clusterStateUntil = undoAt;
        if (kind === "setPoolDisabled") {
          ops.push(
            { atMs: t, op: { kind, disabled: true } },
            { atMs: undoAt, op: { kind, disabled: false } },
          );
        } else {
          ops.push(
            { atMs: t, op: { kind, node: rng.pick(nodes) } },
            { atMs: undoAt, op: { kind, node: null } },
          );
        }
        break;
      }
      const op = MAKERS[kind](rng, m);
      if (op !== undefined) {
        m.apply(op);
        ops.push({ atMs: t, op });
        break;
      }
      kinds.splice(kinds.indexOf(kind), 1);
    }
  }
  // Stable: an undo that falls on a lane op's time touches nothing that op depends on.
  return ops.sort((a, b) => a.atMs - b.atMs);
}

function drawFault(rng: Rng, kind: FaultKind, nodes: NodeName[]): Fault {
  switch (kind) {
    case "speakerKill":
    case "speakerTerm":
    case "linkCut":
    case "heartbeatBlock":
      return { kind, node: rng.pick(nodes) };
    case "foreignClaim":
      return { kind, pick: rng.fraction() };
    default:
      return { kind };
  }
}

function faultsLane(
  rng: Rng,
  minutes: number,
  durationMs: number,
  nodes: NodeName[],
  kinds: readonly FaultKind[],
): ScheduledFault[] {
  const endBy = durationMs - FAULT_TAIL_MS;
  const faults: ScheduledFault[] = [];
  // Kinds come from a shuffled bag of all of them, refilled when empty: each kind as often as the
  // others, and a short run still sees every kind.
  let bag: FaultKind[] = [];
  if (kinds.length === 0) return faults;
  for (let t = minutes <= 3 ? 10_000 : 15_000; ; ) {
    if (bag.length === 0) bag = rng.shuffle(kinds);
    const kind = bag[0] as FaultKind;
    const { min, max } = FAULT_DURATION_MS[kind];
    if (t + min > endBy) break;
    bag.shift();
    // The last fault may be drawn shorter so that it still ends before the tail.
    const durationMs = rng.int(min, Math.min(max, endBy - t));
    const fault = drawFault(rng, kind, nodes);
    // Every second heartbeat block drops only what comes in (a host firewall's usual mistake);
    // counted, not drawn, so that the rest of a seed's schedule stays where it was.
    if (fault.kind === "heartbeatBlock" && faults.filter((f) => f.fault.kind === kind).length % 2 === 1)
      fault.inboundOnly = true;
    faults.push({ atMs: t, durationMs, fault });
    t += durationMs + rng.int(4_000, 12_000);
  }
  return faults;
}

/** `faultKinds` (default all) narrows the fault lane to those kinds: a run aimed at one behaviour. */
export function makeSchedule(o: {
  seed: number;
  minutes: number;
  nodes: string[];
  faultKinds?: readonly FaultKind[];
}): Schedule {
  const durationMs = o.minutes * 60_000;
  if (!Number.isInteger(durationMs) || o.minutes < 1) {
    throw new LabError(
      "LAB_BAD_ARGUMENT",
      `a soak runs for at least 1 minute, in whole ms, not ${o.minutes}`,
    );
  }
  if (o.nodes.length === 0 || new Set(o.nodes).size !== o.nodes.length) {
    throw new LabError("LAB_BAD_ARGUMENT", `a soak needs distinct nodes, not [${o.nodes.join(", ")}]`);
  }
  const faultRng = new Rng(o.seed);
  // Each lane draws from its own stream (2^64 steps apart), so a change to the operations (weights,
  // a new kind) leaves a seed's faults where they were, and the other way round.
  const opRng = faultRng.independent();
  const nodes = [...o.nodes];
  const initial = initialState(nodes);
  const faults = faultsLane(faultRng, o.minutes, durationMs, nodes, o.faultKinds ?? FAULT_KINDS);
  const ops = opsLane(opRng, durationMs, new Model(nodes, initial));
  return { seed: o.seed, durationMs, nodes, initialPoolRanges: [...POOL_BASE], ...initial, faults, ops };
}

export function describeSchedule(s: Schedule): {
  faults: Record<FaultKind, number>;
  ops: Record<OpKind, number>;
} {
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const ops = Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as Record<OpKind, number>;
  for (const f of s.faults) faults[f.fault.kind]++;
  for (const o of s.ops) ops[o.op.kind]++;
  return { faults, ops };
}

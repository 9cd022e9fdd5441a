// A check of a soak schedule written from its specification, apart from the generator: it replays
// the operations against its own small model and lists every operation the runner could not carry
// out as written (a Service or Pod that does not exist, a state undone that was never set), every
// invariant the model breaks on the way, and every timing rule a lane breaks. Used by the tests.
import { FAULT_KINDS, type FaultKind, type Schedule, type ServiceShape, type ServiceType } from "./model.js";

const PORTS = new Set([80, 81, 8000, 8001, 8002, 8003, 8004, 8005, 8006, 8007, 8008, 8009, 8010]);
const REQUESTABLE_V4 = new Set(["192.0.2.220", "192.0.2.221", "192.0.2.222", "192.0.2.223"]);
const REQUESTABLE_V6 = new Set(["2001:db8::220", "2001:db8::221", "2001:db8::222", "2001:db8::223"]);
const BASE = ["192.0.2.200-192.0.2.215", "2001:db8::200-2001:db8::215"];
const GROWN = [...BASE, "192.0.2.216-192.0.2.223", "2001:db8::216-2001:db8::223"];
const APPS = ["web", "api"];
const KEYS = ["k1", "k2"];
const DURATION_S: Record<FaultKind, [number, number]> = {
  speakerKill: [3, 8],
  speakerTerm: [3, 8],
  linkCut: [2, 8],
  heartbeatBlock: [3, 10],
  controllerKill: [3, 10],
  controllerStop: [5, 20],
  apiServerStop: [5, 12],
  foreignClaim: [3, 8],
  diskFull: [5, 15],
};

const between = (x: number, lo: number, hi: number) => Number.isInteger(x) && x >= lo && x <= hi;

function shapeProblems(shape: ServiceShape): string[] {
  const out: string[] = [];
  const { ports, request } = shape;
  if (ports.length < 1 || ports.length > 2 || new Set(ports).size !== ports.length) {
    out.push(`ports ${ports} are not 1-2 distinct ports`);
  }
  if (ports.some((p) => !PORTS.has(p))) out.push(`ports ${ports} are not all in the soak's set`);
  if (!APPS.includes(shape.app)) out.push(`app ${shape.app} is not a soak app`);
  if (request !== undefined) out.push(...requestProblems(request, shape.dualStack));
  if (shape.sharingKey !== undefined && !KEYS.includes(shape.sharingKey)) out.push(`key ${shape.sharingKey}`);
  return out;
}

function requestProblems(request: string[], dualStack: boolean): string[] {
  const v4 = request.filter((a) => REQUESTABLE_V4.has(a)).length;
  const v6 = request.filter((a) => REQUESTABLE_V6.has(a)).length;
  const ok = v4 === 1 && v6 === (dualStack ? 1 : 0) && request.length === v4 + v6;
  return ok ? [] : [`request [${request}] is not one requestable address per family of the Service`];
}

/** Everything wrong with the operations lane, replayed in order; empty when all is well. */
export function opProblems(s: Schedule): string[] {
  const out: string[] = [];
  const services = new Map<string, { type: ServiceType; shape: ServiceShape }>();
  const pods = new Map<string, string>(); // name -> app
  const usedNames = new Set<string>();
  let ranges = s.initialPoolRanges;
  let disabled = false;
  let excluded: string | null = null;
  let clusterWideSince = -1;
  for (const v of s.initialServices) services.set(v.name, { type: "LoadBalancer", shape: v.shape });
  for (const p of s.initialPods) pods.set(p.name, p.app);
  for (const name of [...services.keys(), ...pods.keys()]) usedNames.add(name);

  for (const { atMs, op } of s.ops) {
    const fail = (message: string) => out.push(`${atMs} ms ${op.kind}: ${message}`);
    const existing = (name: string) => {
      const v = services.get(name);
      if (v === undefined) fail(`Service ${name} does not exist`);
      return v;
    };
    const fresh = (name: string) => {
      if (usedNames.has(name)) fail(`${name} was used before`);
      usedNames.add(name);
    };
    switch (op.kind) {
      case "createService":
        fresh(op.name);
        for (const p of shapeProblems(op.shape)) fail(p);
        services.set(op.name, { type: "LoadBalancer", shape: op.shape });
        break;
      case "deleteService":
        if (existing(op.name)) services.delete(op.name);
        break;
      case "changePorts": {
        const v = existing(op.name);
        if (v) v.shape = { ...v.shape, ports: op.ports };
        if (v) for (const p of shapeProblems(v.shape)) fail(p);
        break;
      }
      case "changeType": {
        const v = existing(op.name);
        if (v && v.type === op.type) fail(`${op.name} is ${op.type} already`);
        if (v) v.type = op.type;
        break;
      }
      case "changePolicy": {
        const v = existing(op.name);
        if (v && v.type !== "LoadBalancer") fail(`${op.name} is ${v.type}: no traffic policy there`);
        if (v && v.shape.policy === op.policy) fail(`${op.name} is ${op.policy} already`);
        if (v) v.shape = { ...v.shape, policy: op.policy };
        break;
      }
      case "changeRequest": {
        const v = existing(op.name);
        if (v && op.request === null && v.shape.request === undefined) fail(`${op.name} requests nothing`);
        if (v && op.request !== null) for (const p of requestProblems(op.request, v.shape.dualStack)) fail(p);
        if (v) v.shape = { ...v.shape, request: op.request ?? undefined };
        break;
      }
      case "changeSharing": {
        const v = existing(op.name);
        if (v && (v.shape.sharingKey ?? null) === op.sharingKey) fail(`${op.name} has that key already`);
        if (v) v.shape = { ...v.shape, sharingKey: op.sharingKey ?? undefined };
        if (v) for (const p of shapeProblems(v.shape)) fail(p);
        break;
      }
      case "createPod":
        fresh(op.name);
        if (!s.nodes.includes(op.node)) fail(`node ${op.node} is not in the run`);
        if (!APPS.includes(op.app)) fail(`app ${op.app} is not a soak app`);
        pods.set(op.name, op.app);
        break;
      case "deletePod":
        if (!pods.delete(op.name)) fail(`Pod ${op.name} does not exist`);
        break;
      case "setPoolRanges": {
        const next = op.ranges.join();
        if (next === ranges.join() || (next !== BASE.join() && next !== GROWN.join())) {
          fail(`ranges [${op.ranges}] after [${ranges}]`);
        }
        ranges = op.ranges;
        break;
      }
      case "setPoolDisabled":
        if (op.disabled && (disabled || excluded !== null)) fail("another cluster-wide state is in force");
        if (!op.disabled && !disabled) fail("the pool is not disabled");
        if (!op.disabled && !between(atMs - clusterWideSince, 5_000, 20_000))
          fail("undone too early or late");
        disabled = op.disabled;
        clusterWideSince = atMs;
        break;
      case "setL2Exclusion":
        if (op.node !== null && (disabled || excluded !== null))
          fail("another cluster-wide state is in force");
        if (op.node !== null && !s.nodes.includes(op.node)) fail(`node ${op.node} is not in the run`);
        if (op.node === null && excluded === null) fail("no node is left out");
        if (op.node === null && !between(atMs - clusterWideSince, 5_000, 20_000))
          fail("undone too early or late");
        excluded = op.node;
        clusterWideSince = atMs;
        break;
    }
    for (const p of modelProblems(services, pods)) fail(p);
  }
  if (disabled || excluded !== null) out.push("the run ends with the pool disabled or a node left out");
  return out;
}

/** The invariants the model keeps after every operation. */
function modelProblems(
  services: Map<string, { type: ServiceType; shape: ServiceShape }>,
  pods: Map<string, string>,
): string[] {
  const out: string[] = [];
  if (services.size < 3 || services.size > 8) out.push(`${services.size} Services`);
  if (pods.size < 3 || pods.size > 9) out.push(`${pods.size} Pods`);
  for (const app of APPS) if (![...pods.values()].includes(app)) out.push(`no Pod for app ${app}`);
  const requested = new Map<string, string>();
  const keyPorts = new Map<string, Map<number, string>>();
  for (const [name, { shape }] of services) {
    for (const a of shape.request ?? []) {
      const other = requested.get(a);
      if (other !== undefined) out.push(`${name} and ${other} both request ${a}`);
      requested.set(a, name);
    }
    const key = shape.sharingKey;
    if (key === undefined) continue;
    if (shape.policy !== "Cluster") out.push(`${name} shares with key ${key} but is ${shape.policy}`);
    const ports = keyPorts.get(key) ?? new Map<number, string>();
    keyPorts.set(key, ports);
    for (const p of shape.ports) {
      const other = ports.get(p);
      if (other !== undefined) out.push(`${name} and ${other} share key ${key} and port ${p}`);
      ports.set(p, name);
    }
  }
  return out;
}

/** Everything wrong with the timing of both lanes; empty when all is well. */
export function timingProblems(s: Schedule, minutes: number): string[] {
  const out: string[] = [];
  const end = s.durationMs;
  if (end !== minutes * 60_000) out.push(`durationMs ${end} for ${minutes} minutes`);
  s.ops.forEach(({ atMs }, i) => {
    if (!between(atMs, 5_000, end - 20_000)) out.push(`op ${i} at ${atMs} ms is outside 5 s .. end - 20 s`);
    if (i > 0 && atMs < (s.ops[i - 1]?.atMs ?? 0)) out.push(`op ${i} at ${atMs} ms is out of order`);
  });
  // The lane's own steps (undos come on their own time): 5 s, then every 1-4 s until the tail.
  const lane = s.ops.filter(
    ({ op }) =>
      !(op.kind === "setPoolDisabled" && !op.disabled) && !(op.kind === "setL2Exclusion" && op.node === null),
  );
  if (lane[0]?.atMs !== 5_000) out.push(`the first op is at ${lane[0]?.atMs} ms`);
  lane.forEach(({ atMs }, i) => {
    const gap = atMs - (lane[i - 1]?.atMs ?? atMs - 1_000);
    if (!between(gap, 1_000, 4_000)) out.push(`op at ${atMs} ms comes ${gap} ms after the one before`);
  });
  if ((lane.at(-1)?.atMs ?? 0) < end - 24_000) out.push("the ops lane stops early");
  s.faults.forEach(({ atMs, durationMs, fault }, i) => {
    const [lo, hi] = DURATION_S[fault.kind];
    if (!between(durationMs, lo * 1_000, hi * 1_000)) out.push(`${fault.kind} ${i} lasts ${durationMs} ms`);
    if (atMs + durationMs > end - 25_000) out.push(`fault ${i} ends within 25 s of the end`);
    const prev = s.faults[i - 1];
    const first = minutes <= 3 ? 10_000 : 15_000;
    const gap = prev === undefined ? undefined : atMs - prev.atMs - prev.durationMs;
    if (gap === undefined ? atMs !== first : !between(gap, 4_000, 12_000)) {
      out.push(`fault ${i} at ${atMs} ms: ${gap === undefined ? "first" : `${gap} ms after the last`}`);
    }
    if ("node" in fault && !s.nodes.includes(fault.node)) out.push(`fault ${i} names node ${fault.node}`);
    if ("pick" in fault && !(fault.pick >= 0 && fault.pick < 1)) out.push(`fault ${i} picks ${fault.pick}`);
  });
  return out;
}

/** How many faults of each kind, in FAULT_KINDS order. */
export const faultCounts = (s: Schedule): number[] =>
  FAULT_KINDS.map((k) => s.faults.filter((f) => f.fault.kind === k).length);

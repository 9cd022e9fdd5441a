// Small builders for synthetic soak records, so each referee test states only what it is about.
import type {
  ApiSnapshot,
  AuditRow,
  FaultKind,
  FaultRecord,
  Op,
  OpRecord,
  Outage,
  ServiceView,
  SoakRecord,
  WireSighting,
} from "../model.js";

export const T0 = 1_700_000_000_000;
export const MAC = {
  "node-1": "02:00:00:00:00:01",
  "node-2": "02:00:00:00:00:02",
  "node-3": "02:00:00:00:00:03",
} as const;
export const FOREIGN_MAC = "02:ff:00:00:00:99";
export const POOL = { name: "pool", addresses: ["192.0.2.0/28", "2001:db8::/124"], disabled: false };

export function record(parts: Partial<SoakRecord> = {}): SoakRecord {
  return {
    t0: T0,
    durationMs: 60_000,
    nodes: ["node-1", "node-2", "node-3"],
    macs: { ...MAC },
    foreignMacs: [FOREIGN_MAC],
    faults: [],
    ops: [],
    wire: [],
    probes: [],
    outages: [],
    snapshots: [],
    audit: [],
    resources: { start: [], end: [] },
    ...parts,
  };
}

/** A LoadBalancer Service "a" (uid u-a) of policy Cluster on TCP 80, selecting app=a. */
export function svc(parts: Partial<ServiceView> = {}): ServiceView {
  const name = parts.name ?? "a";
  return {
    uid: `u-${name}`,
    namespace: "soak",
    name,
    type: "LoadBalancer",
    policy: "Cluster",
    addresses: [],
    request: [],
    ports: [{ protocol: "TCP", port: 80 }],
    selector: { app: name },
    pool: "pool",
    ...parts,
  };
}

export function snap(t: number, services: ServiceView[], parts: Partial<ApiSnapshot> = {}): ApiSnapshot {
  return { t, services, pools: [POOL], pods: [], l2Excluded: [], ...parts };
}

export function seen(t: number, address: string, who: keyof typeof MAC | string): WireSighting {
  const mac = who in MAC ? MAC[who as keyof typeof MAC] : who;
  return { t, address, mac, kind: address.includes(":") ? "na-solicited" : "arp-reply" };
}

/** The same answerer every `every` ms in [from, to). */
export function steady(address: string, who: string, from: number, to: number, every = 1000): WireSighting[] {
  const out: WireSighting[] = [];
  for (let t = from; t < to; t += every) out.push(seen(t, address, who));
  return out;
}

export function fault(
  kind: FaultKind,
  startMs: number,
  endMs: number | undefined,
  parts: Partial<FaultRecord> = {},
): FaultRecord {
  return { kind, startMs, ...(endMs === undefined ? {} : { endMs }), ...parts };
}

export function op(o: Op, startMs: number, endMs: number): OpRecord {
  return { op: o, startMs, endMs, ok: true };
}

export function outage(address: string, fromMs: number, toMs: number, port = 80): Outage {
  return {
    address,
    port,
    fromMs,
    toMs,
    failures: Math.max(1, Math.round((toMs - fromMs) / 10)),
    errors: { TIMEOUT: 1 },
  };
}

/** An audit row at run time t (ms since t0). */
export function row(t: number, parts: Partial<AuditRow> & Pick<AuditRow, "kind" | "seq">): AuditRow {
  return { dir: "controller-0", component: "controller", timeMs: T0 + t, addresses: [], ...parts };
}

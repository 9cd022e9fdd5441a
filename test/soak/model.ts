// The shapes a soak run shares between its parts: the schedule (what the run will do, from the
// seed alone), the record (what the harness did and what outsiders saw) and the verdicts of the
// referees. Times are milliseconds since the run's start (`t0`, epoch ms in the report).
// Pure types: no I/O here.

/** The lab's nodes, by name ("node-1" ...). */
export type NodeName = string;

export const FAULT_KINDS = [
  "speakerKill",
  "speakerTerm",
  "controllerKill",
  "controllerStop",
  "linkCut",
  "heartbeatBlock",
  "apiServerStop",
  "foreignClaim",
  "diskFull",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * One fault: put in at `atMs`, taken back `durationMs` later (the process restarted, SIGCONT,
 * the link restored, the block lifted, the API server started, the claim stopped, space freed).
 * Node faults name their node; the controller faults hit whichever controller leads at the time;
 * foreignClaim claims the address of index floor(pick * n) among the n addresses held at the time,
 * sorted as text.
 */
export type Fault =
  | { kind: "speakerKill" | "speakerTerm" | "linkCut"; node: NodeName }
  /** inboundOnly: the node drops heartbeats that come in and still sends its own (one-way loss). */
  | { kind: "heartbeatBlock"; node: NodeName; inboundOnly?: boolean }
  | { kind: "controllerKill" | "controllerStop" | "apiServerStop" | "diskFull" }
  | { kind: "foreignClaim"; pick: number };

export type Policy = "Cluster" | "Local";
export type ServiceType = "LoadBalancer" | "ClusterIP";

/** What a soak Service looks like; every soak Service selects the Pods labelled app=`app`. */
export interface ServiceShape {
  dualStack: boolean;
  policy: Policy;
  /** TCP ports, distinct; each is also the Service's targetPort name-free mapping to 8080. */
  ports: number[];
  /** herald.dev/loadBalancerIPs: one address per family at most. */
  request?: string[];
  /** herald.dev/allow-shared-ip. */
  sharingKey?: string;
  app: string;
}

export type Op =
  | { kind: "createService"; name: string; shape: ServiceShape }
  | { kind: "deleteService"; name: string }
  | { kind: "changePorts"; name: string; ports: number[] }
  | { kind: "changeType"; name: string; type: ServiceType }
  | { kind: "changePolicy"; name: string; policy: Policy }
  | { kind: "changeRequest"; name: string; request: string[] | null }
  | { kind: "changeSharing"; name: string; sharingKey: string | null }
  /** A Pod labelled app=`app` on `node`, Running and Ready. */
  | { kind: "createPod"; name: string; node: NodeName; app: string }
  /** Graceful: marked not Ready, then deleted a moment later (as a kubelet does). */
  | { kind: "deletePod"; name: string }
  /** The pool's `addresses` become exactly `ranges` (grown or shrunk). */
  | { kind: "setPoolRanges"; ranges: string[] }
  | { kind: "setPoolDisabled"; disabled: boolean }
  /** The L2Advertisement leaves out `node` (nodeSelector NotIn), or no node when null. */
  | { kind: "setL2Exclusion"; node: NodeName | null };
export type OpKind = Op["kind"];

export interface ScheduledFault {
  atMs: number;
  durationMs: number;
  fault: Fault;
}

export interface ScheduledOp {
  atMs: number;
  op: Op;
}

/** What the run will do: a pure function of (seed, minutes, nodes). */
export interface Schedule {
  seed: number;
  durationMs: number;
  nodes: NodeName[];
  /** The pool's ranges at the start. */
  initialPoolRanges: string[];
  /** Services and Pods that exist before the first step (created during set-up). */
  initialPods: { name: string; node: NodeName; app: string }[];
  initialServices: { name: string; shape: ServiceShape }[];
  /** Ordered by atMs; never two at once (one fault lane). */
  faults: ScheduledFault[];
  /** Ordered by atMs; up to two run at the same time. */
  ops: ScheduledOp[];
}

// ---- The record: what the harness did and what outsiders saw ----

/** A fault as it happened. `endMs`: when it was taken back (undefined if the run ended first). */
export interface FaultRecord {
  kind: FaultKind;
  node?: NodeName;
  /** heartbeatBlock: only the heartbeats coming in were dropped. */
  inboundOnly?: boolean;
  /** foreignClaim: the address claimed. */
  address?: string;
  /** controllerKill / controllerStop: the controller hit. */
  controller?: string;
  /** When it was put in: the signal sent, or the command that puts it in started. */
  startMs: number;
  /**
   * For a fault put in by a command (nft, ip, a filled disk): when that command returned, which on
   * a loaded machine can be most of a second after the kernel applied it. Failover budgets count
   * from here; settle windows from startMs.
   */
  appliedMs?: number;
  endMs?: number;
  /** Why the fault could not be put in (e.g. no controller led), if it could not. */
  skipped?: string;
}

/** An operation as it happened: sent at `startMs`, answered at `endMs`. */
export interface OpRecord {
  op: Op;
  startMs: number;
  endMs: number;
  ok: boolean;
  /** The API's refusal or the transport error, when not ok. */
  error?: string;
}

/**
 * An ARP reply, gratuitous ARP or neighbour advertisement the client's capture saw for an
 * address: who answered (MAC, lower case) and when.
 */
export interface WireSighting {
  t: number;
  address: string;
  mac: string;
  kind: "arp-reply" | "arp-gratuitous" | "na-solicited" | "na-unsolicited";
}

/** A stretch of failed probes to one address:port, from the first failure to the next success. */
export interface Outage {
  address: string;
  port: number;
  /** Start time of the first failed probe. */
  fromMs: number;
  /** Start time of the next successful probe (or the end of probing that target). */
  toMs: number;
  failures: number;
  /** Failure codes seen and how often (ECONNREFUSED, TIMEOUT, ...). */
  errors: Record<string, number>;
}

/** Probing of one address:port target: when it ran, and how many probes succeeded per second. */
export interface ProbeTarget {
  address: string;
  port: number;
  fromMs: number;
  toMs: number;
  probes: number;
  ok: number;
  /** okPerSecond[i]: successful probes started in second i after fromMs. */
  okPerSecond: number[];
  failedPerSecond: number[];
}

/** A Service as the API server showed it, at a change. */
export interface ServiceView {
  uid: string;
  namespace: string;
  name: string;
  type: string;
  policy: Policy;
  /** status.loadBalancer.ingress IPs, as written. */
  addresses: string[];
  /** herald.dev/loadBalancerIPs, split. */
  request: string[];
  sharingKey?: string;
  ports: { protocol: string; port: number }[];
  selector: Record<string, string>;
  /** herald.dev/allocated-from-pool. */
  pool?: string;
}

/** The API server's view at one moment when something the referees read changed. */
export interface ApiSnapshot {
  t: number;
  services: ServiceView[];
  pools: { name: string; addresses: string[]; disabled: boolean }[];
  /** The soak's Pods: where they run and whether they are Ready (endpoints). */
  pods: { name: string; node: NodeName; app: string; ready: boolean }[];
  /** Nodes the L2Advertisement leaves out. */
  l2Excluded: NodeName[];
  /**
   * What the EndpointSlices say, per Service: the Pod behind each endpoint and whether the slice
   * calls it ready. Absent in reports written before it was recorded.
   */
  endpoints?: { service: string; pod: string; ready: boolean }[];
}

/** One audit row as DuckDB read it from a component's Parquet files. */
export interface AuditRow {
  /** The component's directory (e.g. "controller-0", "speaker-node-1"). */
  dir: string;
  component: string;
  node?: string;
  seq: number;
  /** Epoch ms. */
  timeMs: number;
  kind: string;
  serviceUid?: string;
  serviceName?: string;
  addresses: string[];
}

/** RSS and open descriptors of one component, at the start and at the end of the run. */
export interface ResourceSample {
  component: string;
  pid: number;
  rssBytes: number;
  fds: number;
}

export interface SoakRecord {
  /** Epoch ms of t = 0. */
  t0: number;
  durationMs: number;
  nodes: NodeName[];
  /** eth0 MAC of every node, lower case. */
  macs: Record<NodeName, string>;
  /** MACs of hosts on the LAN that are not nodes (the foreign claimer). */
  foreignMacs: string[];
  faults: FaultRecord[];
  ops: OpRecord[];
  wire: WireSighting[];
  probes: ProbeTarget[];
  outages: Outage[];
  snapshots: ApiSnapshot[];
  audit: AuditRow[];
  resources: { start: ResourceSample[]; end: ResourceSample[] };
}

// ---- Verdicts ----

export interface Violation {
  t: number;
  address?: string;
  message: string;
}

export interface Verdict {
  referee: "wire" | "addresses" | "traffic" | "audit" | "resources";
  pass: boolean;
  /** What was looked at, in numbers (sightings, outages, rows ...). */
  checked: Record<string, number>;
  violations: Violation[];
}

// Desired forwarding state of one node and its reduction to frontends: one
// (address, protocol, port) each, with the targets new connections may go to.
// Pure: the wiring builds ForwardingState from Services, EndpointSlices and the
// election; the renderer turns the plan into nftables.
import { formatAddress, formatCidr, parseAddress, parseCidr } from "../../domain/address.js";
import { type HandoverPlan, type HandoverState, planHandover } from "./handover.js";
import { maxSourceElements, type SourceRangeProblemReason, sourceRanges } from "./source-ranges.js";

export type Protocol = "TCP" | "UDP";
export type TrafficPolicy = "Cluster" | "Local";
export type Family = 4 | 6;

export interface ForwardedPort {
  protocol: Protocol;
  port: number;
  /** The Service's NodePort; needed for Cluster forwarding to other nodes. */
  nodePort: number | null;
  /** Resolved container port of the local endpoints. */
  targetPort: number;
}

export interface ForwardedService {
  /** namespace/name, used in comments and problem reports. */
  name: string;
  /** Addresses of this Service that this node owns (IPv4 and/or IPv6). */
  addresses: string[];
  ports: ForwardedPort[];
  externalTrafficPolicy: TrafficPolicy;
  /** sessionAffinity ClientIP with its timeout, or null for None. */
  sessionAffinity: { timeoutSeconds: number } | null;
  /** loadBalancerSourceRanges; empty allows everyone. */
  loadBalancerSourceRanges: string[];
  /**
   * Addresses of other eligible nodes whose NodePort may take the traffic (Cluster only).
   * The wiring passes none when the Service has no ready endpoint anywhere, so that
   * clients get a fast reject instead of a detour to a node that rejects.
   */
  remoteNodes: string[];
  /** Ready endpoints (pod addresses) of the Service on this node. */
  localEndpoints: string[];
}

/** A ready endpoint (Pod address) behind a TCP NodePort of a Cluster Service Herald forwards. */
export interface NodePortEndpoint {
  nodePort: number;
  address: string;
}

export interface ForwardingState {
  services: ForwardedService[];
  /**
   * Every handled Cluster Service's TCP NodePorts with its ready endpoints on any node: an owner
   * sends such a Service's traffic to this node's NodePort, and kube-proxy translates it. When an
   * endpoint leaves, its unanswered connections are forgotten (stale.ts).
   */
  nodePortEndpoints?: NodePortEndpoint[];
  /** Connections passed on after takeovers, and dropped after handovers (handover.ts). */
  handover?: HandoverState;
}

export interface Target {
  address: string;
  port: number;
  /** pod: a local endpoint, reached directly; node: another node's NodePort, masqueraded. */
  kind: "pod" | "node";
}

export interface Frontend {
  /** Stable token naming this frontend's chains: `192.0.2.10-tcp-80`, `2001_db8__10-udp-53`. */
  id: string;
  /** Equal signatures mean equal frontends (same Service text, same id). */
  signature: string;
  service: string;
  family: Family;
  address: string;
  protocol: "tcp" | "udp";
  port: number;
  policy: TrafficPolicy;
  /** Sorted; empty means "no ready endpoint anywhere": reject. */
  targets: Target[];
  affinityTimeoutSeconds: number | null;
  /** Canonical CIDRs of this family; null means unrestricted. */
  sourceRanges: string[] | null;
}

export type ProblemReason =
  | SourceRangeProblemReason
  | "badAddress"
  | "badPort"
  | "badAffinityTimeout"
  | "portConflict"
  | "noNodePort";

export interface Problem {
  service: string;
  reason: ProblemReason;
  message: string;
}

export interface ForwardingPlan {
  frontends: Frontend[];
  problems: Problem[];
  handover?: HandoverPlan[];
}

const maxAffinitySeconds = 86_400;

const canonicalCache = new Map<string, { address: string; family: Family } | null>();
const plainIPv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Canonical text of an IP address (lower case, compressed IPv6), or null. */
export function canonicalAddress(text: string): { address: string; family: Family } | null {
  if (plainIPv4.test(text)) return { address: text, family: 4 };
  const known = canonicalCache.get(text);
  if (known !== undefined) return known;
  // The one address parser: zones (fe80::1%eth0) and other text nft cannot take are refused.
  const p = parseAddress(text);
  const result: { address: string; family: Family } | null = p.ok
    ? { address: formatAddress(p.value), family: p.value.family === "IPv4" ? 4 : 6 }
    : null;
  // Addresses repeat across Services and syncs; the cache only saves parsing.
  if (canonicalCache.size > 100_000) canonicalCache.clear();
  canonicalCache.set(text, result);
  return result;
}

/** The value of a canonical address (as canonicalAddress gives it). */
export function addressBits(address: string): bigint {
  const p = parseAddress(address);
  return p.ok ? p.value.value : 0n;
}

/** Canonical CIDR with host bits cleared (nft refuses prefixes with host bits); a bare address is a host. */
export function canonicalCidr(text: string): { cidr: string; family: Family } | null {
  const s = text.trim();
  if (!s.includes("/")) {
    const a = canonicalAddress(s);
    return a && { cidr: `${a.address}/${a.family === 4 ? 32 : 128}`, family: a.family };
  }
  const c = parseCidr(s, { hostBits: "clear" });
  return c.ok ? { cidr: formatCidr(c.value), family: c.value.family === "IPv4" ? 4 : 6 } : null;
}

function validPort(n: number | null): n is number {
  return n !== null && Number.isInteger(n) && n >= 1 && n <= 65_535;
}

export function addressToken(address: string): string {
  return address.replaceAll(":", "_");
}

function byTarget(a: Target, b: Target): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port;
}

/**
 * Reduces the desired state to frontends. Services are taken in name order, so when two
 * claim the same (address, protocol, port) the same one wins on every node; the other
 * is reported, never half-applied.
 */
export function planForwarding(state: ForwardingState, memo?: PlanMemo): ForwardingPlan {
  const problems: Problem[] = [];
  const frontends = new Map<string, Frontend>();
  const services = [...state.services].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const seen = new Map<string, ServicePlan>();
  for (const svc of services) {
    // The same object as last time is the same Service (the state is not mutated in place);
    // otherwise equal text is.
    const known = memo?.byObject.get(svc);
    const fingerprint = known?.fingerprint ?? JSON.stringify(svc);
    const planned = known ?? memo?.byText.get(fingerprint) ?? planService(svc, fingerprint);
    memo?.byObject.set(svc, planned);
    seen.set(fingerprint, planned);
    problems.push(...planned.problems);
    for (const fe of planned.frontends) {
      const holder = frontends.get(fe.id);
      if (holder) {
        problems.push({
          service: svc.name,
          reason: "portConflict",
          message: `${fe.address} ${fe.protocol}/${fe.port} is already forwarded for ${holder.service}`,
        });
      } else frontends.set(fe.id, fe);
    }
  }
  if (memo) memo.byText = seen;
  return {
    frontends: [...frontends.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
    problems,
    handover: planHandover(state.handover),
  };
}

interface ServicePlan {
  fingerprint: string;
  frontends: Frontend[];
  problems: Problem[];
}

/**
 * Plans of Services seen in the previous sync, by object and by full text: an unchanged
 * Service yields the very same Frontend objects, which lets the renderer skip them cheaply.
 */
export interface PlanMemo {
  byText: Map<string, ServicePlan>;
  byObject: WeakMap<ForwardedService, ServicePlan>;
}

export function newPlanMemo(): PlanMemo {
  return { byText: new Map(), byObject: new WeakMap() };
}

function planService(svc: ForwardedService, fingerprint: string): ServicePlan {
  const problems: Problem[] = [];
  const frontends = new Map<string, Frontend>();
  const report = (reason: ProblemReason, message: string) =>
    problems.push({ service: svc.name, reason, message });
  let affinity: number | null = null;
  if (svc.sessionAffinity) {
    const t = svc.sessionAffinity.timeoutSeconds;
    if (Number.isInteger(t) && t >= 1 && t <= maxAffinitySeconds) affinity = t;
    else {
      report("badAffinityTimeout", `affinity timeout ${t} is not 1..${maxAffinitySeconds}; using 10800`);
      affinity = 10_800;
    }
  }
  const ranges = sourceRanges(svc.loadBalancerSourceRanges);
  for (const p of ranges.problems) report(p.reason, p.message);
  const restricted = svc.loadBalancerSourceRanges.length > 0;
  const checked = (list: string[], what: string) =>
    list.map((a) => {
      const c = canonicalAddress(a);
      if (!c) report("badAddress", `${what} "${a}" is not an IP address; ignored`);
      return c;
    });
  const pods = checked(svc.localEndpoints, "endpoint");
  const nodes = checked(svc.remoteNodes, "node");
  for (const raw of svc.addresses) {
    const vip = canonicalAddress(raw);
    if (!vip) {
      report("badAddress", `"${raw}" is not an IP address`);
      continue;
    }
    for (const p of svc.ports) {
      const protocol = p.protocol === "TCP" ? "tcp" : p.protocol === "UDP" ? "udp" : null;
      if (!protocol || !validPort(p.port) || !validPort(p.targetPort)) {
        report("badPort", `port ${p.protocol}/${p.port} -> ${p.targetPort} is not forwardable`);
        continue;
      }
      const id = `${addressToken(vip.address)}-${protocol}-${p.port}`;
      const holder = frontends.get(id);
      if (holder) {
        report(
          "portConflict",
          `${vip.address} ${protocol}/${p.port} is already forwarded for ${holder.service}`,
        );
        continue;
      }
      const targets = new Map<string, Target>();
      for (const e of pods) {
        if (e?.family === vip.family) {
          targets.set(`${e.address}|${p.targetPort}`, {
            address: e.address,
            port: p.targetPort,
            kind: "pod",
          });
        }
      }
      if (svc.externalTrafficPolicy === "Cluster") {
        const remote = nodes.filter((n) => n?.family === vip.family);
        if (remote.length > 0 && !validPort(p.nodePort)) {
          report("noNodePort", `${protocol}/${p.port} has no NodePort; other nodes are not used`);
        } else if (validPort(p.nodePort)) {
          for (const n of remote) {
            if (n)
              targets.set(`${n.address}|${p.nodePort}`, {
                address: n.address,
                port: p.nodePort,
                kind: "node",
              });
          }
        }
      }
      frontends.set(id, {
        id,
        signature: `${fingerprint}|${id}`,
        service: svc.name,
        family: vip.family,
        address: vip.address,
        protocol,
        port: p.port,
        policy: svc.externalTrafficPolicy,
        targets: [...targets.values()].sort(byTarget),
        affinityTimeoutSeconds: affinity,
        sourceRanges: restricted ? ranges[vip.family] : null,
      });
    }
  }
  // Every port repeats the ranges in the allowed set: bound the product too (see maxSourceRanges).
  const elements = [...frontends.values()].reduce((n, f) => n + (f.sourceRanges?.length ?? 0), 0);
  if (elements > maxSourceElements) {
    report(
      "tooManySourceRanges",
      `${elements} source range entries (ranges times ports), more than ${maxSourceElements}; no client is let in`,
    );
    for (const f of frontends.values()) f.sourceRanges = [];
  }
  return { fingerprint, frontends: [...frontends.values()], problems };
}

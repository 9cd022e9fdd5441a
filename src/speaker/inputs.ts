// From the cluster as the informers see it to what the speaker's two halves take in: the
// election inputs of the layer-2 speaker (nodes, Services with their advertisements and
// endpoint nodes, peers' heartbeat addresses, interfaces per address) and the forwarding state
// of what this node owns. Pure: the same objects give the same answer on every node.
import type { V1Node, V1Service } from "@kubernetes/client-node";
import { coversPool, type L2Advertisement, parseL2Advertisement } from "../api/l2advertisement.js";
import { ignoresAddressConflicts, isHandled, serviceKey } from "../api/service.js";
import type { Election, ElectionNode, ElectionService } from "../domain/election.js";
import { matches } from "../domain/selector.js";
import { admissionPools, admittedAddresses, apiAddress, type Refusal } from "./admission.js";
import type {
  ForwardedPort,
  ForwardedService,
  ForwardingState,
  NodePortEndpoint,
  Protocol,
} from "./forward/state.js";
import { forwardTargets } from "./l2/heartbeat-plan.js";
import type { ClusterState } from "./l2/l2-interface.js";

export const HEARTBEAT_ADDRESS_ANNOTATION = "herald.dev/heartbeat-address";
export const SPEAKER_MACS_ANNOTATION = "herald.dev/speaker-macs";
/** The speaker's heartbeat public key (node-identity.ts), made anew at every start. */
export const HEARTBEAT_PUBLIC_KEY_ANNOTATION = "herald.dev/heartbeat-public-key";
export const SPEAKER_LEASE_PREFIX = "herald-speaker-";
const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
const HOSTNAME_LABEL = "kubernetes.io/hostname";

/** An EndpointSlice as discovery.k8s.io v1 or v1beta1 serves it (the fields read here). */
export interface EndpointSliceObject {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  addressType?: string;
  endpoints?: {
    addresses?: string[];
    conditions?: { ready?: boolean | null; terminating?: boolean | null };
    /** v1, and v1beta1 from 1.20 behind a feature gate. */
    nodeName?: string;
    /** v1beta1: the node's hostname label. */
    topology?: Record<string, string>;
  }[];
  ports?: { name?: string; port?: number; protocol?: string }[] | null;
}

export interface LeaseObject {
  metadata?: { name?: string; annotations?: Record<string, string> };
  spec?: { holderIdentity?: string };
}

export interface PoolObject {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { addresses?: unknown; ignoreAddressConflicts?: unknown };
}

export interface ClusterObjects {
  services: readonly V1Service[];
  slices: readonly EndpointSliceObject[];
  nodes: readonly V1Node[];
  pools: readonly PoolObject[];
  advertisements: readonly unknown[];
  leases: readonly LeaseObject[];
  /** Handle only Services of this loadBalancerClass (undefined: those without a class). */
  lbClass?: string;
}

export interface SpeakerInputs {
  cluster: ClusterState;
  /** Per Service key: the handled Service and its endpoints, for forwarding. */
  services: ReadonlyMap<string, HandledService>;
  /** Node name -> InternalIPs, IPv4 first. */
  nodeAddresses: ReadonlyMap<string, readonly string[]>;
  /** MACs the speakers publish in their Leases: their claims are takeovers, not conflicts. */
  /** MAC (lower case) -> node, of every speaker's links, from the speakers' Leases. */
  speakerMacs: ReadonlyMap<string, string>;
  /** Objects that could not be read, with the reason (for logs). */
  problems: string[];
  /** Values from the API not acted on (bad addresses, addresses no pool assigned): reported once. */
  refused: Refusal[];
}

export interface HandledService {
  service: V1Service;
  addresses: string[];
  endpoints: ServiceEndpoints;
}

export interface ServiceEndpoints {
  /** Ready endpoint addresses by node. */
  byNode: Map<string, string[]>;
  /** Container port by (protocol, Service port name). */
  ports: Map<string, number>;
}

export function electionNode(node: V1Node): ElectionNode {
  const conditions = node.status?.conditions ?? [];
  const status = (type: string) => conditions.find((c) => c.type === type)?.status;
  return {
    name: node.metadata?.name ?? "",
    labels: node.metadata?.labels ?? {},
    ready: status("Ready") === "True",
    networkUnavailable: status("NetworkUnavailable") === "True",
  };
}

/** The node's InternalIPs that are addresses (canonical, IPv4 first); the others go to `refused`. */
export function internalAddresses(node: V1Node, refused: Refusal[] = []): string[] {
  const ips: string[] = [];
  for (const a of node.status?.addresses ?? []) {
    if (a.type !== "InternalIP") continue;
    const p = apiAddress(a.address);
    if (p.ok) ips.push(p.address);
    else
      refused.push({
        object: `Node ${node.metadata?.name ?? ""}`,
        value: a.address,
        reason: "InvalidNodeAddress",
        message: `InternalIP ignored: ${p.error}`,
      });
  }
  return [...ips.filter((a) => !a.includes(":")), ...ips.filter((a) => a.includes(":"))];
}

function canonical(ip: string): string | undefined {
  const p = apiAddress(ip);
  return p.ok ? p.address : undefined;
}

const portKey = (protocol: string | undefined, name: string | undefined) =>
  `${protocol ?? "TCP"}/${name ?? ""}`;

/** Ready endpoints of every Service, from EndpointSlices of either version. */
export function serviceEndpoints(
  slices: readonly EndpointSliceObject[],
  nodes: readonly V1Node[],
  refused: Refusal[] = [],
): Map<string, ServiceEndpoints> {
  const byHostname = new Map<string, string>();
  for (const n of nodes) {
    const name = n.metadata?.name ?? "";
    byHostname.set(n.metadata?.labels?.[HOSTNAME_LABEL] ?? name, name);
  }
  const result = new Map<string, ServiceEndpoints>();
  for (const slice of slices) {
    const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!service || slice.addressType === "FQDN") continue;
    const key = `${slice.metadata?.namespace ?? ""}/${service}`;
    const entry = result.get(key) ?? { byNode: new Map(), ports: new Map() };
    result.set(key, entry);
    for (const p of slice.ports ?? []) if (p.port) entry.ports.set(portKey(p.protocol, p.name), p.port);
    for (const e of slice.endpoints ?? []) {
      // A missing ready condition means ready (API convention); terminating ones take no new traffic.
      if (e.conditions?.ready === false || e.conditions?.terminating === true) continue;
      const hostname = e.topology?.[HOSTNAME_LABEL];
      const node =
        e.nodeName ?? (hostname === undefined ? undefined : (byHostname.get(hostname) ?? hostname));
      if (node === undefined) continue;
      const list = entry.byNode.get(node) ?? [];
      for (const a of e.addresses ?? []) {
        const c = apiAddress(a);
        if (c.ok && !list.includes(c.address)) list.push(c.address);
        else if (!c.ok)
          refused.push({
            object: `EndpointSlice ${slice.metadata?.namespace ?? ""}/${slice.metadata?.name ?? ""}`,
            value: a,
            reason: "InvalidEndpointAddress",
            message: `endpoint address ignored: ${c.error}`,
          });
      }
      if (list.length > 0) entry.byNode.set(node, list);
    }
  }
  return result;
}

/** Election inputs and per-Service data for node `self`. */
export function speakerInputs(objects: ClusterObjects, self: string): SpeakerInputs {
  const problems: string[] = [];
  const advertisements: L2Advertisement[] = [];
  for (const raw of objects.advertisements) {
    const p = parseL2Advertisement(raw);
    if (p.ok) advertisements.push(p.advertisement);
    else
      problems.push(
        `L2Advertisement ${p.name}: ${p.errors.map((e) => `${e.field} ${e.message}`).join("; ")}`,
      );
  }
  const refused: Refusal[] = [];
  const pools = admissionPools(objects.pools);
  const nodes = objects.nodes.map(electionNode);
  const selfLabels = nodes.find((n) => n.name === self)?.labels ?? {};
  const nodeAddresses = new Map(
    objects.nodes.map((n) => [n.metadata?.name ?? "", internalAddresses(n, refused)]),
  );
  const endpoints = serviceEndpoints(objects.slices, objects.nodes, refused);

  const services: ElectionService[] = [];
  const handled = new Map<string, HandledService>();
  const interfaces = new Map<string, string[]>();
  const ignoreConflicts = new Set<string>();
  for (const svc of objects.services) {
    if (!isHandled(svc, objects.lbClass)) continue;
    const admitted = admittedAddresses(svc, pools, refused);
    const addresses = admitted.map((a) => a.address);
    if (addresses.length === 0) continue;
    const key = serviceKey(svc);
    const covering = new Set<L2Advertisement>();
    const override = ignoresAddressConflicts(svc).value;
    for (const { address, pool } of admitted) {
      if (override || pool.ignoreConflicts) ignoreConflicts.add(address);
      const advs = advertisements.filter((a) => coversPool(a, pool.name, pool.labels));
      for (const a of advs) covering.add(a);
      // Interfaces on this node: those of the advertisements that select it; one without a list allows all.
      const mine = advs.filter((a) => matches(a.nodeSelector, selfLabels));
      if (mine.length > 0)
        interfaces.set(
          address,
          mine.some((a) => a.interfaces.length === 0) ? [] : mine.flatMap((a) => a.interfaces),
        );
    }
    const ep = endpoints.get(key) ?? { byNode: new Map(), ports: new Map() };
    services.push({
      key,
      addresses,
      advertisements: [...covering].map((a) => a.nodeSelector),
      trafficPolicy: svc.spec?.externalTrafficPolicy === "Local" ? "Local" : "Cluster",
      endpointNodes: [...ep.byNode.keys()].sort(),
    });
    handled.set(key, { service: svc, addresses, endpoints: ep });
  }

  const peers = new Map<string, string>();
  const speakerMacs = new Map<string, string>();
  for (const n of nodes) {
    const first = nodeAddresses.get(n.name)?.[0];
    if (first) peers.set(n.name, first);
  }
  const peerKeys = new Map<string, string>();
  for (const lease of objects.leases) {
    const name = lease.metadata?.name ?? "";
    if (!name.startsWith(SPEAKER_LEASE_PREFIX)) continue;
    const node = name.slice(SPEAKER_LEASE_PREFIX.length);
    // Only a node's own speaker may write its Lease (the chart's admission policy); one held by
    // another node speaks for a node it is not, so none of it is used.
    const holder = lease.spec?.holderIdentity;
    if (holder !== node) {
      problems.push(`Lease ${name}: held by ${JSON.stringify(holder ?? "")}, not by node ${node}; ignored`);
      continue;
    }
    const publicKey = lease.metadata?.annotations?.[HEARTBEAT_PUBLIC_KEY_ANNOTATION];
    if (publicKey !== undefined) peerKeys.set(node, publicKey);
    const address = lease.metadata?.annotations?.[HEARTBEAT_ADDRESS_ANNOTATION];
    if (address && canonical(address)) peers.set(node, canonical(address) as string);
    const macs = lease.metadata?.annotations?.[SPEAKER_MACS_ANNOTATION] ?? "";
    for (const mac of macs.split(",")) if (mac.trim()) speakerMacs.set(mac.trim().toLowerCase(), node);
  }
  return {
    cluster: { nodes, services, peers, peerKeys, interfaces, ignoreConflicts },
    services: handled,
    nodeAddresses,
    speakerMacs,
    problems,
    refused,
  };
}

function forwardedPorts(svc: V1Service, endpoints: ServiceEndpoints): ForwardedPort[] {
  return (svc.spec?.ports ?? []).flatMap((p) => {
    const protocol = (p.protocol ?? "TCP") as Protocol;
    if (protocol !== "TCP" && protocol !== "UDP") return [];
    const fromSlices = endpoints.ports.get(portKey(protocol, p.name));
    const declared = typeof p.targetPort === "number" ? p.targetPort : Number(p.targetPort);
    const targetPort = fromSlices ?? (Number.isInteger(declared) && declared > 0 ? declared : p.port);
    return [{ protocol, port: p.port, nodePort: p.nodePort ?? null, targetPort }];
  });
}

/**
 * What this node forwards: every Service with an address in `owned` (what it answers for or
 * probes before a first announcement, or at shutdown what nobody else took). Cluster traffic
 * goes to local ready endpoints and to the NodePorts of the next eligible nodes in the election
 * (forwardTargets: the ones whose death this node hears of fast), or of the nodes with a ready
 * endpoint when no other node is eligible (none when the Service has no ready endpoint
 * anywhere: a fast reject).
 */
export function forwardingState(
  inputs: SpeakerInputs,
  self: string,
  owned: ReadonlySet<string>,
  elections: ReadonlyMap<string, Election>,
): ForwardingState {
  const services: ForwardedService[] = [];
  const nodePortEndpoints: NodePortEndpoint[] = [];
  for (const [key, h] of inputs.services) {
    if (h.service.spec?.externalTrafficPolicy !== "Local") {
      const endpoints = [...h.endpoints.byNode.values()].flat();
      for (const p of h.service.spec?.ports ?? [])
        if ((p.protocol ?? "TCP") === "TCP" && p.nodePort)
          for (const address of endpoints) nodePortEndpoints.push({ nodePort: p.nodePort, address });
    }
    const addresses = h.addresses.filter((a) => owned.has(a));
    if (addresses.length === 0) continue;
    const spec = h.service.spec ?? {};
    const policy = spec.externalTrafficPolicy === "Local" ? "Local" : "Cluster";
    const anyEndpoint = h.endpoints.byNode.size > 0;
    const others = forwardTargets(elections.get(key), self);
    // With no other candidate (its peers unheard, or an advertisement that selects this node
    // alone) the nodes that host a ready endpoint take the traffic, rather than a reject.
    const via = others.length > 0 ? others : [...h.endpoints.byNode.keys()].filter((n) => n !== self).sort();
    const remoteNodes =
      policy === "Cluster" && anyEndpoint ? via.flatMap((n) => inputs.nodeAddresses.get(n) ?? []) : [];
    services.push({
      name: key,
      addresses,
      ports: forwardedPorts(h.service, h.endpoints),
      externalTrafficPolicy: policy,
      sessionAffinity:
        spec.sessionAffinity === "ClientIP"
          ? { timeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10_800 }
          : null,
      loadBalancerSourceRanges: spec.loadBalancerSourceRanges ?? [],
      remoteNodes,
      localEndpoints: h.endpoints.byNode.get(self) ?? [],
    });
  }
  return { services, nodePortEndpoints };
}

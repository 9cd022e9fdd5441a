// Which node announces each LoadBalancer address: a pure function every speaker evaluates on the
// same inputs, so all of them agree without talking to each other (rendezvous hashing).
//
// A node is eligible for a Service when it is live (heartbeats), Ready, not NetworkUnavailable,
// not labelled node.kubernetes.io/exclude-from-external-load-balancers, selected by one of the
// L2Advertisements that cover the Service's pool, and, for externalTrafficPolicy Local, runs a
// ready endpoint of the Service. Eligible nodes are ordered by SHA-256 of (node, key); the first
// one owns. Services that share an address form one group: the group's key is the smallest of
// its members' first addresses and its eligible nodes are those eligible for every member, so all
// addresses of a Service and all Services on one address move together. Rendezvous hashing moves
// only the groups of a node that leaves, and only those back when it returns.
import { createHash } from "node:crypto";
import { type LabelSelector, matches } from "./selector.js";

export const EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers";

export interface ElectionNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  ready: boolean;
  networkUnavailable: boolean;
}

export interface ElectionService {
  /** namespace/name */
  key: string;
  /** Ingress addresses in status order; the first one names the Service in the hash. */
  addresses: readonly string[];
  /** Node selectors of the L2Advertisements covering the Service's pool (none: not announced). */
  advertisements: readonly LabelSelector[];
  trafficPolicy: "Cluster" | "Local";
  /** Nodes with a ready endpoint of the Service (used only for Local). */
  endpointNodes: readonly string[];
}

export interface ElectionInput {
  nodes: readonly ElectionNode[];
  /** Nodes whose speaker is alive as this node sees it (membership), itself included. */
  live: ReadonlySet<string>;
  services: readonly ElectionService[];
}

/** Why a Service has no owner; "" when it has one. Feeds logs, metric labels and events. */
export type NoOwnerReason = "" | "noAddresses" | "noAdvertisement" | "noEndpoints" | "noEligibleNode";

export interface Election {
  owner: string | undefined;
  reason: NoOwnerReason;
  /** Eligible nodes, best first: candidates[1] takes over if the owner goes. */
  candidates: string[];
  /** The hash key of the Service's sharing group. */
  groupKey: string;
}

/** Hash score of a node for a key: 64 bits of SHA-256, compared as a big-endian hex string. */
export function rendezvousScore(node: string, key: string): string {
  return createHash("sha256").update(node).update("\0").update(key).digest("hex").slice(0, 16);
}

function rank(nodes: Iterable<string>, key: string): string[] {
  return [...nodes]
    .map((n) => ({ n, s: rendezvousScore(n, key) }))
    .sort((a, b) => (a.s < b.s ? 1 : a.s > b.s ? -1 : a.n < b.n ? -1 : a.n > b.n ? 1 : 0))
    .map((x) => x.n);
}

function baseEligible(node: ElectionNode, live: ReadonlySet<string>): boolean {
  return (
    live.has(node.name) &&
    node.ready &&
    !node.networkUnavailable &&
    !Object.hasOwn(node.labels, EXCLUDE_LABEL)
  );
}

function eligibleFor(
  service: ElectionService,
  nodes: readonly ElectionNode[],
): { nodes: Set<string>; reason: NoOwnerReason } {
  if (service.addresses.length === 0) return { nodes: new Set(), reason: "noAddresses" };
  if (service.advertisements.length === 0) return { nodes: new Set(), reason: "noAdvertisement" };
  let eligible = nodes.filter((n) => service.advertisements.some((sel) => matches(sel, n.labels)));
  if (service.trafficPolicy === "Local") {
    const withEndpoint = new Set(service.endpointNodes);
    eligible = eligible.filter((n) => withEndpoint.has(n.name));
    if (eligible.length === 0) return { nodes: new Set(), reason: "noEndpoints" };
  }
  return { nodes: new Set(eligible.map((n) => n.name)), reason: eligible.length ? "" : "noEligibleNode" };
}

/** Owners of all Services, by Service key. Independent of the order of every input list. */
export function electOwner(input: ElectionInput): Map<string, Election> {
  const nodes = input.nodes.filter((n) => baseEligible(n, input.live));
  const services = [...input.services].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  // Union-find over shared addresses.
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let root = k;
    while (parent.get(root) !== root) root = parent.get(root) as string;
    parent.set(k, root);
    return root;
  };
  const byAddress = new Map<string, string>();
  for (const s of services) {
    parent.set(s.key, s.key);
    for (const a of s.addresses) {
      const other = byAddress.get(a);
      if (other === undefined) byAddress.set(a, s.key);
      else {
        const [x, y] = [find(other), find(s.key)].sort();
        parent.set(y as string, x as string);
      }
    }
  }
  const groups = new Map<string, ElectionService[]>();
  for (const s of services) {
    const root = find(s.key);
    groups.set(root, [...(groups.get(root) ?? []), s]);
  }

  const result = new Map<string, Election>();
  for (const members of groups.values()) {
    const firsts = members.flatMap((m) => (m.addresses[0] === undefined ? [] : [m.addresses[0]])).sort();
    const groupKey = firsts[0] ?? "";
    let common: Set<string> | undefined;
    let reason: NoOwnerReason = "";
    for (const m of members) {
      const e = eligibleFor(m, nodes);
      if (e.reason !== "" && m.addresses.length === 0) {
        // A Service without addresses yet does not hold back the ones it will share with.
        result.set(m.key, { owner: undefined, reason: "noAddresses", candidates: [], groupKey: "" });
        continue;
      }
      if (reason === "" && e.reason !== "") reason = e.reason;
      common = common === undefined ? e.nodes : new Set([...common].filter((n) => e.nodes.has(n)));
    }
    if (common === undefined) continue;
    const candidates = reason === "" ? rank(common, groupKey) : [];
    if (reason === "" && candidates.length === 0) reason = "noEligibleNode";
    for (const m of members) {
      if (m.addresses.length === 0) continue;
      result.set(m.key, { owner: candidates[0], reason, candidates, groupKey });
    }
  }
  return result;
}

/** What this node does for a Service, MetalLB style: "" means announce. */
export type AnnounceReason = NoOwnerReason | "notOwner";

export function shouldAnnounce(self: string, election: Election | undefined): AnnounceReason {
  if (!election) return "noAddresses";
  if (election.owner === undefined) return election.reason;
  return election.owner === self ? "" : "notOwner";
}

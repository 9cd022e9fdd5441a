// The nftables table `inet herald` as data: static chains, and everything that changes
// per Service in sets and maps (only sessionAffinity adds chains of its own). Built purely
// from a ForwardingPlan; printed by render.ts, interpreted by tracer.ts.
//
// Packet path (first packet of a connection; conntrack carries the rest):
//   prerouting  nat  dstnat-10   source-range check, then frontends vmap -> spread-<n>
//   spread-<n>                   dnat to targets[frontend . numgen random mod n] (data in a map)
//   svc-<id>, ep-<id>-<target>   only for sessionAffinity ClientIP: affinity sets, then spread
//   postrouting nat  srcnat-10   masquerade what went to another node's NodePort, and hairpin
//   prerouting  filter dstnat-20 reject (new connections) for frontends without endpoints and
//                                for ports of an owned address that are not forwarded
//
// Why the owner never DNATs to its own NodeIP:NodePort: a connection gets one destination
// NAT in prerouting and the first nat chain wins, so kube-proxy's NodePort rules would be
// skipped and the connection breaks. Local endpoints are reached by DNAT to the pod itself;
// other nodes by DNAT to their NodePort plus masquerade, so replies come back through here.
// Local pods need no masquerade: their replies route through this node (their gateway),
// where conntrack undoes the DNAT; so Cluster keeps the client address for local pods too.
// A pod reaching its own Service through the address and landing on itself is the
// exception (hairpin): masqueraded, or it would answer itself directly.
// Targets are spread uniformly, local pods and other nodes alike; another node's
// kube-proxy spreads again over all endpoints.
import type { Family, ForwardingPlan, Frontend, Target } from "./state.js";
import { addressToken } from "./state.js";

export const tableName = "herald";

export type Field = "saddr" | "daddr" | "l4proto" | "dport" | "ctOriginalDaddr";

export type Match =
  /** `<fields> [!=] @set`: the fields' values, concatenated, are (not) an element. */
  | { kind: "lookup"; family: Family; fields: Field[]; set: string; negate?: boolean }
  | { kind: "ctStatusDnat" }
  | { kind: "ctStateNew" }
  | { kind: "l4proto"; protocol: "tcp" | "udp" }
  /** `numgen random mod N 0`: true with probability 1/N. */
  | { kind: "numgen"; modulus: number };

export type Statement =
  | { kind: "vmap"; family: Family; fields: Field[]; map: string }
  /** `dnat to <fields> . numgen random mod N map @map`: the target from a data map. */
  | { kind: "dnatMap"; family: Family; fields: Field[]; modulus: number; map: string }
  | { kind: "goto"; chain: string }
  | { kind: "updateSet"; family: Family; set: string }
  | { kind: "dnat"; family: Family; address: string; port: number }
  | { kind: "masquerade" }
  | { kind: "drop" }
  | { kind: "reject"; with: "tcp reset" | "icmpx port-unreachable" };

export interface Rule {
  match: Match[];
  statements: Statement[];
  comment?: string;
}

export interface Hook {
  type: "nat" | "filter";
  hook: "prerouting" | "postrouting";
  priority: string;
}

export interface Chain {
  name: string;
  hook?: Hook;
  rules: Rule[];
}

export interface Element {
  /** One value per field of the set's type; CIDRs in interval fields. */
  key: string[];
  /** Verdict maps: the chain the element jumps to (goto). */
  goto?: string;
  /** Data maps: the value, as nft text (`198.51.100.5 . 8080`). */
  data?: string;
  /** The element as nft text, filled in when first rendered. */
  text?: string;
}

export interface NamedSet {
  name: string;
  type: string[];
  /** Declared by expression instead of by type (needed for numgen in a key). */
  typeof?: string;
  flags: string[];
  /** Dynamic sets are filled by the packet path (affinity); their elements are not ours. */
  dynamic: boolean;
  timeoutSeconds?: number;
  map: boolean;
  elements: Element[];
}

export interface Ruleset {
  table: string;
  sets: NamedSet[];
  chains: Chain[];
  /** What each frontend contributed, by frontend id (for incremental updates). */
  frontends: Map<string, FrontendParts>;
  /** The parts that do not depend on the state (base chains, set types), as text. */
  skeleton: string;
}

const addrType = (f: Family) => (f === 4 ? "ipv4_addr" : "ipv6_addr");
const sfx = (f: Family) => (f === 4 ? "v4" : "v6");
const fam = (f: Family) => (f === 4 ? "ip" : "ip6");
const frontendKey: Field[] = ["daddr", "l4proto", "dport"];

export const setNames = {
  frontends: (f: Family) => `frontends-${sfx(f)}`,
  targets: (f: Family) => `targets-${sfx(f)}`,
  noEndpoints: (f: Family) => `no-endpoints-${sfx(f)}`,
  served: (f: Family) => `served-${sfx(f)}`,
  owned: (f: Family) => `owned-${sfx(f)}`,
  restricted: (f: Family) => `restricted-${sfx(f)}`,
  allowed: (f: Family) => `allowed-${sfx(f)}`,
  nodes: (f: Family) => `nodes-${sfx(f)}`,
  hairpin: (f: Family) => `hairpin-${sfx(f)}`,
};

/** Sets whose elements several frontends may share; the others hold each frontend's own. */
export const sharedSets = new Set(
  ([4, 6] as const).flatMap((f) => [setNames.owned(f), setNames.nodes(f), setNames.hairpin(f)]),
);

export const serviceChain = (fe: Frontend) => `svc-${fe.id}`;
const targetToken = (t: Target) => `${addressToken(t.address)}-${t.port}`;
const endpointChain = (fe: Frontend, t: Target) => `ep-${fe.id}-${targetToken(t)}`;
const affinitySet = (fe: Frontend, t: Target) => `aff-${fe.id}-${targetToken(t)}`;

function staticSets(f: Family): NamedSet[] {
  const a = addrType(f);
  const set = (name: string, type: string[], flags: string[] = [], map = false): NamedSet => ({
    name,
    type,
    flags,
    dynamic: false,
    map,
    elements: [],
  });
  return [
    set(setNames.frontends(f), [a, "inet_proto", "inet_service"], [], true),
    {
      ...set(setNames.targets(f), [a, "inet_proto", "inet_service", "integer", a, "inet_service"], [], true),
      typeof: `${fam(f)} daddr . meta l4proto . th dport . numgen random mod 2 : ${fam(f)} daddr . th dport`,
    },
    set(setNames.noEndpoints(f), [a, "inet_proto", "inet_service"]),
    set(setNames.served(f), [a, "inet_proto", "inet_service"]),
    set(setNames.owned(f), [a]),
    set(setNames.restricted(f), [a, "inet_proto", "inet_service"]),
    set(setNames.allowed(f), [a, "inet_proto", "inet_service", a], ["interval"]),
    set(setNames.nodes(f), [a]),
    set(setNames.hairpin(f), [a, a]),
  ];
}

function staticChains(): Chain[] {
  const families: Family[] = [4, 6];
  // Rejects sit in a filter chain at prerouting: in the forward hook the kernel sends no
  // ICMP error for a packet it would redirect (address in the subnet it came from, the
  // usual case for a LAN address), so UDP clients would wait instead of being refused.
  // Rejecting in prerouting needs Linux 5.13 or later, as kube-proxy's nftables mode does.
  const rejectUnserved = families.flatMap((f): Rule[] => [
    {
      match: [
        { kind: "ctStateNew" },
        { kind: "lookup", family: f, fields: frontendKey, set: setNames.noEndpoints(f) },
      ],
      statements: [{ kind: "goto", chain: "reject-service" }],
      comment: "no ready endpoint",
    },
    ...(["tcp", "udp"] as const).map(
      (protocol): Rule => ({
        match: [
          { kind: "ctStateNew" },
          { kind: "lookup", family: f, fields: ["daddr"], set: setNames.owned(f) },
          { kind: "l4proto", protocol },
          { kind: "lookup", family: f, fields: frontendKey, set: setNames.served(f), negate: true },
        ],
        statements: [{ kind: "goto", chain: "reject-service" }],
        comment: "port not forwarded",
      }),
    ),
  ]);
  return [
    {
      name: "prerouting",
      hook: { type: "nat", hook: "prerouting", priority: "dstnat - 10" },
      rules: families.flatMap((f): Rule[] => [
        {
          match: [
            { kind: "lookup", family: f, fields: frontendKey, set: setNames.restricted(f) },
            {
              kind: "lookup",
              family: f,
              fields: [...frontendKey, "saddr"],
              set: setNames.allowed(f),
              negate: true,
            },
          ],
          statements: [{ kind: "drop" }],
          comment: "loadBalancerSourceRanges",
        },
        {
          match: [],
          statements: [{ kind: "vmap", family: f, fields: frontendKey, map: setNames.frontends(f) }],
        },
      ]),
    },
    {
      name: "postrouting",
      hook: { type: "nat", hook: "postrouting", priority: "srcnat - 10" },
      rules: families.flatMap((f): Rule[] => [
        {
          match: [
            { kind: "ctStatusDnat" },
            { kind: "lookup", family: f, fields: ["ctOriginalDaddr"], set: setNames.owned(f) },
            { kind: "lookup", family: f, fields: ["daddr"], set: setNames.nodes(f) },
          ],
          statements: [{ kind: "masquerade" }],
          comment: "to another node's NodePort",
        },
        {
          match: [
            { kind: "ctStatusDnat" },
            { kind: "lookup", family: f, fields: ["ctOriginalDaddr"], set: setNames.owned(f) },
            { kind: "lookup", family: f, fields: ["saddr", "daddr"], set: setNames.hairpin(f) },
          ],
          statements: [{ kind: "masquerade" }],
          comment: "hairpin: a pod reaching itself",
        },
      ]),
    },
    {
      name: "filter-prerouting",
      hook: { type: "filter", hook: "prerouting", priority: "dstnat - 20" },
      rules: rejectUnserved,
    },
    {
      name: "reject-service",
      rules: [
        {
          match: [{ kind: "l4proto", protocol: "tcp" }],
          statements: [{ kind: "reject", with: "tcp reset" }],
        },
        { match: [], statements: [{ kind: "reject", with: "icmpx port-unreachable" }] },
      ],
    },
  ];
}

export const spreadChain = (n: number) => `spread-${n}`;

/**
 * spread-1 .. spread-8 always exist. A larger count adds its chain with a full replacement:
 * nft 1.0.6 refuses to add such a rule to an existing table ("conflicting protocols
 * specified: tcp vs. th") although it accepts it in a table definition.
 */
export const presetSpreads = 8;

/**
 * The chain for frontends with n targets: one rule per family and protocol picks slot
 * `numgen random mod n` of the frontend in the targets map. All data is in the maps, so
 * endpoint changes are element updates and 10,000 Services need no chain of their own.
 */
function spreadChainFor(n: number): Chain {
  const rules = ([4, 6] as const).flatMap((f) =>
    (["tcp", "udp"] as const).map(
      (protocol): Rule => ({
        match: [{ kind: "l4proto", protocol }],
        statements: [
          { kind: "dnatMap", family: f, fields: frontendKey, modulus: n, map: setNames.targets(f) },
        ],
      }),
    ),
  );
  return { name: spreadChain(n), rules };
}

function dnat(fe: Frontend, t: Target): Statement {
  return { kind: "dnat", family: fe.family, address: t.address, port: t.port };
}

/**
 * Spreads over n choices without anonymous maps (which cost nft a set each and make
 * 10,000 Services take seconds): rule i fires with probability 1/(n-i), which is
 * uniform overall, the way kube-proxy's iptables mode does it.
 */
function spreadRules(fe: Frontend, pick: (t: Target) => Statement[]): Rule[] {
  const n = fe.targets.length;
  return fe.targets.map((t, i) => {
    const match: Match[] = [];
    if (i < n - 1) match.push({ kind: "numgen", modulus: n - i });
    match.push({ kind: "l4proto", protocol: fe.protocol });
    return { match, statements: pick(t) };
  });
}

/** ClientIP affinity needs a chain per frontend and per target (the others use spread-N). */
function affinityObjects(fe: Frontend, timeout: number): { sets: NamedSet[]; chains: Chain[] } {
  const name = serviceChain(fe);
  const comment = fe.service;
  // ClientIP affinity, as kube-proxy's nftables mode: one dynamic set of recent clients
  // per target, refreshed on every new connection; a known client goes where it went before.
  const sets: NamedSet[] = [];
  const chains: Chain[] = [];
  const lookups: Rule[] = [];
  for (const t of fe.targets) {
    const set = affinitySet(fe, t);
    const chain = endpointChain(fe, t);
    sets.push({
      name: set,
      type: [addrType(fe.family)],
      flags: ["dynamic", "timeout"],
      dynamic: true,
      timeoutSeconds: timeout,
      map: false,
      elements: [],
    });
    chains.push({
      name: chain,
      rules: [
        { match: [], statements: [{ kind: "updateSet", family: fe.family, set }] },
        { match: [{ kind: "l4proto", protocol: fe.protocol }], statements: [dnat(fe, t)] },
      ],
    });
    lookups.push({
      match: [{ kind: "lookup", family: fe.family, fields: ["saddr"], set }],
      statements: [{ kind: "goto", chain }],
    });
  }
  const rules = [...lookups, ...spreadRules(fe, (t) => [{ kind: "goto", chain: endpointChain(fe, t) }])];
  if (rules[0]) rules[0].comment = comment;
  return { sets, chains: [{ name, rules }, ...chains] };
}

export interface FrontendParts {
  signature: string;
  sets: NamedSet[];
  chains: Chain[];
  /** Elements only this frontend adds. */
  elements: Array<[string, Element]>;
  /** Elements several frontends may share (owned address, node, hairpin pair). */
  shared: Array<[string, Element]>;
  /** `set|key` of each shared element, to count each once. */
  sharedKeys: string[];
  /** Number of targets when the frontend uses the shared spread-N chain. */
  spread?: number;
}

function frontendParts(fe: Frontend): FrontendParts {
  const f = fe.family;
  const key = [fe.address, fe.protocol, String(fe.port)];
  const parts: FrontendParts = {
    signature: fe.signature,
    sets: [],
    chains: [],
    elements: [],
    shared: [[setNames.owned(f), { key: [fe.address] }]],
    sharedKeys: [],
  };
  parts.elements.push([setNames.served(f), { key }]);
  if (fe.sourceRanges !== null) {
    parts.elements.push([setNames.restricted(f), { key }]);
    for (const r of fe.sourceRanges) parts.elements.push([setNames.allowed(f), { key: [...key, r] }]);
  }
  if (fe.targets.length === 0) {
    parts.elements.push([setNames.noEndpoints(f), { key }]);
    return withSharedKeys(parts);
  }
  for (const t of fe.targets) {
    if (t.kind === "node") parts.shared.push([setNames.nodes(f), { key: [t.address] }]);
    else parts.shared.push([setNames.hairpin(f), { key: [t.address, t.address] }]);
  }
  if (fe.affinityTimeoutSeconds === null) {
    parts.spread = fe.targets.length;
    fe.targets.forEach((t, i) => {
      parts.elements.push([
        setNames.targets(f),
        { key: [...key, String(i)], data: `${t.address} . ${t.port}` },
      ]);
    });
    parts.elements.push([setNames.frontends(f), { key, goto: spreadChain(fe.targets.length) }]);
  } else {
    const objects = affinityObjects(fe, fe.affinityTimeoutSeconds);
    parts.sets = objects.sets;
    parts.chains = objects.chains;
    parts.elements.push([setNames.frontends(f), { key, goto: serviceChain(fe) }]);
  }
  return withSharedKeys(parts);
}

function withSharedKeys(parts: FrontendParts): FrontendParts {
  parts.sharedKeys = parts.shared.map(([set, e]) => `${set}|${e.key.join("|")}`);
  return parts;
}

/**
 * Parts built in the previous sync, by frontend (the plan memo hands out the same Frontend
 * object for an unchanged Service): unchanged frontends reuse their
 * chain and element objects, so comparing with the applied ruleset is mostly identity checks.
 */
export interface BuildMemo {
  parts: Map<Frontend, FrontendParts>;
}

export function buildRuleset(plan: ForwardingPlan, memo?: BuildMemo): Ruleset {
  const sets = new Map<string, NamedSet>();
  for (const s of [...staticSets(4), ...staticSets(6)]) sets.set(s.name, s);
  const chains: Chain[] = staticChains();
  const skeleton = JSON.stringify({ sets: [...sets.values()], chains });
  const seen = new Set<string>();
  const used = new Map<Frontend, FrontendParts>();
  const frontends = new Map<string, FrontendParts>();
  const spreads = new Set<number>(Array.from({ length: presetSpreads }, (_, i) => i + 1));
  for (const fe of plan.frontends) {
    const parts = memo?.parts.get(fe) ?? frontendParts(fe);
    if (memo) used.set(fe, parts);
    frontends.set(fe.id, parts);
    for (const [set, e] of parts.elements) sets.get(set)?.elements.push(e);
    for (let n = 0; n < parts.shared.length; n++) {
      const k = parts.sharedKeys[n] ?? "";
      if (seen.has(k)) continue;
      seen.add(k);
      const [set, e] = parts.shared[n] ?? ["", { key: [] }];
      sets.get(set)?.elements.push(e);
    }
    for (const s of parts.sets) sets.set(s.name, s);
    for (const c of parts.chains) chains.push(c);
    if (parts.spread !== undefined) spreads.add(parts.spread);
  }
  if (memo) memo.parts = used;
  for (const n of [...spreads].sort((a, b) => a - b)) chains.push(spreadChainFor(n));
  return { table: tableName, sets: [...sets.values()], chains, frontends, skeleton };
}

// What one frontend adds to `inet herald`: its elements in the static sets and maps, and for
// sessionAffinity ClientIP chains and sets of its own. Frontends spread over their targets
// through the shared spread-N chains.
import {
  addrType,
  type Chain,
  type FrontendParts,
  frontendKey,
  type Match,
  type NamedSet,
  type Rule,
  type Statement,
  setNames,
} from "./ruleset-model.js";
import { addressToken, type Frontend, type Target } from "./state.js";

export const serviceChain = (fe: Frontend) => `svc-${fe.id}`;
const targetToken = (t: Target) => `${addressToken(t.address)}-${t.port}`;
const endpointChain = (fe: Frontend, t: Target) => `ep-${fe.id}-${targetToken(t)}`;
const affinitySet = (fe: Frontend, t: Target) => `aff-${fe.id}-${targetToken(t)}`;

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
export function spreadChainFor(n: number): Chain {
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

export function frontendParts(fe: Frontend): FrontendParts {
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

// The nftables table `inet herald` (and the handover tables beside it) built from a
// ForwardingPlan, purely: static chains (skeleton.ts), and everything that changes per Service
// in sets and maps (frontend-rules.ts; only sessionAffinity adds chains of its own). The types
// are in ruleset-model.ts; printed by render.ts, interpreted by tracer.ts.
//
// Packet path (first packet of a connection; conntrack carries the rest):
//   prerouting  filter -150      (ip/ip6 herald_handover, after a takeover or handover only)
//                                mid-stream TCP conntrack does not know: dup to the previous
//                                owner, or drop for an address handed over (handover.ts)
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
import { frontendParts, presetSpreads, spreadChainFor } from "./frontend-rules.js";
import { handoverTables } from "./handover.js";
import type { Chain, FrontendParts, NamedSet, Ruleset } from "./ruleset-model.js";
import { tableName } from "./ruleset-model.js";
import { staticChains, staticSets } from "./skeleton.js";
import type { ForwardingPlan, Frontend } from "./state.js";

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
  return {
    table: tableName,
    sets: [...sets.values()],
    chains,
    frontends,
    skeleton,
    handover: handoverTables(plan.handover ?? []),
  };
}

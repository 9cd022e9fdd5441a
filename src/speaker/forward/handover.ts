// Connections survive an address moving between two nodes that are both up.
//
// When an address moves (SIGTERM handover, or the preferred node coming back), the clients'
// next packets reach the new owner, but the connections they belong to were accepted by the
// previous owner: only its conntrack knows their NAT. The new owner would pick them up as new
// (mid-stream TCP counts as new to conntrack) and send them to some backend, which resets them.
// So for a while after such a takeover, the new owner copies TCP packets that its conntrack
// does not know and that are no connection attempt (no SYN) to the previous owner's address,
// unchanged (nft `dup to`, next hop only: the destination stays the address), and drops its
// own copy. The previous owner's conntrack finishes the journey; replies go from there to the
// client directly. New connections (SYN) stay with the new owner.
//
// `dup` exists in the ip and ip6 families only, so this lives in two small tables of its own
// (`ip herald_handover`, `ip6 herald_handover`) next to `inet herald`, in the same ruleset and
// the same transaction; each is replaced whole when it changes (a handful of elements), and a
// family with nothing to pass on or drop has no table. UDP has no way to tell a new flow from
// an old one and is left to the new owner.
//
// A copy is passed on at most once. Only TCP to the Service's own ports is passed on, and only
// what arrived from outside: a frame from a speaker's MAC (the previous owner forwarding it back,
// or any node passing it on) is never passed on again. And the previous owner drops what its
// conntrack does not know for an address it handed over in the same window, instead of routing
// it back onto the LAN to the new owner: without both, one crafted ACK bounced between the two
// nodes until its TTL ran out.
import { formatAddress, parseAddress } from "../../domain/address.js";
import { addrType, fam, type NamedSet, type Rule, type Table } from "./ruleset-model.js";
import type { Family } from "./state.js";

export const HANDOVER_TABLE = "herald_handover";

/** One address this node took over, the node address its connections go on to, and its TCP ports. */
export interface HandoverRoute {
  address: string;
  via: string;
  /** TCP ports of the Services on the address: nothing else is passed on. */
  ports: readonly number[];
}

export interface HandoverState {
  routes: readonly HandoverRoute[];
  /** Addresses this node handed over in the window: what its conntrack does not know is dropped. */
  moved?: readonly string[];
  /** MACs of every speaker's links: what arrives from them is never passed on. */
  nodeMacs?: readonly string[];
}

/** The handover of one family, checked and sorted; only families with a route or a moved address. */
export interface HandoverPlan {
  family: Family;
  /** (address, TCP port) -> the previous owner. */
  routes: Array<{ address: string; port: number; via: string }>;
  moved: string[];
  macs: string[];
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** Bounds what Leases can put into one transaction. */
const MAX_MACS = 4096;

function canonical(text: string): { address: string; family: Family } | undefined {
  const p = parseAddress(text);
  if (!p.ok) return undefined;
  return { address: formatAddress(p.value), family: p.value.family === "IPv4" ? 4 : 6 };
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 1 && p <= 65_535;
}

/**
 * Reduces the handover state to what the tables hold. Routes whose two addresses are not of
 * one family are left out (an IPv6 address taken over from a node known only by its IPv4
 * address has nowhere to go), and so are routes without a port and text that is no address.
 */
export function planHandover(state: HandoverState | undefined): HandoverPlan[] {
  if (!state) return [];
  const macs = [...new Set((state.nodeMacs ?? []).map((m) => m.toLowerCase()).filter((m) => MAC.test(m)))]
    .sort()
    .slice(0, MAX_MACS);
  const plans: HandoverPlan[] = [];
  for (const family of [4, 6] as const) {
    const routes = new Map<string, { address: string; port: number; via: string }>();
    for (const r of state.routes) {
      const a = canonical(r.address);
      const via = canonical(r.via);
      if (a?.family !== family || via?.family !== family) continue;
      for (const port of r.ports)
        if (validPort(port))
          routes.set(`${a.address} . ${port}`, { address: a.address, port, via: via.address });
    }
    const moved = new Set<string>();
    for (const m of state.moved ?? []) {
      const a = canonical(m);
      if (a?.family === family) moved.add(a.address);
    }
    if (routes.size === 0 && moved.size === 0) continue;
    plans.push({
      family,
      routes: [...routes.values()].sort((x, y) =>
        x.address === y.address ? x.port - y.port : x.address < y.address ? -1 : 1,
      ),
      moved: [...moved].sort(),
      macs,
    });
  }
  return plans;
}

/** The tables that hold these plans, as ruleset data. */
export function handoverTables(plans: readonly HandoverPlan[]): Table[] {
  return plans.map((p) => {
    const f = p.family;
    const set = (name: string, type: string[], map = false): NamedSet => ({
      name,
      type,
      flags: [],
      dynamic: false,
      map,
      elements: [],
    });
    const nodes = set("nodes", ["ether_addr"]);
    nodes.elements = p.macs.map((m) => ({ key: [m] }));
    const previousOwner = {
      ...set("previous_owner", [addrType(f), "inet_service"], true),
      dataType: addrType(f),
    };
    previousOwner.elements = p.routes.map((r) => ({ key: [r.address, String(r.port)], data: r.via }));
    const moved = set("moved", [addrType(f)]);
    moved.elements = p.moved.map((a) => ({ key: [a] }));
    const notNew = [{ kind: "ctStateUnknown" }, { kind: "tcpNoSyn" }] as const;
    const rules: Rule[] = [
      {
        match: [...notNew, { kind: "lookup", family: f, fields: ["etherSaddr"], set: "nodes", negate: true }],
        statements: [
          { kind: "dupMap", family: f, fields: ["daddr", "tcpDport"], map: "previous_owner" },
          { kind: "drop" },
        ],
        comment: "a connection the previous owner accepted",
      },
      {
        match: [...notNew, { kind: "lookup", family: f, fields: ["daddr"], set: "moved" }],
        statements: [{ kind: "counter" }, { kind: "drop" }],
        comment: "handed over: not this node's to pass on",
      },
    ];
    return {
      family: fam(f),
      name: HANDOVER_TABLE,
      sets: [nodes, previousOwner, moved],
      // After conntrack (-200); before Herald's chains (-120, -110) and kube-proxy's DNAT (-100).
      chains: [{ name: "prerouting", hook: { type: "filter", hook: "prerouting", priority: "-150" }, rules }],
    };
  });
}

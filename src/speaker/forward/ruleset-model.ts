// The nftables tables Herald holds, as data: `inet herald` (ruleset.ts builds it, see there
// for the packet path) and the handover tables beside it (handover.ts). Printed by render.ts,
// interpreted by tracer.ts, compared with the kernel's listing by drift.ts.
import type { Family } from "./state.js";

export const tableName = "herald";

export type Field =
  | "saddr"
  | "daddr"
  | "l4proto"
  | "dport"
  | "ctOriginalDaddr"
  /** The frame's source MAC (`ether saddr`). */
  | "etherSaddr"
  /** `tcp dport`: for rules that match TCP only. */
  | "tcpDport";

export type Match =
  /** `<fields> [!=] @set`: the fields' values, concatenated, are (not) an element. */
  | { kind: "lookup"; family: Family; fields: Field[]; set: string; negate?: boolean }
  | { kind: "ctStatusDnat" }
  | { kind: "ctStateNew" }
  /** `ct state new,invalid`: a packet conntrack has no connection for. */
  | { kind: "ctStateUnknown" }
  /** `tcp flags & syn == 0`: TCP that is no connection attempt. */
  | { kind: "tcpNoSyn" }
  | { kind: "l4proto"; protocol: "tcp" | "udp" }
  /** `numgen random mod N 0`: true with probability 1/N. */
  | { kind: "numgen"; modulus: number };

export type Statement =
  | { kind: "vmap"; family: Family; fields: Field[]; map: string }
  /** `dnat to <fields> . numgen random mod N map @map`: the target from a data map. */
  | { kind: "dnatMap"; family: Family; fields: Field[]; modulus: number; map: string }
  | { kind: "goto"; chain: string }
  /** `dup to <fields> map @map`: a copy to the next hop the map names (no match: the rule ends). */
  | { kind: "dupMap"; family: Family; fields: Field[]; map: string }
  | { kind: "counter" }
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
  /** A data map's value type (`ipv4_addr`); maps without it are verdict maps. */
  dataType?: string;
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
  /** The handover tables (handover.ts); a family without a takeover or handover has none. */
  handover: Table[];
}

/** A table of its own beside `inet herald`. */
export interface Table {
  family: "ip" | "ip6";
  name: string;
  sets: NamedSet[];
  chains: Chain[];
  /** The definition as nft text, filled in when first rendered. */
  text?: string;
}

export const addrType = (f: Family) => (f === 4 ? "ipv4_addr" : "ipv6_addr");
const sfx = (f: Family) => (f === 4 ? "v4" : "v6");
export const fam = (f: Family) => (f === 4 ? "ip" : "ip6");
/** What identifies a frontend in a packet. */
export const frontendKey: Field[] = ["daddr", "l4proto", "dport"];

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

// The ARP/NDP referee: from the client's passive capture alone, at most one MAC answers an address
// at a time outside settle windows, and the one that answers is a live, advertising node's, for an
// address some Service holds.
import type { SoakRecord, Verdict, Violation, WireSighting } from "../model.js";
import {
  at,
  canon,
  capViolations,
  covers,
  faultEnd,
  holders,
  type Interval,
  isNodeDown,
  macToNode,
  mergeIntervals,
  OP_SETTLE_MS,
  SETTLE_MS,
  settleWindows,
  snapshotIndexAt,
  viewAt,
} from "./windows.js";

/** Two different MACs answering one address less than this apart is two answerers at once (a client's cache flips). */
export const WIRE_BUCKET_MS = 250;

type Rule = "two-macs" | "foreign" | "down" | "excluded" | "unheld";

interface Episode {
  rule: Rule;
  address: string;
  macs: Set<string>;
  from: number;
  to: number;
  count: number;
  detail: string;
}

export function judgeWire(record: SoakRecord): Verdict {
  const settle = settleWindows(record);
  const byMac = macToNode(record);
  const foreign = new Set(record.foreignMacs.map((m) => m.toLowerCase()));
  const claims = new Map<string, Interval[]>();
  for (const f of record.faults) {
    if (f.kind !== "foreignClaim" || f.address === undefined || f.skipped !== undefined) continue;
    const a = canon(f.address);
    claims.set(a, [...(claims.get(a) ?? []), { from: f.startMs, to: faultEnd(record, f) + SETTLE_MS + 1 }]);
  }
  const byAddress = new Map<string, WireSighting[]>();
  for (const s of record.wire) {
    const a = canon(s.address);
    const list = byAddress.get(a);
    if (list === undefined) byAddress.set(a, [s]);
    else list.push(s);
  }
  const checked = { sightings: record.wire.length, addresses: byAddress.size, outsideSettle: 0, exempt: 0 };
  const episodes: Episode[] = [];
  for (const [address, list] of byAddress) {
    list.sort((x, y) => x.t - y.t);
    const exempt = mergeIntervals(claims.get(address) ?? []);
    const open = new Map<string, Episode>();
    const note = (rule: Rule, s: WireSighting, detail: string, other?: WireSighting): void => {
      const mac = s.mac.toLowerCase();
      const key = rule === "two-macs" ? rule : `${rule} ${mac}`;
      const e = open.get(key);
      if (e !== undefined && s.t - e.to <= WIRE_BUCKET_MS) {
        e.to = s.t;
        e.count++;
        e.macs.add(mac);
        return;
      }
      const fresh: Episode = {
        rule,
        address,
        macs: new Set([mac, ...(other ? [other.mac.toLowerCase()] : [])]),
        from: other?.t ?? s.t,
        to: s.t,
        count: 1,
        detail,
      };
      open.set(key, fresh);
      episodes.push(fresh);
    };
    let previous: WireSighting | undefined;
    for (const s of list) {
      if (covers(exempt, s.t)) {
        checked.exempt++;
        continue;
      }
      const mac = s.mac.toLowerCase();
      const node = byMac.get(mac);
      if (node === undefined) {
        note("foreign", s, foreign.has(mac) ? "a foreign host's MAC" : "a MAC of no node");
      }
      if (covers(settle, s.t)) continue;
      checked.outsideSettle++;
      if (previous !== undefined && previous.mac.toLowerCase() !== mac && s.t - previous.t < WIRE_BUCKET_MS) {
        note("two-macs", s, "", previous);
      }
      previous = s;
      if (node === undefined) continue;
      if (isNodeDown(record, node, s.t))
        note("down", s, `${node}, which was down (speaker stopped or link cut)`);
      if (viewAt(record, s.t)?.l2Excluded.includes(node)) {
        note("excluded", s, `${node}, which the L2Advertisement leaves out`);
      }
      if (unheldThrough(record, address, s.t - OP_SETTLE_MS, s.t)) note("unheld", s, node);
    }
  }
  const violations = episodes.map(describe);
  return {
    referee: "wire",
    pass: violations.length === 0,
    checked: { ...checked, violations: violations.length },
    violations: capViolations(violations),
  };
}

/** Whether no Service held the address in any view in effect during [from, to]; unknown (false) before the first view. */
function unheldThrough(record: SoakRecord, address: string, from: number, to: number): boolean {
  const first = snapshotIndexAt(record.snapshots, from);
  if (first < 0) return false;
  const last = snapshotIndexAt(record.snapshots, to);
  for (let i = first; i <= last; i++) {
    const view = record.snapshots[i];
    if (view !== undefined && holders(view, address).length > 0) return false;
  }
  return true;
}

function describe(e: Episode): Violation {
  const macs = [...e.macs].join(", ");
  const span = e.count > 1 ? ` (${e.count} times until ${at(e.to)})` : "";
  const where = { t: e.from, address: e.address };
  switch (e.rule) {
    case "two-macs":
      return {
        ...where,
        message: `${e.address}: answered by more than one MAC (${macs}) within ${WIRE_BUCKET_MS} ms at ${at(e.from)}${span}; expected at most one answerer outside settle windows`,
      };
    case "foreign":
      return {
        ...where,
        message: `${e.address}: answered at ${at(e.from)} by ${macs}, ${e.detail}${span}; expected only nodes to answer (no foreign claim of this address was in effect)`,
      };
    case "down":
    case "excluded":
      return {
        ...where,
        message: `${e.address}: answered at ${at(e.from)} by ${macs} of ${e.detail}${span}; expected a live, advertising node to answer`,
      };
    case "unheld":
      return {
        ...where,
        message: `${e.address}: answered at ${at(e.from)} by ${e.detail} (${macs})${span} though no Service had held it for ${OP_SETTLE_MS} ms; expected no node to answer a released address`,
      };
  }
}

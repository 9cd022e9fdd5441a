// What the timeline draws on each address's lane, computed from the record: who answered ARP/NDP
// per time bucket and the share of failed requests per second, both already merged into runs of
// equal neighbours. Pure: the record in, plain numbers out; timeline.ts turns them into SVG.
import { parseAddress, parseCanonical } from "../../src/domain/address.js";
import type { SoakRecord } from "./model.js";

/** More lanes than this would make a picture nobody reads; the header says how many were left out. */
export const LANE_LIMIT = 200;
const MIN_BUCKET_MS = 250;
const MAX_BUCKETS = 2000;
const BUCKET_STEPS_MS = [250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000];

/** Who answered in a run of buckets: a node (index in record.nodes), a foreign MAC, or several MACs. */
export type Answerer = { node: number } | "foreign" | "conflict";

export interface ArpRun {
  /** Buckets [from, to). */
  from: number;
  to: number;
  who: Answerer;
  /** The MACs seen in the run (one unless a conflict). */
  macs: string[];
}

export interface RequestRun {
  /** Seconds [from, to) of the run. */
  from: number;
  to: number;
  /** 0: every request succeeded, 8: every one failed, 1..7: the share failed, in eighths. */
  eighthsFailed: number;
}

export interface Lane {
  address: string;
  /** Ports, probes and answerers, for the lane label's tooltip. */
  summary: string;
  arp: ArpRun[];
  requests: RequestRun[];
}

/** One spelling per address, so a lane and a violation about the same address meet. */
export function laneKey(address: string): string {
  const c = parseCanonical(address);
  return c.ok ? c.value : address;
}

/** Addresses in the order of the lanes: IPv4 then IPv6, each numerically; unparseable text last. */
export function orderAddresses(addresses: Iterable<string>): string[] {
  const keyed = [...new Set(addresses)].map((text) => {
    const p = parseAddress(text);
    return { text, rank: p.ok ? (p.value.family === "IPv4" ? 0 : 1) : 2, value: p.ok ? p.value.value : 0n };
  });
  keyed.sort((a, b) => {
    if (a.rank !== b.rank) return a.rank - b.rank;
    if (a.value !== b.value) return a.value < b.value ? -1 : 1;
    return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
  });
  return keyed.map((k) => k.text);
}

/** The ARP bucket: 250 ms, or the next coarser step that keeps a lane within MAX_BUCKETS. */
export function bucketMsFor(durationMs: number): number {
  const wanted = Math.max(MIN_BUCKET_MS, durationMs / MAX_BUCKETS);
  return BUCKET_STEPS_MS.find((s) => s >= wanted) ?? Math.ceil(wanted / 60_000) * 60_000;
}

const SILENT = -2;
const CONFLICT = -1;

export function buildLanes(
  record: SoakRecord,
  durationMs: number,
): { lanes: Lane[]; bucketMs: number; omitted: number; macOwner: Map<string, number> } {
  const bucketMs = bucketMsFor(durationMs);
  const buckets = Math.ceil(durationMs / bucketMs);
  const seconds = Math.ceil(durationMs / 1000);

  const macOwner = new Map<string, number>();
  record.nodes.forEach((node, i) => {
    const mac = record.macs[node];
    if (mac !== undefined && !macOwner.has(mac.toLowerCase())) macOwner.set(mac.toLowerCase(), i);
  });

  // Canonical IPv6 text is dear and a run repeats a few addresses 300k times: once per spelling.
  const keys = new Map<string, string>();
  const key = (address: string): string => {
    let k = keys.get(address);
    if (k === undefined) {
      k = laneKey(address);
      keys.set(address, k);
    }
    return k;
  };
  const probed = new Set(record.probes.map((p) => key(p.address)));
  const seen = new Set(record.wire.map((w) => key(w.address)));
  let chosen = orderAddresses([...probed, ...seen]);
  let omitted = 0;
  if (chosen.length > LANE_LIMIT) {
    // Probed addresses are the run's Services: they keep their lanes before addresses only heard.
    const room = Math.max(0, LANE_LIMIT - probed.size);
    const heard = chosen.filter((a) => !probed.has(a)).slice(0, room);
    const kept = orderAddresses([...probed].slice(0, LANE_LIMIT).concat(heard));
    omitted = chosen.length - kept.length;
    chosen = kept;
  }

  const macs: string[] = [];
  const macIds = new Map<string, number>();
  const macId = (mac: string): number => {
    const m = mac.toLowerCase();
    let id = macIds.get(m);
    if (id === undefined) {
      id = macs.length;
      macs.push(m);
      macIds.set(m, id);
    }
    return id;
  };

  interface Acc {
    state: Int32Array;
    conflicts: Map<number, Set<number>>;
    sightings: Map<number, number>;
    ok: Float64Array;
    failed: Float64Array;
    ports: Set<number>;
    probes: number;
    probesOk: number;
  }
  const accs = new Map<string, Acc>();
  for (const a of chosen) {
    accs.set(a, {
      state: new Int32Array(buckets).fill(SILENT),
      conflicts: new Map(),
      sightings: new Map(),
      ok: new Float64Array(seconds),
      failed: new Float64Array(seconds),
      ports: new Set(),
      probes: 0,
      probesOk: 0,
    });
  }

  for (const w of record.wire) {
    const acc = accs.get(key(w.address));
    if (acc === undefined || !(w.t >= 0 && w.t <= durationMs)) continue;
    const b = Math.min(buckets - 1, Math.floor(w.t / bucketMs));
    const id = macId(w.mac);
    acc.sightings.set(id, (acc.sightings.get(id) ?? 0) + 1);
    const s = acc.state[b] as number;
    if (s === SILENT) acc.state[b] = id;
    else if (s !== id) {
      acc.state[b] = CONFLICT;
      const set = acc.conflicts.get(b) ?? new Set(s === CONFLICT ? [] : [s]);
      set.add(id);
      acc.conflicts.set(b, set);
    }
  }

  for (const p of record.probes) {
    const acc = accs.get(key(p.address));
    if (acc === undefined) continue;
    acc.ports.add(p.port);
    acc.probes += p.probes;
    acc.probesOk += p.ok;
    const first = Math.floor(p.fromMs / 1000);
    const n = Math.max(p.okPerSecond.length, p.failedPerSecond.length);
    for (let i = Math.max(0, -first); i < n && first + i < seconds; i++) {
      acc.ok[first + i] = (acc.ok[first + i] as number) + (p.okPerSecond[i] ?? 0);
      acc.failed[first + i] = (acc.failed[first + i] as number) + (p.failedPerSecond[i] ?? 0);
    }
  }

  const who = (s: number): Answerer => {
    if (s === CONFLICT) return "conflict";
    const owner = macOwner.get(macs[s] as string);
    return owner === undefined ? "foreign" : { node: owner };
  };
  const describe = (id: number): string => {
    const mac = macs[id] as string;
    const owner = macOwner.get(mac);
    return `${mac} (${owner === undefined ? "foreign" : record.nodes[owner]})`;
  };

  const lanes = chosen.map((address): Lane => {
    const acc = accs.get(address) as Acc;
    const arp: ArpRun[] = [];
    for (let b = 0; b < buckets; ) {
      const s = acc.state[b] as number;
      let e = b + 1;
      while (e < buckets && acc.state[e] === s) e++;
      if (s !== SILENT) {
        const ids = new Set<number>();
        for (let i = b; i < e; i++) for (const id of acc.conflicts.get(i) ?? [s]) ids.add(id);
        arp.push({ from: b, to: e, who: who(s), macs: [...ids].slice(0, 8).map((id) => macs[id] as string) });
      }
      b = e;
    }
    const requests: RequestRun[] = [];
    const level = (i: number): number => {
      const ok = acc.ok[i] as number;
      const failed = acc.failed[i] as number;
      if (ok + failed <= 0) return -1;
      if (failed === 0) return 0;
      if (ok === 0) return 8;
      return Math.min(7, Math.max(1, Math.round((8 * failed) / (ok + failed))));
    };
    for (let i = 0; i < seconds; ) {
      const l = level(i);
      let e = i + 1;
      while (e < seconds && level(e) === l) e++;
      if (l >= 0) requests.push({ from: i, to: e, eighthsFailed: l });
      i = e;
    }
    const answerers = [...acc.sightings]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([id, n]) => `${describe(id)} ${n}`);
    const summary =
      `${address}: ` +
      (acc.ports.size > 0
        ? `ports ${[...acc.ports].sort((a, b) => a - b).join(", ")}, ${acc.probes} probes, ${acc.probesOk} ok`
        : "not probed") +
      `; ARP/NDP answers: ${answerers.length > 0 ? answerers.join(", ") : "none seen"}`;
    return { address, summary, arp, requests };
  });
  return { lanes, bucketMs, omitted, macOwner };
}

/** Text of a run's MACs with their owners, nodes first in their order, for the tooltip of a foreign or conflict run. */
export function describeMacs(record: SoakRecord, macOwner: Map<string, number>, macs: string[]): string {
  const rank = (m: string): number => macOwner.get(m) ?? record.nodes.length;
  return [...macs]
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1))
    .map((m) => `${m} (${record.nodes[macOwner.get(m) ?? -1] ?? "foreign"})`)
    .join(", ");
}

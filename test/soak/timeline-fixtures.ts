// Synthetic soak records for the timeline's tests: a long run shaped like a real 30-minute soak
// (owners that change at faults, short conflicts after them, a foreign claimer, outages around
// faults and scattered failed probes), from a seed, so its size can be measured and kept.
import type { FaultRecord, OpRecord, ProbeTarget, SoakRecord, Verdict, WireSighting } from "./model.js";
import { FAULT_KINDS } from "./model.js";

/** A small deterministic generator (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function emptyRecord(durationMs: number, nodes = ["node-1", "node-2", "node-3"]): SoakRecord {
  return {
    t0: 1_700_000_000_000,
    durationMs,
    nodes,
    macs: Object.fromEntries(nodes.map((n, i) => [n, `02:00:00:00:00:${String(i + 1).padStart(2, "0")}`])),
    foreignMacs: ["02:ff:00:00:00:99"],
    faults: [],
    ops: [],
    wire: [],
    probes: [],
    outages: [],
    snapshots: [],
    audit: [],
    resources: { start: [], end: [] },
  };
}

export interface Sized {
  record: SoakRecord;
  verdicts: Verdict[];
}

/** `addresses` lanes (a third IPv6), `sightings` wire sightings, `faults` faults, over `minutes`. */
export function longRun(
  seed: number,
  minutes = 30,
  addresses = 20,
  sightings = 300_000,
  faults = 100,
): Sized {
  const rnd = random(seed);
  const durationMs = minutes * 60_000;
  const record = emptyRecord(durationMs);
  const macs = record.nodes.map((n) => record.macs[n] as string);
  const foreign = record.foreignMacs[0] as string;
  const v6 = Math.floor(addresses / 3);
  const addrs = Array.from({ length: addresses }, (_, i) =>
    i < addresses - v6 ? `192.0.2.${10 + i}` : `2001:db8::${(i + 1).toString(16)}`,
  );

  const gap = durationMs / faults;
  const faultList: FaultRecord[] = [];
  for (let i = 0; i < faults; i++) {
    const kind = FAULT_KINDS[Math.floor(rnd() * FAULT_KINDS.length)] ?? "linkCut";
    const startMs = Math.round(i * gap + rnd() * gap * 0.3);
    const f: FaultRecord = { kind, startMs, endMs: startMs + Math.round(2_000 + rnd() * gap * 0.5) };
    if (kind === "foreignClaim") f.address = addrs[Math.floor(rnd() * addrs.length)] as string;
    else if (kind.startsWith("controller")) f.controller = `controller-${Math.floor(rnd() * 2)}`;
    else if (kind !== "apiServerStop" && kind !== "diskFull")
      f.node = record.nodes[i % record.nodes.length] as string;
    if (rnd() < 0.05) f.skipped = "no controller led";
    faultList.push(f);
  }
  record.faults = faultList;

  // Each address has an owner that moves at some faults; right after a move both answer briefly.
  const perAddress = Math.floor(sightings / addresses);
  const wire: WireSighting[] = [];
  for (const [ai, address] of addrs.entries()) {
    let owner = ai % macs.length;
    let prev = owner;
    let moved = Number.NEGATIVE_INFINITY;
    let next = 0;
    const step = durationMs / perAddress;
    for (let k = 0; k < perAddress; k++) {
      const t = Math.round(k * step + rnd() * step * 0.5);
      const f = faultList[next];
      if (f !== undefined && t >= f.startMs) {
        next++;
        if (rnd() < 0.4) {
          prev = owner;
          owner = (owner + 1) % macs.length;
          moved = t;
        }
      }
      if (t - moved < 600 && rnd() < 0.5)
        wire.push({ t, address, mac: macs[prev] as string, kind: "arp-reply" });
      else if (rnd() < 0.0005) wire.push({ t, address, mac: foreign, kind: "arp-gratuitous" });
      else {
        const kind = address.includes(":") ? "na-solicited" : "arp-reply";
        wire.push({ t, address, mac: macs[owner] as string, kind });
      }
    }
  }
  record.wire = wire.sort((a, b) => a.t - b.t);

  const seconds = Math.ceil(durationMs / 1000);
  const probes: ProbeTarget[] = [];
  for (const address of addrs) {
    for (const port of [80, 443]) {
      const okPerSecond: number[] = [];
      const failedPerSecond: number[] = [];
      let faultIndex = 0;
      for (let s = 0; s < seconds; s++) {
        while ((faultList[faultIndex]?.endMs ?? Number.POSITIVE_INFINITY) < s * 1000) faultIndex++;
        const f = faultList[faultIndex];
        const inOutage = f !== undefined && s * 1000 >= f.startMs && s * 1000 < f.startMs + 1500;
        const failed = inOutage ? 100 : rnd() < 0.01 ? Math.ceil(rnd() * 50) : 0;
        okPerSecond.push(100 - failed);
        failedPerSecond.push(failed);
      }
      const ok = okPerSecond.reduce((a, b) => a + b, 0);
      probes.push({
        address,
        port,
        fromMs: 0,
        toMs: durationMs,
        probes: seconds * 100,
        ok,
        okPerSecond,
        failedPerSecond,
      });
    }
  }
  record.probes = probes;

  const ops: OpRecord[] = [];
  for (let i = 0; i < 600; i++) {
    const startMs = Math.round(rnd() * durationMs);
    const ok = rnd() > 0.05;
    const op: OpRecord = {
      op: { kind: "deleteService", name: `svc-${i}` },
      startMs,
      endMs: startMs + 80,
      ok,
    };
    if (!ok) op.error = "409 Conflict: the object has been modified";
    ops.push(op);
  }
  record.ops = ops.sort((a, b) => a.startMs - b.startMs);

  const verdicts: Verdict[] = [
    { referee: "wire", pass: true, checked: { sightings: wire.length }, violations: [] },
    {
      referee: "traffic",
      pass: false,
      checked: { outages: 40 },
      violations: Array.from({ length: 50 }, (_, i) => ({
        t: Math.round(rnd() * durationMs),
        address: addrs[i % addrs.length] as string,
        message: "an outage of 4.2 s that no fault explains",
      })),
    },
  ];
  return { record, verdicts };
}

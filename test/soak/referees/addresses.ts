// The addresses referee: from the API server's view alone, no two Services hold one address
// unless they share legitimately, a Service keeps its address until something releases it, and a
// requested address is exactly what the Service gets.
import type { ApiSnapshot, ServiceView, SoakRecord, Verdict, Violation } from "../model.js";
import { at, canon, capViolations, familyOfText, poolContains, settledBy } from "./windows.js";

/** Why a Service may lose an address; undefined while none holds. */
type ReleaseCause = string | undefined;

interface Holding {
  since: number;
  request: string;
  sharingKey: string;
  pool: string | undefined;
  released: ReleaseCause;
}

interface Episode {
  from: number;
  /** Set when the bad state came from a status change (a gain): wrong at once, no settling. */
  immediate: boolean;
  message: (until: string) => string;
  address: string;
}

/** Two Services may hold one address: same sharing key, no common (protocol, port), compatible policy. */
export function sharesLegitimately(a: ServiceView, b: ServiceView): boolean {
  if (!a.sharingKey || a.sharingKey !== b.sharingKey) return false;
  const ports = new Set(a.ports.map((p) => `${p.protocol}/${p.port}`));
  if (b.ports.some((p) => ports.has(`${p.protocol}/${p.port}`))) return false;
  if (a.policy === "Cluster" && b.policy === "Cluster") return true;
  return a.policy === "Local" && b.policy === "Local" && sameSelector(a.selector, b.selector);
}

function sameSelector(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

const label = (s: ServiceView): string => `Service ${s.namespace}/${s.name} (uid ${s.uid})`;
const requestKey = (s: ServiceView): string => s.request.map(canon).sort().join(",");

export function judgeAddresses(record: SoakRecord): Verdict {
  const snapshots = [...record.snapshots].sort((a, b) => a.t - b.t);
  const violations: Violation[] = [];
  const open = new Map<string, Episode>();
  const close = (key: string, end: number): void => {
    const e = open.get(key);
    if (e === undefined) return;
    open.delete(key);
    const deadline = settledBy(record, e.from);
    if (e.immediate) violations.push({ t: e.from, address: e.address, message: e.message(at(end)) });
    else if (end > deadline) {
      violations.push({ t: deadline, address: e.address, message: e.message(at(end)) });
    }
  };
  const holdings = new Map<string, Map<string, Holding>>();
  const checked = { snapshots: snapshots.length, holdings: 0, losses: 0, gains: 0, sharedAddresses: 0 };
  for (const view of snapshots) {
    const seen = new Set<string>();
    const heldBefore = (uid: string, x: string): boolean => holdings.get(uid)?.has(x) ?? false;
    // Two Services holding one address
    const byAddress = new Map<string, ServiceView[]>();
    for (const s of view.services)
      for (const a of new Set(s.addresses.map(canon))) byAddress.set(a, [...(byAddress.get(a) ?? []), s]);
    for (const [x, list] of byAddress) {
      if (list.length > 1) checked.sharedAddresses++;
      for (let i = 0; i < list.length; i++)
        for (let j = i + 1; j < list.length; j++) {
          const a = list[i] as ServiceView;
          const b = list[j] as ServiceView;
          if (a.uid === b.uid || sharesLegitimately(a, b)) continue;
          const key = `share ${x} ${[a.uid, b.uid].sort().join(" ")}`;
          seen.add(key);
          if (open.has(key)) continue;
          const immediate = !heldBefore(a.uid, x) || !heldBefore(b.uid, x);
          open.set(key, {
            from: view.t,
            immediate,
            address: x,
            message: (until) =>
              `${x}: held by ${label(a)} and ${label(b)} from ${at(view.t)} until ${until}; expected them to share only with the same sharing key, no common port and compatible traffic policy${immediate ? " (one of them was given the address while the other held it)" : ", or the conflict to be resolved within the settle window"}`,
          });
        }
    }
    // Each Service's own addresses
    for (const s of view.services) {
      const own = holdings.get(s.uid) ?? new Map<string, Holding>();
      holdings.set(s.uid, own);
      const now = new Set(s.addresses.map(canon));
      for (const [x, h] of own) {
        h.released ??= releaseCause(s, h, x, view, byAddress.get(x) ?? []);
        if (now.has(x)) continue;
        checked.losses++;
        own.delete(x);
        if (h.released !== undefined) continue;
        const family = familyOfText(x);
        const swap = [...now].find((y) => !own.has(y) && familyOfText(y) === family);
        violations.push({
          t: view.t,
          address: x,
          message: `${label(s)} lost ${x} at ${at(view.t)}${swap ? ` for ${swap}` : ""} though nothing released it (still LoadBalancer, pool ${h.pool ?? "(none)"} contains it, request and sharing key unchanged); expected it to keep its address`,
        });
      }
      const gained = new Set<string>();
      for (const y of now) {
        if (own.has(y)) continue;
        checked.gains++;
        gained.add(y);
        const family = familyOfText(y);
        const other = [...now].find((x) => x !== y && familyOfText(x) === family);
        if (other !== undefined) {
          violations.push({
            t: view.t,
            address: y,
            message: `${label(s)} holds two ${family} addresses (${other} and ${y}) at ${at(view.t)}; expected at most one per family`,
          });
        }
        own.set(y, {
          since: view.t,
          request: requestKey(s),
          sharingKey: s.sharingKey ?? "",
          pool: s.pool,
          released: undefined,
        });
      }
      checked.holdings += own.size;
      // A requested address is exactly what it gets
      for (const r of s.request.map(canon)) {
        const family = familyOfText(r);
        const got = [...now].find((x) => familyOfText(x) === family);
        if (got === undefined || got === r) continue;
        const key = `request ${s.uid} ${family}`;
        seen.add(key);
        if (open.has(key)) continue;
        const immediate = gained.has(got);
        open.set(key, {
          from: view.t,
          immediate,
          address: got,
          message: (until) =>
            `${label(s)} requested ${r} but held ${got} from ${at(view.t)} until ${until}; expected exactly the requested address or none`,
        });
      }
    }
    for (const uid of [...holdings.keys()])
      if (!view.services.some((s) => s.uid === uid)) {
        checked.losses += holdings.get(uid)?.size ?? 0;
        holdings.delete(uid);
      }
    for (const key of [...open.keys()]) if (!seen.has(key)) close(key, view.t);
  }
  for (const key of [...open.keys()]) close(key, record.durationMs);
  return {
    referee: "addresses",
    pass: violations.length === 0,
    checked: { ...checked, violations: violations.length },
    violations: capViolations(violations),
  };
}

/** Why the Service may give up x now, if anything does. */
function releaseCause(
  s: ServiceView,
  h: Holding,
  x: string,
  view: ApiSnapshot,
  sharers: ServiceView[],
): ReleaseCause {
  if (s.type !== "LoadBalancer") return `type is ${s.type}`;
  // The pool it came from; without the annotation, any pool (no pool containing it releases it).
  const poolName = s.pool ?? h.pool;
  const pools = poolName === undefined ? view.pools : view.pools.filter((p) => p.name === poolName);
  if (!pools.some((p) => poolContains(p.addresses, x)))
    return `pool ${poolName ?? "(any)"} no longer contains it`;
  if (requestKey(s) !== h.request) return "request changed";
  if ((s.sharingKey ?? "") !== h.sharingKey) return "sharing key changed";
  const broken = sharers.find((o) => o.uid !== s.uid && !sharesLegitimately(s, o));
  if (broken !== undefined) return `no longer shares legitimately with ${broken.name}`;
  return undefined;
}

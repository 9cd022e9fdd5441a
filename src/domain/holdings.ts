// The allocator's books: which address is held, by which Services (several when shared), in
// which pool, and each pool's free space and counts. Only bookkeeping: who may hold what is
// decided elsewhere (sharing.ts, requests.ts, allocator.ts). Pure, no I/O.
import { type Family, formatValue } from "./address.js";
import { FreeSpace } from "./free-space.js";
import { comparePools, type Pool, poolContains, poolFamilies } from "./pool.js";
import type { ServiceRequest } from "./service.js";

export interface Assignment {
  readonly pool: string;
  /** Canonical text, in the Service's family order. */
  readonly addresses: readonly string[];
}

/** One address in use, by one Service or by several that share it. */
export interface Holding {
  readonly family: Family;
  readonly value: bigint;
  readonly text: string;
  pool: string | undefined;
  readonly sharingKey: string | undefined;
  readonly backendKey: string;
  /** In the order they joined: an earlier holder is never moved for a later one's sake. */
  readonly holders: string[];
}

export interface ServiceRecord {
  request: ServiceRequest;
  pool: string;
  holdings: Holding[];
}

export interface PoolState {
  readonly pool: Pool;
  /** Only for pools that hand out new addresses. */
  readonly free: Map<Family, FreeSpace> | undefined;
  readonly assigned: Record<Family, number>;
  /** Shared addresses by sharing key, to join an existing one before taking a new one. */
  readonly sharing: Map<string, Set<Holding>>;
}

export class Holdings {
  pools = new Map<string, PoolState>();
  /** The pools in the order they are tried. */
  ordered: PoolState[] = [];
  /** By canonical address text. */
  readonly byAddress = new Map<string, Holding>();
  /** By Service key. */
  readonly services = new Map<string, ServiceRecord>();

  /** Replaces the pools with empty ones; the caller re-attaches the holdings that stay. */
  replacePools(pools: readonly Pool[]): void {
    this.pools = new Map(pools.map((p) => [p.name, newPoolState(p)]));
    this.ordered = [...this.pools.values()].sort((a, b) => comparePools(a.pool, b.pool));
  }

  assignmentOf(key: string): Assignment | undefined {
    const rec = this.services.get(key);
    if (rec === undefined) return undefined;
    return { pool: rec.pool, addresses: rec.holdings.map((h) => h.text) };
  }

  newHolding(family: Family, value: bigint, pool: string, req: ServiceRequest): Holding {
    const h: Holding = {
      family,
      value,
      text: formatValue(family, value),
      pool,
      sharingKey: req.sharingKey,
      backendKey: req.backendKey,
      holders: [],
    };
    this.byAddress.set(h.text, h);
    this.attach(h);
    return h;
  }

  /** Counts h in its pool and takes its address out of the free space. */
  attach(h: Holding): void {
    const state = h.pool === undefined ? undefined : this.pools.get(h.pool);
    if (state === undefined) return;
    state.assigned[h.family]++;
    state.free?.get(h.family)?.take(h.value);
    if (h.sharingKey !== undefined) {
      const set = state.sharing.get(h.sharingKey) ?? new Set<Holding>();
      set.add(h);
      state.sharing.set(h.sharingKey, set);
    }
  }

  commit(req: ServiceRequest, pool: string, holdings: Holding[]): void {
    for (const h of holdings) if (!h.holders.includes(req.key)) h.holders.push(req.key);
    this.services.set(req.key, { request: req, pool, holdings: sortByFamilies(holdings, req.families) });
  }

  dropHolder(h: Holding, key: string): void {
    const i = h.holders.indexOf(key);
    if (i >= 0) h.holders.splice(i, 1);
    if (h.holders.length > 0) return;
    this.byAddress.delete(h.text);
    const state = h.pool === undefined ? undefined : this.pools.get(h.pool);
    if (state === undefined) return;
    state.assigned[h.family]--;
    if (h.sharingKey !== undefined) state.sharing.get(h.sharingKey)?.delete(h);
    if (poolContains(state.pool, h.family, h.value)) state.free?.get(h.family)?.give(h.value);
  }

  /** Gives back everything the Service holds. Unknown keys are fine. */
  release(key: string): void {
    const rec = this.services.get(key);
    if (rec === undefined) return;
    for (const h of rec.holdings) this.dropHolder(h, key);
    this.services.delete(key);
  }

  /** The pool an address belongs to: the preferred one when it contains it, else the first that does. */
  homeOf(family: Family, value: bigint, preferred: string | undefined): PoolState | undefined {
    const first = preferred === undefined ? undefined : this.pools.get(preferred);
    if (first !== undefined && poolContains(first.pool, family, value)) return first;
    // Valid pools never overlap; of invalid (disabled) ones that do, the first in order wins.
    return this.ordered.find((s) => poolContains(s.pool, family, value));
  }
}

export function hasFree(state: PoolState, family: Family): boolean {
  return (state.free?.get(family)?.fragments ?? 0) > 0;
}

function newPoolState(pool: Pool): PoolState {
  const free = pool.disabled
    ? undefined
    : new Map(poolFamilies(pool).map((f) => [f, new FreeSpace(f, pool.ranges, pool.avoidBuggyIPs)] as const));
  return { pool, free, assigned: { IPv4: 0, IPv6: 0 }, sharing: new Map() };
}

function sortByFamilies(holdings: Holding[], families: readonly Family[]): Holding[] {
  const rank = (f: Family) => {
    const i = families.indexOf(f);
    return i < 0 ? families.length : i;
  };
  return [...holdings].sort((a, b) => rank(a.family) - rank(b.family));
}

export function sameAssignment(a: Assignment | undefined, b: Assignment | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.pool === b.pool &&
    a.addresses.length === b.addresses.length &&
    a.addresses.every((x, i) => x === b.addresses[i])
  );
}

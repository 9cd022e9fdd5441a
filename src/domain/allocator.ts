// The allocator: which Service holds which address, from which pool. Pure state
// and decisions; no Kubernetes types, no I/O, no clock. The controller feeds it
// pools (setPools), what Services already hold (restore, at start), and asks it
// for addresses (assign) or gives them back (release).
import { type Family, formatValue, parseAddress } from "./address.js";
import { FreeSpace } from "./free-space.js";
import { comparePools, type Pool, poolContains, poolFamilies, poolRefuses, poolSize } from "./pool.js";
import { isBuggy } from "./range.js";
import { type Refusal, refusal } from "./reasons.js";
import { type ServicePort, type ServiceRequest, wantedFamilies } from "./service.js";

export interface Assignment {
  readonly pool: string;
  /** Canonical text, in the Service's family order. */
  readonly addresses: readonly string[];
}

export interface AssignResult {
  /** What the Service holds now; undefined when it holds nothing. */
  readonly assignment: Assignment | undefined;
  /** True when the assignment differs from what the Service held before. */
  readonly changed: boolean;
  /** Why the Service did not get (all of) what it asked for. */
  readonly refusal?: Refusal;
  /**
   * Services that joined one of its addresses later and may no longer share it (the Service
   * changed its ports, say): the earlier holder keeps the address, these move when assigned again.
   */
  readonly displaced?: readonly string[];
}

export interface RestoreResult {
  readonly assignment: Assignment | undefined;
  /** Addresses that could not be restored, each with why. */
  readonly conflicts: readonly Refusal[];
}

export interface FamilyCounts {
  readonly total: bigint;
  readonly assigned: bigint;
  readonly available: bigint;
}

export interface PoolCounts {
  readonly IPv4: FamilyCounts;
  readonly IPv6: FamilyCounts;
}

/** One address in use, by one Service or by several that share it. */
interface Holding {
  readonly family: Family;
  readonly value: bigint;
  readonly text: string;
  pool: string | undefined;
  readonly sharingKey: string | undefined;
  readonly backendKey: string;
  /** In the order they joined: an earlier holder is never moved for a later one's sake. */
  readonly holders: string[];
}

interface ServiceRecord {
  request: ServiceRequest;
  pool: string;
  holdings: Holding[];
}

interface PoolState {
  readonly pool: Pool;
  /** Only for pools that hand out new addresses. */
  readonly free: Map<Family, FreeSpace> | undefined;
  readonly assigned: Record<Family, number>;
  /** Shared addresses by sharing key, to join an existing one before taking a new one. */
  readonly sharing: Map<string, Set<Holding>>;
}

export class Allocator {
  private pools = new Map<string, PoolState>();
  private ordered: PoolState[] = [];
  private readonly holdings = new Map<string, Holding>();
  private readonly services = new Map<string, ServiceRecord>();

  /**
   * Replaces the pool set. Addresses still inside a pool stay where they are;
   * returns the Services whose addresses left every pool or whose pool no longer
   * allows them: assign() moves or releases those.
   */
  setPools(pools: readonly Pool[]): string[] {
    this.pools = new Map(pools.map((p) => [p.name, newPoolState(p)]));
    this.ordered = [...this.pools.values()].sort((a, b) => comparePools(a.pool, b.pool));
    const displaced = new Set<string>();
    for (const h of this.holdings.values()) {
      h.pool = this.homeOf(h.family, h.value, h.pool)?.pool.name;
      if (h.pool === undefined) {
        for (const key of h.holders) displaced.add(key);
        continue;
      }
      this.attach(h);
    }
    for (const [key, rec] of this.services) {
      const state = this.pools.get(rec.pool);
      const moved = rec.holdings.some((h) => h.pool !== rec.pool);
      if (moved && rec.holdings.every((h) => h.pool === rec.holdings[0]?.pool && h.pool !== undefined)) {
        // Every address of the Service now sits in one other pool (a rename, say): follow it.
        rec.pool = rec.holdings[0]?.pool ?? rec.pool;
      } else if (moved || state === undefined) {
        displaced.add(key);
        continue;
      }
      const home = this.pools.get(rec.pool);
      if (home === undefined || poolRefuses(home.pool, rec.request) !== "") displaced.add(key);
      // Sharing the pool no longer allows (across namespaces): the later holders move.
      else if (rec.holdings.some((h) => this.sharingRefusal(h, rec.request, earlierHolders(h, key))))
        displaced.add(key);
    }
    return [...displaced].sort();
  }

  /**
   * Warm start: records what a Service held before (from its status) without
   * deciding anything new. Call for every Service before the first assign().
   * Addresses that are malformed, in no pool, or held by a Service they may not
   * be shared with are reported and not recorded.
   */
  restore(req: ServiceRequest, addresses: readonly string[], poolHint?: string): RestoreResult {
    this.release(req.key);
    const conflicts: Refusal[] = [];
    const kept: Holding[] = [];
    for (const text of addresses) {
      const parsed = parseAddress(text);
      if (!parsed.ok) {
        conflicts.push(refusal("InvalidAddress", parsed.error));
        continue;
      }
      const { family, value } = parsed.value;
      const canonical = formatValue(family, value);
      if (kept.some((h) => h.family === family)) {
        conflicts.push(refusal("WrongFamily", `${canonical}: a second ${family} address`));
        continue;
      }
      const existing = this.holdings.get(canonical);
      if (existing !== undefined) {
        const why = this.sharingRefusal(existing, req);
        if (why !== undefined) {
          conflicts.push(why);
          continue;
        }
        kept.push(existing);
        continue;
      }
      const home = this.homeOf(family, value, poolHint);
      if (home === undefined) {
        conflicts.push(refusal("NotInAnyPool", `${canonical} is in no pool`));
        continue;
      }
      kept.push(this.newHolding(family, value, home.pool.name, req));
    }
    if (kept.length === 0) return { assignment: undefined, conflicts };
    const pool = kept[0]?.pool ?? "";
    this.commit(req, pool, kept);
    return { assignment: this.assignmentOf(req.key), conflicts };
  }

  /**
   * Gives the Service the addresses it should hold, keeping what it has
   * whenever that is still allowed. Idempotent: asking again changes nothing.
   */
  assign(req: ServiceRequest): AssignResult {
    const before = this.assignmentOf(req.key);
    const rec = this.services.get(req.key);
    if (rec !== undefined && this.keepable(rec, req)) {
      const displaced = this.laterConflicts(rec, req);
      const result = this.topUp(rec, req, before);
      return displaced.length > 0 ? { ...result, displaced } : result;
    }
    this.release(req.key);
    const result = req.requestedAddresses.length > 0 ? this.assignRequested(req) : this.assignAuto(req);
    const after = this.assignmentOf(req.key);
    return { ...result, assignment: after, changed: !sameAssignment(before, after) };
  }

  /** Gives back everything the Service holds. Unknown keys are fine. */
  release(key: string): void {
    const rec = this.services.get(key);
    if (rec === undefined) return;
    for (const h of rec.holdings) this.dropHolder(h, key);
    this.services.delete(key);
  }

  assignmentOf(key: string): Assignment | undefined {
    const rec = this.services.get(key);
    if (rec === undefined) return undefined;
    return { pool: rec.pool, addresses: rec.holdings.map((h) => h.text) };
  }

  /** Services holding this address (several when shared). */
  holdersOf(address: string): readonly string[] {
    const parsed = parseAddress(address);
    if (!parsed.ok) return [];
    return this.holdings.get(formatValue(parsed.value.family, parsed.value.value))?.holders ?? [];
  }

  counts(poolName: string): PoolCounts | undefined {
    const state = this.pools.get(poolName);
    if (state === undefined) return undefined;
    const of = (family: Family): FamilyCounts => {
      const total = poolSize(state.pool, family);
      const assigned = BigInt(state.assigned[family]);
      return { total, assigned, available: total > assigned ? total - assigned : 0n };
    };
    return { IPv4: of("IPv4"), IPv6: of("IPv6") };
  }

  get serviceCount(): number {
    return this.services.size;
  }

  get addressCount(): number {
    return this.holdings.size;
  }

  /** Every address with its holders, for status pages and invariant checks. */
  *allHoldings(): Generator<{ address: string; pool: string | undefined; holders: readonly string[] }> {
    for (const h of this.holdings.values()) yield { address: h.text, pool: h.pool, holders: h.holders };
  }

  // --- keeping what a Service has ------------------------------------------

  private keepable(rec: ServiceRecord, req: ServiceRequest): boolean {
    const state = this.pools.get(rec.pool);
    if (state === undefined || poolRefuses(state.pool, req) !== "") return false;
    if (req.requestedPool !== undefined && req.requestedPool !== rec.pool) return false;
    if (rec.holdings.some((h) => h.pool !== rec.pool)) return false;
    const wanted = wantedFamilies(req);
    if (req.requestedAddresses.length > 0) {
      const asked = new Set(req.requestedAddresses.map(canonicalOrSelf));
      const held = rec.holdings.filter((h) => wanted.includes(h.family)).map((h) => h.text);
      if (held.length !== asked.size || held.some((t) => !asked.has(t))) return false;
    }
    if (!rec.holdings.some((h) => wanted.includes(h.family))) return false;
    if (rec.holdings.some((h) => h.sharingKey !== req.sharingKey || h.backendKey !== req.backendKey)) {
      return rec.holdings.every((h) => h.holders.length === 1);
    }
    // Only those who held the address first can make it move; later holders move instead.
    return rec.holdings.every((h) => this.sharingRefusal(h, req, earlierHolders(h, req.key)) === undefined);
  }

  /** Holders that joined one of rec's addresses after req and may not share it with req now. */
  private laterConflicts(rec: ServiceRecord, req: ServiceRequest): string[] {
    const out = new Set<string>();
    for (const h of rec.holdings) {
      const i = h.holders.indexOf(req.key);
      if (i < 0 || h.sharingKey !== req.sharingKey || h.backendKey !== req.backendKey) continue;
      for (const later of h.holders.slice(i + 1))
        if (this.sharingRefusal(h, req, [later]) !== undefined) out.add(later);
    }
    return [...out].sort();
  }

  /** Keeps the held addresses, drops unwanted families, adds missing ones from the same pool. */
  private topUp(rec: ServiceRecord, req: ServiceRequest, before: Assignment | undefined): AssignResult {
    const wanted = wantedFamilies(req);
    const kept: Holding[] = [];
    for (const h of rec.holdings) {
      if (!wanted.includes(h.family)) this.dropHolder(h, req.key);
      else if (h.sharingKey === req.sharingKey && h.backendKey === req.backendKey) kept.push(h);
      else kept.push(this.rekey(h, req)); // alone on it (keepable checked), so the key may change in place
    }
    let why: Refusal | undefined;
    const missing = wanted.filter((f) => !kept.some((h) => h.family === f));
    const state = this.pools.get(rec.pool);
    if (missing.length > 0 && req.requestedAddresses.length === 0 && state !== undefined) {
      const added = this.takeFamilies(state, req, missing);
      if (added !== undefined) kept.push(...added);
      else if (req.familyPolicy === "RequireDualStack") {
        const held = kept.map((h) => h.text).join(", ");
        why = refusal(
          "DualStackUnavailable",
          `pool ${rec.pool} cannot add ${missing.join(" and ")}; keeping ${held}`,
        );
      }
    }
    this.commit(req, rec.pool, kept);
    const after = this.assignmentOf(req.key);
    return { assignment: after, changed: !sameAssignment(before, after), ...(why ? { refusal: why } : {}) };
  }

  private rekey(h: Holding, req: ServiceRequest): Holding {
    this.dropHolder(h, req.key);
    return this.newHolding(h.family, h.value, h.pool ?? "", req);
  }

  // --- new addresses ---------------------------------------------------------

  private assignRequested(req: ServiceRequest): { refusal?: Refusal } {
    const allowed = wantedFamilies(req);
    const picks: { family: Family; value: bigint; text: string; state: PoolState }[] = [];
    for (const text of req.requestedAddresses) {
      const parsed = parseAddress(text);
      if (!parsed.ok) return { refusal: refusal("InvalidAddress", `requested address ${parsed.error}`) };
      const { family, value } = parsed.value;
      const canonical = formatValue(family, value);
      if (!allowed.includes(family)) {
        return {
          refusal: refusal(
            "WrongFamily",
            `${canonical} is ${family}, but the Service uses ${allowed.join(" and ")} (ipFamilies, ipFamilyPolicy)`,
          ),
        };
      }
      if (picks.some((p) => p.family === family)) {
        return { refusal: refusal("WrongFamily", `more than one ${family} address requested`) };
      }
      const home = this.homeOf(family, value, req.requestedPool);
      if (home === undefined) return { refusal: refusal("NotInAnyPool", `${canonical} is in no pool`) };
      const name = home.pool.name;
      if (req.requestedPool !== undefined && req.requestedPool !== name) {
        return {
          refusal: refusal(
            "NotInRequestedPool",
            `${canonical} is in pool ${name}, not in the requested pool ${req.requestedPool}`,
          ),
        };
      }
      const why = poolRefuses(home.pool, req);
      if (why !== "") return { refusal: notAllowed(name, req, why) };
      if (home.pool.avoidBuggyIPs && isBuggy(family, value)) {
        return {
          refusal: refusal("AvoidedAddress", `${canonical} ends in .0 or .255 and pool ${name} avoids those`),
        };
      }
      const held = this.holdings.get(canonical);
      if (held !== undefined) {
        const conflict = this.sharingRefusal(held, req);
        if (conflict !== undefined) return { refusal: conflict };
      } else if (home.free === undefined) {
        return { refusal: refusal("PoolDisabled", `pool ${name} is disabled and hands out no new address`) };
      }
      picks.push({ family, value, text: canonical, state: home });
    }
    if (req.familyPolicy === "RequireDualStack" && picks.length < allowed.length) {
      return {
        refusal: refusal(
          "WrongFamily",
          `RequireDualStack needs one requested address of each family; got ${picks.map((p) => p.text).join(", ")}`,
        ),
      };
    }
    const poolNames = new Set(picks.map((p) => p.state.pool.name));
    if (poolNames.size > 1) {
      return {
        refusal: refusal("PoolMismatch", `requested addresses lie in pools ${[...poolNames].join(", ")}`),
      };
    }
    const holdings = picks.map(
      (p) => this.holdings.get(p.text) ?? this.newHolding(p.family, p.value, p.state.pool.name, req),
    );
    this.commit(req, picks[0]?.state.pool.name ?? "", holdings);
    return {};
  }

  private assignAuto(req: ServiceRequest): { refusal?: Refusal } {
    let candidates: PoolState[];
    if (req.requestedPool !== undefined) {
      const state = this.pools.get(req.requestedPool);
      if (state === undefined) {
        return {
          refusal: refusal("PoolNotFound", `pool ${req.requestedPool} does not exist or is not valid`),
        };
      }
      const why = poolRefuses(state.pool, req);
      if (why !== "") return { refusal: notAllowed(state.pool.name, req, why) };
      if (state.free === undefined) {
        return {
          refusal: refusal(
            "PoolDisabled",
            `pool ${state.pool.name} is disabled and hands out no new address`,
          ),
        };
      }
      candidates = [state];
    } else {
      candidates = this.ordered.filter(
        (s) => s.free !== undefined && s.pool.autoAssign && poolRefuses(s.pool, req) === "",
      );
      if (candidates.length === 0) {
        return {
          refusal: refusal("NoPoolAllowed", `no pool hands out addresses to ${req.key} automatically`),
        };
      }
    }
    const wanted = wantedFamilies(req);
    for (const state of candidates) {
      const holdings = this.takeFamilies(state, req, wanted);
      if (holdings !== undefined) {
        this.commit(req, state.pool.name, holdings);
        return {};
      }
    }
    if (wanted.length > 1 && req.familyPolicy === "PreferDualStack") {
      for (const family of wanted) {
        for (const state of candidates) {
          const holdings = this.takeFamilies(state, req, [family]);
          if (holdings !== undefined) {
            this.commit(req, state.pool.name, holdings);
            return {};
          }
        }
      }
    }
    const names = candidates.map((s) => s.pool.name).join(", ");
    if (wanted.length > 1 && !candidates.some((s) => poolFamilies(s.pool).length === 2)) {
      return {
        refusal: refusal("DualStackUnavailable", `no usable pool has both IPv4 and IPv6 (tried ${names})`),
      };
    }
    return { refusal: refusal("PoolExhausted", `no free ${wanted.join("+")} address in pool ${names}`) };
  }

  /** One address per family from one pool, joining a shared address where the key allows; all or nothing. */
  private takeFamilies(
    state: PoolState,
    req: ServiceRequest,
    families: readonly Family[],
  ): Holding[] | undefined {
    const picks: { family: Family; shared?: Holding }[] = [];
    for (const family of families) {
      const shared = this.shareable(state, req, family);
      if (shared === undefined && !this.hasFree(state, family)) return undefined;
      picks.push(shared === undefined ? { family } : { family, shared });
    }
    return picks.map(({ family, shared }) => {
      if (shared !== undefined) return shared;
      const value = state.free?.get(family)?.takeLowest();
      if (value === undefined) throw new Error("free space vanished between check and take");
      return this.newHolding(family, value, state.pool.name, req);
    });
  }

  private hasFree(state: PoolState, family: Family): boolean {
    return (state.free?.get(family)?.fragments ?? 0) > 0;
  }

  private shareable(state: PoolState, req: ServiceRequest, family: Family): Holding | undefined {
    if (req.sharingKey === undefined) return undefined;
    for (const h of state.sharing.get(req.sharingKey) ?? []) {
      if (h.family === family && this.sharingRefusal(h, req) === undefined) return h;
    }
    return undefined;
  }

  /** undefined when req may hold h alongside `others` (by default all its other holders). */
  private sharingRefusal(
    h: Holding,
    req: ServiceRequest,
    others: readonly string[] = h.holders.filter((k) => k !== req.key),
  ): Refusal | undefined {
    if (others.length === 0) return undefined;
    const names = others.join(", ");
    if (h.sharingKey === undefined || req.sharingKey === undefined || h.sharingKey !== req.sharingKey) {
      const theirs = h.sharingKey === undefined ? "no sharing key" : `sharing key "${h.sharingKey}"`;
      const ours = req.sharingKey === undefined ? "no sharing key" : `sharing key "${req.sharingKey}"`;
      return refusal(
        "AddressInUse",
        `${h.text} is held by ${names} with ${theirs}; this Service has ${ours}`,
      );
    }
    const elsewhere = others.filter((k) => this.services.get(k)?.request.namespace !== req.namespace);
    if (h.backendKey !== req.backendKey || (h.backendKey !== "" && elsewhere.length > 0)) {
      return refusal(
        "SharingBackendConflict",
        `${h.text} is shared by ${names}; sharing needs the same traffic policy, and Local Services need the same namespace and selector`,
      );
    }
    const pool = h.pool === undefined ? undefined : this.pools.get(h.pool)?.pool;
    if (elsewhere.length > 0 && pool?.allowSharingAcrossNamespaces !== true) {
      return refusal(
        "SharingNamespaceConflict",
        `${h.text} is held by ${elsewhere.join(", ")} in another namespace; pool ${h.pool ?? "(none)"} does not allow sharing across namespaces (spec.allocation.allowSharingAcrossNamespaces)`,
      );
    }
    for (const other of others) {
      const clash = firstClash(this.services.get(other)?.request.ports ?? [], req.ports);
      if (clash !== undefined) {
        return refusal(
          "SharingPortConflict",
          `${h.text}: ${other} already uses ${clash.protocol}/${clash.port}`,
        );
      }
    }
    return undefined;
  }

  // --- bookkeeping -----------------------------------------------------------

  private newHolding(family: Family, value: bigint, pool: string, req: ServiceRequest): Holding {
    const h: Holding = {
      family,
      value,
      text: formatValue(family, value),
      pool,
      sharingKey: req.sharingKey,
      backendKey: req.backendKey,
      holders: [],
    };
    this.holdings.set(h.text, h);
    this.attach(h);
    return h;
  }

  /** Counts h in its pool and takes its address out of the free space. */
  private attach(h: Holding): void {
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

  private commit(req: ServiceRequest, pool: string, holdings: Holding[]): void {
    for (const h of holdings) if (!h.holders.includes(req.key)) h.holders.push(req.key);
    this.services.set(req.key, { request: req, pool, holdings: sortByFamilies(holdings, req.families) });
  }

  private dropHolder(h: Holding, key: string): void {
    const i = h.holders.indexOf(key);
    if (i >= 0) h.holders.splice(i, 1);
    if (h.holders.length > 0) return;
    this.holdings.delete(h.text);
    const state = h.pool === undefined ? undefined : this.pools.get(h.pool);
    if (state === undefined) return;
    state.assigned[h.family]--;
    if (h.sharingKey !== undefined) state.sharing.get(h.sharingKey)?.delete(h);
    if (poolContains(state.pool, h.family, h.value)) state.free?.get(h.family)?.give(h.value);
  }

  /** The pool an address belongs to: the preferred one when it contains it, else the first that does. */
  private homeOf(family: Family, value: bigint, preferred: string | undefined): PoolState | undefined {
    const first = preferred === undefined ? undefined : this.pools.get(preferred);
    if (first !== undefined && poolContains(first.pool, family, value)) return first;
    // Valid pools never overlap; of invalid (disabled) ones that do, the first in order wins.
    return this.ordered.find((s) => poolContains(s.pool, family, value));
  }
}

function newPoolState(pool: Pool): PoolState {
  const free = pool.disabled
    ? undefined
    : new Map(poolFamilies(pool).map((f) => [f, new FreeSpace(f, pool.ranges, pool.avoidBuggyIPs)] as const));
  return { pool, free, assigned: { IPv4: 0, IPv6: 0 }, sharing: new Map() };
}

function notAllowed(pool: string, req: ServiceRequest, why: string): Refusal {
  const detail =
    why === "namespaceNotAllowed"
      ? `namespace ${req.namespace} is not allowed`
      : "the Service's labels do not match its serviceSelector";
  return refusal("PoolNotAllowed", `pool ${pool} may not be used by ${req.key}: ${detail}`);
}

/** The holders of h that joined before key (all of them when key does not hold h). */
function earlierHolders(h: Holding, key: string): string[] {
  const i = h.holders.indexOf(key);
  return i < 0 ? h.holders.filter((k) => k !== key) : h.holders.slice(0, i);
}

function firstClash(a: readonly ServicePort[], b: readonly ServicePort[]): ServicePort | undefined {
  return b.find((p) => a.some((q) => q.protocol === p.protocol && q.port === p.port));
}

function sortByFamilies(holdings: Holding[], families: readonly Family[]): Holding[] {
  const rank = (f: Family) => {
    const i = families.indexOf(f);
    return i < 0 ? families.length : i;
  };
  return [...holdings].sort((a, b) => rank(a.family) - rank(b.family));
}

function sameAssignment(a: Assignment | undefined, b: Assignment | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.pool === b.pool &&
    a.addresses.length === b.addresses.length &&
    a.addresses.every((x, i) => x === b.addresses[i])
  );
}

function canonicalOrSelf(text: string): string {
  const parsed = parseAddress(text);
  return parsed.ok ? formatValue(parsed.value.family, parsed.value.value) : text;
}

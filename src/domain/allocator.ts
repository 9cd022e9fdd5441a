// The allocator: which Service holds which address, from which pool. Pure state
// and decisions; no Kubernetes types, no I/O, no clock. The controller feeds it
// pools (setPools), what Services already hold (restore, at start), and asks it
// for addresses (assign) or gives them back (release). Here: what a Service may
// keep; the books are in holdings.ts, the sharing rules in sharing.ts, new
// addresses in requests.ts.
import { type Family, formatValue, parseAddress } from "./address.js";
import { type Assignment, type Holding, Holdings, type ServiceRecord, sameAssignment } from "./holdings.js";
import { type Pool, poolRefuses, poolSize } from "./pool.js";
import { type Refusal, refusal } from "./reasons.js";
import { assignAuto, assignRequested, takeFamilies } from "./requests.js";
import { type ServiceRequest, wantedFamilies } from "./service.js";
import { earlierHolders, laterConflicts, sharingRefusal } from "./sharing.js";

export type { Assignment } from "./holdings.js";

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

export class Allocator {
  private readonly books = new Holdings();

  /**
   * Replaces the pool set. Addresses still inside a pool stay where they are;
   * returns the Services whose addresses left every pool or whose pool no longer
   * allows them: assign() moves or releases those.
   */
  setPools(pools: readonly Pool[]): string[] {
    const books = this.books;
    books.replacePools(pools);
    const displaced = new Set<string>();
    for (const h of books.byAddress.values()) {
      h.pool = books.homeOf(h.family, h.value, h.pool)?.pool.name;
      if (h.pool === undefined) {
        for (const key of h.holders) displaced.add(key);
        continue;
      }
      books.attach(h);
    }
    for (const [key, rec] of books.services) {
      const state = books.pools.get(rec.pool);
      const moved = rec.holdings.some((h) => h.pool !== rec.pool);
      if (moved && rec.holdings.every((h) => h.pool === rec.holdings[0]?.pool && h.pool !== undefined)) {
        // Every address of the Service now sits in one other pool (a rename, say): follow it.
        rec.pool = rec.holdings[0]?.pool ?? rec.pool;
      } else if (moved || state === undefined) {
        displaced.add(key);
        continue;
      }
      const home = books.pools.get(rec.pool);
      if (home === undefined || poolRefuses(home.pool, rec.request) !== "") displaced.add(key);
      // Sharing the pool no longer allows (across namespaces): the later holders move.
      else if (rec.holdings.some((h) => sharingRefusal(books, h, rec.request, earlierHolders(h, key))))
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
    const books = this.books;
    books.release(req.key);
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
      const existing = books.byAddress.get(canonical);
      if (existing !== undefined) {
        const why = sharingRefusal(books, existing, req);
        if (why !== undefined) {
          conflicts.push(why);
          continue;
        }
        kept.push(existing);
        continue;
      }
      const home = books.homeOf(family, value, poolHint);
      if (home === undefined) {
        conflicts.push(refusal("NotInAnyPool", `${canonical} is in no pool`));
        continue;
      }
      kept.push(books.newHolding(family, value, home.pool.name, req));
    }
    if (kept.length === 0) return { assignment: undefined, conflicts };
    const pool = kept[0]?.pool ?? "";
    books.commit(req, pool, kept);
    return { assignment: books.assignmentOf(req.key), conflicts };
  }

  /**
   * Gives the Service the addresses it should hold, keeping what it has
   * whenever that is still allowed. Idempotent: asking again changes nothing.
   */
  assign(req: ServiceRequest): AssignResult {
    const books = this.books;
    const before = books.assignmentOf(req.key);
    const rec = books.services.get(req.key);
    if (rec !== undefined && this.keepable(rec, req)) {
      const displaced = laterConflicts(books, rec, req);
      const result = this.topUp(rec, req, before);
      return displaced.length > 0 ? { ...result, displaced } : result;
    }
    books.release(req.key);
    const result = req.requestedAddresses.length > 0 ? assignRequested(books, req) : assignAuto(books, req);
    const after = books.assignmentOf(req.key);
    return { ...result, assignment: after, changed: !sameAssignment(before, after) };
  }

  /** Gives back everything the Service holds. Unknown keys are fine. */
  release(key: string): void {
    this.books.release(key);
  }

  assignmentOf(key: string): Assignment | undefined {
    return this.books.assignmentOf(key);
  }

  /** Services holding this address (several when shared). */
  holdersOf(address: string): readonly string[] {
    const parsed = parseAddress(address);
    if (!parsed.ok) return [];
    return this.books.byAddress.get(formatValue(parsed.value.family, parsed.value.value))?.holders ?? [];
  }

  counts(poolName: string): PoolCounts | undefined {
    const state = this.books.pools.get(poolName);
    if (state === undefined) return undefined;
    const of = (family: Family): FamilyCounts => {
      const total = poolSize(state.pool, family);
      const assigned = BigInt(state.assigned[family]);
      return { total, assigned, available: total > assigned ? total - assigned : 0n };
    };
    return { IPv4: of("IPv4"), IPv6: of("IPv6") };
  }

  get serviceCount(): number {
    return this.books.services.size;
  }

  get addressCount(): number {
    return this.books.byAddress.size;
  }

  /** Every address with its holders, for status pages and invariant checks. */
  *allHoldings(): Generator<{ address: string; pool: string | undefined; holders: readonly string[] }> {
    for (const h of this.books.byAddress.values())
      yield { address: h.text, pool: h.pool, holders: h.holders };
  }

  // --- keeping what a Service has ------------------------------------------

  private keepable(rec: ServiceRecord, req: ServiceRequest): boolean {
    const state = this.books.pools.get(rec.pool);
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
    return rec.holdings.every(
      (h) => sharingRefusal(this.books, h, req, earlierHolders(h, req.key)) === undefined,
    );
  }

  /** Keeps the held addresses, drops unwanted families, adds missing ones from the same pool. */
  private topUp(rec: ServiceRecord, req: ServiceRequest, before: Assignment | undefined): AssignResult {
    const wanted = wantedFamilies(req);
    const kept: Holding[] = [];
    const books = this.books;
    for (const h of rec.holdings) {
      if (!wanted.includes(h.family)) books.dropHolder(h, req.key);
      else if (h.sharingKey === req.sharingKey && h.backendKey === req.backendKey) kept.push(h);
      else kept.push(this.rekey(h, req)); // alone on it (keepable checked), so the key may change in place
    }
    let why: Refusal | undefined;
    const missing = wanted.filter((f) => !kept.some((h) => h.family === f));
    const state = books.pools.get(rec.pool);
    if (missing.length > 0 && req.requestedAddresses.length === 0 && state !== undefined) {
      const added = takeFamilies(books, state, req, missing);
      if (added !== undefined) kept.push(...added);
      else if (req.familyPolicy === "RequireDualStack") {
        const held = kept.map((h) => h.text).join(", ");
        why = refusal(
          "DualStackUnavailable",
          `pool ${rec.pool} cannot add ${missing.join(" and ")}; keeping ${held}`,
        );
      }
    }
    books.commit(req, rec.pool, kept);
    const after = books.assignmentOf(req.key);
    return { assignment: after, changed: !sameAssignment(before, after), ...(why ? { refusal: why } : {}) };
  }

  private rekey(h: Holding, req: ServiceRequest): Holding {
    this.books.dropHolder(h, req.key);
    return this.books.newHolding(h.family, h.value, h.pool ?? "", req);
  }
}

function canonicalOrSelf(text: string): string {
  const parsed = parseAddress(text);
  return parsed.ok ? formatValue(parsed.value.family, parsed.value.value) : text;
}

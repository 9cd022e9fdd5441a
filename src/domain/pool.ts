// A validated address pool and the questions the allocator asks of it.
import type { Family } from "./address.js";
import { type AddressRange, rangeContains, usableCount } from "./range.js";
import { type LabelSelector, type Labels, matches } from "./selector.js";

export interface Pool {
  readonly name: string;
  /** Sorted by family then first address; never overlapping. */
  readonly ranges: readonly AddressRange[];
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
  /** No new allocations; existing ones stay. Invalid pools are handed over disabled too. */
  readonly disabled: boolean;
  /** Lower is tried first; pools without a priority come after all that have one. */
  readonly priority: number | undefined;
  readonly namespaces: readonly string[];
  readonly namespaceSelector: LabelSelector | undefined;
  readonly serviceSelector: LabelSelector | undefined;
  /**
   * Services of different namespaces may share an address of this pool (same sharing key).
   * Off by default: the key is a readable annotation, so without it any tenant could join
   * another's address.
   */
  readonly allowSharingAcrossNamespaces: boolean;
  /** Announce without probing, and never hold an address back for a LAN host answering for it. */
  readonly ignoreAddressConflicts?: boolean;
}

/** What a pool needs to know of a Service to decide whether it may use the pool. */
export interface Tenant {
  readonly namespace: string;
  readonly namespaceLabels: Labels;
  readonly labels: Labels;
}

export type PoolRefusal = "" | "namespaceNotAllowed" | "serviceNotSelected";

/** The tenant boundary: "" when the Service may use the pool, else why not. */
export function poolRefuses(pool: Pool, tenant: Tenant): PoolRefusal {
  const restricted = pool.namespaces.length > 0 || pool.namespaceSelector !== undefined;
  if (restricted) {
    const listed = pool.namespaces.includes(tenant.namespace);
    const selected =
      pool.namespaceSelector !== undefined && matches(pool.namespaceSelector, tenant.namespaceLabels);
    if (!listed && !selected) return "namespaceNotAllowed";
  }
  if (pool.serviceSelector !== undefined && !matches(pool.serviceSelector, tenant.labels)) {
    return "serviceNotSelected";
  }
  return "";
}

export function poolContains(pool: Pool, family: Family, value: bigint): boolean {
  return pool.ranges.some((r) => rangeContains(r, family, value));
}

export function poolFamilies(pool: Pool): Family[] {
  const families = new Set(pool.ranges.map((r) => r.family));
  return (["IPv4", "IPv6"] as const).filter((f) => families.has(f));
}

/** Usable addresses per family (after avoidBuggyIPs), exact for any size. */
export function poolSize(pool: Pool, family: Family): bigint {
  let total = 0n;
  for (const r of pool.ranges) if (r.family === family) total += usableCount(r, pool.avoidBuggyIPs);
  return total;
}

/** Order in which pools are tried: priority (unset last), then name. */
export function comparePools(a: Pool, b: Pool): number {
  const pa = a.priority ?? Number.POSITIVE_INFINITY;
  const pb = b.priority ?? Number.POSITIVE_INFINITY;
  if (pa !== pb) return pa < pb ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

// Who may hold an address together: the same sharing key, no (protocol, port) both use, the
// same traffic policy (two Local Services only with the same namespace and selector), and
// across namespaces only where the pool allows it. Earlier holders keep an address; later ones
// move. Pure: answers with a reason, never changes the books.

import type { Family } from "./address.js";
import type { Holding, Holdings, PoolState, ServiceRecord } from "./holdings.js";
import { type Refusal, refusal } from "./reasons.js";
import type { ServicePort, ServiceRequest } from "./service.js";

/** undefined when req may hold h alongside `others` (by default all its other holders). */
export function sharingRefusal(
  books: Holdings,
  h: Holding,
  req: ServiceRequest,
  others: readonly string[] = h.holders.filter((k) => k !== req.key),
): Refusal | undefined {
  if (others.length === 0) return undefined;
  const names = others.join(", ");
  if (h.sharingKey === undefined || req.sharingKey === undefined || h.sharingKey !== req.sharingKey) {
    const theirs = h.sharingKey === undefined ? "no sharing key" : `sharing key "${h.sharingKey}"`;
    const ours = req.sharingKey === undefined ? "no sharing key" : `sharing key "${req.sharingKey}"`;
    return refusal("AddressInUse", `${h.text} is held by ${names} with ${theirs}; this Service has ${ours}`);
  }
  const elsewhere = others.filter((k) => books.services.get(k)?.request.namespace !== req.namespace);
  if (h.backendKey !== req.backendKey || (h.backendKey !== "" && elsewhere.length > 0)) {
    return refusal(
      "SharingBackendConflict",
      `${h.text} is shared by ${names}; sharing needs the same traffic policy, and Local Services need the same namespace and selector`,
    );
  }
  const pool = h.pool === undefined ? undefined : books.pools.get(h.pool)?.pool;
  if (elsewhere.length > 0 && pool?.allowSharingAcrossNamespaces !== true) {
    return refusal(
      "SharingNamespaceConflict",
      `${h.text} is held by ${elsewhere.join(", ")} in another namespace; pool ${h.pool ?? "(none)"} does not allow sharing across namespaces (spec.allocation.allowSharingAcrossNamespaces)`,
    );
  }
  for (const other of others) {
    const clash = firstClash(books.services.get(other)?.request.ports ?? [], req.ports);
    if (clash !== undefined) {
      return refusal(
        "SharingPortConflict",
        `${h.text}: ${other} already uses ${clash.protocol}/${clash.port}`,
      );
    }
  }
  return undefined;
}

/** A shared address of this family in the pool that req may join, if there is one. */
export function shareable(
  books: Holdings,
  state: PoolState,
  req: ServiceRequest,
  family: Family,
): Holding | undefined {
  if (req.sharingKey === undefined) return undefined;
  for (const h of state.sharing.get(req.sharingKey) ?? []) {
    if (h.family === family && sharingRefusal(books, h, req) === undefined) return h;
  }
  return undefined;
}

/** Holders that joined one of rec's addresses after req and may not share it with req now. */
export function laterConflicts(books: Holdings, rec: ServiceRecord, req: ServiceRequest): string[] {
  const out = new Set<string>();
  for (const h of rec.holdings) {
    const i = h.holders.indexOf(req.key);
    if (i < 0 || h.sharingKey !== req.sharingKey || h.backendKey !== req.backendKey) continue;
    for (const later of h.holders.slice(i + 1))
      if (sharingRefusal(books, h, req, [later]) !== undefined) out.add(later);
  }
  return [...out].sort();
}

/** The holders of h that joined before key (all of them when key does not hold h). */
export function earlierHolders(h: Holding, key: string): string[] {
  const i = h.holders.indexOf(key);
  return i < 0 ? h.holders.filter((k) => k !== key) : h.holders.slice(0, i);
}

function firstClash(a: readonly ServicePort[], b: readonly ServicePort[]): ServicePort | undefined {
  return b.find((p) => a.some((q) => q.protocol === p.protocol && q.port === p.port));
}

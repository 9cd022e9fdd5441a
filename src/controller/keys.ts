// What the controller's work queue carries: a typed name of what to reconcile, never the
// event that caused it. Every reconcile reads the caches afresh, so the order and the kind of
// events do not matter.
export type WorkKey =
  /** One Service: its addresses, status, conditions and reports. */
  | { readonly kind: "service"; readonly namespace: string; readonly name: string }
  /** The set of pools: parse, validate, hand to the allocator. */
  | { readonly kind: "pools" }
  /** One pool's status subresource (counts and conditions). */
  | { readonly kind: "poolStatus"; readonly pool: string };

export const POOLS: WorkKey = { kind: "pools" };

export function serviceWork(namespace: string, name: string): WorkKey {
  return { kind: "service", namespace, name };
}

/** From a cache key ("namespace/name", what the allocator and the Service cache use). */
export function serviceWorkOf(key: string): WorkKey {
  const slash = key.indexOf("/");
  return serviceWork(key.slice(0, slash), key.slice(slash + 1));
}

export function poolStatusWork(pool: string): WorkKey {
  return { kind: "poolStatus", pool };
}

/** The queue's identity of a key (duplicates collapse on it). */
export function workId(key: WorkKey): string {
  switch (key.kind) {
    case "service":
      return `svc/${key.namespace}/${key.name}`;
    case "pools":
      return "pools";
    case "poolStatus":
      return `pool/${key.pool}`;
  }
}

/** The reconcile-duration metric's kind label (the values it has always had). */
export function workMetricKind(key: WorkKey): string {
  return key.kind === "service" ? "svc" : key.kind === "pools" ? "pools" : "pool";
}

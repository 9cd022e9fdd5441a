// An in-memory stand-in for the API server's side of the controller: stores
// that the controller reads, and writes that land in those stores the way a
// merge patch would, so steady state (no writes) can be checked.
import type { V1Namespace, V1Service } from "@kubernetes/client-node";
import pino from "pino";
import { Registry } from "prom-client";
import { Controller } from "../../src/controller/controller.js";
import { controllerMetrics } from "../../src/controller/metrics.js";
import type { Decision, PoolObject, Store } from "../../src/controller/ports.js";
import type { ConditionSource } from "../../src/controller/service-conditions.js";
import { FakeClock } from "../clock.js";

export class MapStore<T extends { metadata?: { name?: string; namespace?: string } }> implements Store<T> {
  readonly items = new Map<string, T>();
  get(key: string): T | undefined {
    return this.items.get(key);
  }
  list(): T[] {
    return [...this.items.values()];
  }
  put(obj: T): void {
    const ns = obj.metadata?.namespace;
    this.items.set(ns ? `${ns}/${obj.metadata?.name}` : (obj.metadata?.name ?? ""), obj);
  }
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function lbService(
  ns: string,
  name: string,
  extra: Partial<V1Service["spec"]> = {},
  annotations: Record<string, string> = {},
): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      namespace: ns,
      name,
      uid: `uid-${ns}-${name}`,
      annotations,
      creationTimestamp: new Date(Date.now()),
    },
    spec: { type: "LoadBalancer", ports: [{ port: 80, protocol: "TCP" }], ipFamilies: ["IPv4"], ...extra },
  };
}

export function poolObject(name: string, spec: unknown): PoolObject {
  return {
    apiVersion: "herald.dev/v1alpha1",
    kind: "IPAddressPool",
    metadata: { name, generation: 1 },
    spec,
  };
}

export function world(opts: { leader?: boolean; lbClass?: string } = {}) {
  const services = new MapStore<V1Service>();
  const namespaces = new MapStore<V1Namespace>();
  const pools = new MapStore<PoolObject>();
  const announcements = new MapStore<
    ConditionSource & { metadata?: { name?: string; namespace?: string } }
  >();
  const writes: string[] = [];
  /** Every write the controller sent, answered or failed ("svc ns/name", "pool name"). */
  const requests: string[] = [];
  /** Errors the next writes of a kind fail with, in order (the API refusing or unreachable). */
  const faults: { svc: unknown[]; pool: unknown[] } = { svc: [], pool: [] };
  /** An API that refuses some writes every time: returns the error for a patch, or undefined. */
  const refuse: { svc?: (patch: object) => unknown; pool?: (patch: object) => unknown } = {};
  const clock = new FakeClock();
  clock.stepWall(Date.parse("2026-01-01T00:00:00Z") - clock.wall());
  const events: string[] = [];
  const decisions: Decision[] = [];
  let leader = opts.leader ?? true;
  const registry = new Registry();
  let queueDepth = () => 0;
  const controller: Controller = new Controller({
    stores: { services, namespaces, pools, announcements },
    writes: {
      async patchServiceStatus(ns, name, patch) {
        requests.push(`svc ${ns}/${name}`);
        if (faults.svc.length > 0) throw faults.svc.shift();
        const refused = refuse.svc?.(patch);
        if (refused !== undefined) throw refused;
        writes.push(`svc ${ns}/${name}`);
        const cur = services.get(`${ns}/${name}`);
        if (!cur) return;
        const next = mergePatch(cur, patch) as V1Service;
        if (next.metadata?.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
          services.items.delete(`${ns}/${name}`); // the last finalizer of a deleted object: gone
        } else services.put(next);
        controller.serviceChanged(next); // as the informer would report it
      },
      async patchPoolStatus(name, patch) {
        requests.push(`pool ${name}`);
        if (faults.pool.length > 0) throw faults.pool.shift();
        const refused = refuse.pool?.(patch);
        if (refused !== undefined) throw refused;
        writes.push(`pool ${name}`);
        const cur = pools.get(name);
        if (!cur) return;
        pools.put(mergePatch(cur, patch) as PoolObject);
        controller.poolsChanged();
      },
      async event(target, type, reason, message) {
        events.push(
          `${target.kind} ${target.namespace ? `${target.namespace}/` : ""}${target.name} ${type} ${reason}: ${message}`,
        );
      },
    },
    decisions: { record: (d) => decisions.push(d) },
    metrics: controllerMetrics(registry, () => queueDepth()),
    log: pino({ level: "silent" }),
    isLeader: () => leader,
    clock,
    lbClass: opts.lbClass,
    workers: 4,
    poolStatusIntervalMs: 0,
  });
  queueDepth = () => controller.queue.depth;

  /** Applies a change the way informers would report it, and waits until the controller is done. */
  async function settle(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      await controller.queue.idle();
      await new Promise((r) => setImmediate(r));
      if (controller.queue.depth === 0) return;
    }
  }
  /** Lets ms pass on the controller's clock (retries, backoff) and waits until it is done. */
  async function advance(ms: number): Promise<void> {
    clock.advance(ms);
    await settle();
  }
  /** A metric's value for the series with these labels (0 when there is none). */
  async function counter(name: string, labels: Record<string, string>): Promise<number> {
    const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    const found = values.find((v) =>
      Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
    );
    return found?.value ?? 0;
  }
  function ingress(key: string): string[] {
    return (services.get(key)?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? "");
  }
  return {
    controller,
    services,
    namespaces,
    pools,
    announcements,
    writes,
    requests,
    faults,
    refuse,
    clock,
    events,
    decisions,
    registry,
    settle,
    advance,
    counter,
    ingress,
    setLeader: (v: boolean) => {
      leader = v;
    },
    async addService(svc: V1Service) {
      services.put(svc);
      controller.serviceChanged(svc);
      await settle();
    },
    /** As the API server deletes: at once, or only marked while finalizers remain. */
    async deleteService(key: string) {
      const svc = services.get(key);
      if (svc && (svc.metadata?.finalizers ?? []).length > 0) {
        const marked = { ...svc, metadata: { ...svc.metadata, deletionTimestamp: new Date(clock.wall()) } };
        services.put(marked);
        controller.serviceChanged(marked);
      } else {
        services.items.delete(key);
        if (svc) controller.serviceChanged(svc);
      }
      await settle();
    },
    async addPool(pool: PoolObject) {
      pools.put(pool);
      controller.poolsChanged();
      await settle();
    },
    async deletePool(name: string) {
      pools.items.delete(name);
      controller.poolsChanged();
      await settle();
    },
  };
}

/** A leading controller, warm-started and settled, with one pool "lan" over `addresses`. */
export async function startedWorld(addresses: string[]) {
  const w = world();
  w.pools.put(poolObject("lan", { addresses }));
  w.controller.start();
  await w.controller.warmStart();
  await w.settle();
  return w;
}

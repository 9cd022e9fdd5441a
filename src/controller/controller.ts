// The IPAM controller: level-triggered reconciles of Services and pools over
// the allocator. Keys only ever carry names ("svc/ns/name", "pools",
// "pool/name"); every reconcile reads the caches afresh, so the order and
// kind of events do not matter. Only the leader writes; on becoming leader it
// rebuilds the allocator from what Services' status says (warm start).
import type { V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { allocatorPools, GROUP, type PoolParse, VERSION, validatePools } from "../api/ipaddresspool.js";
import {
  allocatedPool,
  type IPMode,
  ignoresAddressConflicts,
  ingressAddresses,
  isHandled,
  serviceKey,
  statusPatch,
  toServiceRequest,
} from "../api/service.js";
import { Allocator, type Assignment, type AssignResult } from "../domain/allocator.js";
import type { ControllerMetrics } from "./metrics.js";
import { desiredPoolStatus, sameStatus, withTransitionTimes } from "./pool-status.js";
import type { ControllerStores, ControllerWrites, DecisionLog, EventTarget } from "./ports.js";
import { conflictConditionPatch } from "./service-conditions.js";
import { done, type Outcome, type Timers, WorkQueue } from "./workqueue.js";

export interface ControllerOptions {
  stores: ControllerStores;
  writes: ControllerWrites;
  decisions: DecisionLog;
  metrics: ControllerMetrics;
  log: Logger;
  isLeader: () => boolean;
  now: () => Date;
  timers: Timers;
  /** Handle only Services of this loadBalancerClass; undefined: only those without a class. */
  lbClass?: string | undefined;
  /** Set status.loadBalancer.ingress[].ipMode (API servers 1.29+ know the field). */
  ipMode?: IPMode | undefined;
  workers?: number;
  /** At most one status write per pool in this time (default 1000 ms): a burst of allocations is one write. */
  poolStatusIntervalMs?: number;
}

const SERVICE_API = "v1";
const POOL_API = `${GROUP}/${VERSION}`;

export class Controller {
  private allocator = new Allocator();
  private parses = new Map<string, PoolParse>();
  /** Services that asked and got nothing: retried whenever an address frees up. */
  private readonly pending = new Set<string>();
  /**
   * What was last reported per Service, once the API showed it: events, audit and metrics
   * follow from it, so a decision is said once per (uid, decision), also when a write is retried.
   */
  private readonly reported = new Map<string, Reported>();
  private readonly poolVerdicts = new Map<string, string>();
  /** Last annotation error said per Service (bounded by the Services handled). */
  private readonly annotationErrors = new Map<string, string>();
  /** The pool specs the allocator last saw: status-only updates of pools change nothing. */
  private poolSpecs = "";
  private readonly poolWrittenAt = new Map<string, number>();
  readonly queue: WorkQueue;
  private warmedUp = false;
  private readyFlag = false;
  /** Full passes completed while leading (0 on a standby). */
  private leaderPasses = 0;

  constructor(private readonly o: ControllerOptions) {
    this.queue = new WorkQueue((key) => this.reconcile(key), {
      workers: o.workers ?? 8,
      baseBackoffMs: 200,
      maxBackoffMs: 30_000,
      timers: o.timers,
      onProcessed: (key, ms, outcome) =>
        o.metrics.reconcileSeconds.observe({ kind: key.split("/")[0], outcome: outcome.kind }, ms / 1000),
    });
  }

  /** Ready once the first warm start and the full pass after it are done. */
  get ready(): boolean {
    return this.readyFlag;
  }

  start(): void {
    this.queue.start();
  }

  stop(): void {
    this.queue.stop();
  }

  // --- informer hooks ---------------------------------------------------------

  serviceChanged(svc: V1Service): void {
    this.queue.add(`svc/${serviceKey(svc)}`);
  }

  poolsChanged(): void {
    this.queue.add("pools");
  }

  /** A ServiceAnnouncement changed: its Service's conditions may have to follow. */
  announcementChanged(namespace: string, name: string): void {
    this.queue.add(`svc/${namespace}/${name}`);
  }

  namespaceChanged(name: string): void {
    for (const svc of this.o.stores.services.list()) {
      if (svc.metadata?.namespace === name) this.queue.add(`svc/${serviceKey(svc)}`);
    }
  }

  /**
   * Rebuilds the allocator from the caches: pools first, then every Service's
   * current addresses (oldest Service first, so it wins a conflict), and only
   * then queues everything for reconciling. Call when the caches have synced
   * and whenever this replica becomes leader.
   */
  async warmStart(): Promise<{ restored: number; conflicts: number }> {
    this.allocator = new Allocator();
    this.pending.clear();
    this.reported.clear();
    this.applyPools();
    const services = this.o.stores.services
      .list()
      .filter((s) => isHandled(s, this.o.lbClass) && ingressAddresses(s).length > 0)
      .sort(byAge);
    let restored = 0;
    let conflicts = 0;
    for (const svc of services) {
      const key = serviceKey(svc);
      const req = toServiceRequest(svc, this.namespaceLabels(svc));
      const r = this.allocator.restore(req, ingressAddresses(svc), allocatedPool(svc));
      if (r.assignment) {
        restored++;
        this.reported.set(key, {
          ref: ref(svc),
          signature: signature({ assignment: r.assignment, changed: false }),
          assignment: r.assignment,
        });
      }
      for (const c of r.conflicts) {
        conflicts++;
        this.o.log.warn({ key, reason: c.reason }, c.message);
        this.o.decisions.record({
          kind: "conflict-detected",
          service: ref(svc),
          addresses: ingressAddresses(svc),
          reason: c.reason,
          message: `at start: ${c.message}`,
        });
      }
    }
    this.warmedUp = true;
    for (const svc of this.o.stores.services.list()) this.queue.add(`svc/${serviceKey(svc)}`);
    for (const name of this.parses.keys()) this.queue.add(`pool/${name}`);
    this.o.log.info({ restored, conflicts, pools: this.parses.size }, "warm start");
    await this.queue.idle();
    this.readyFlag = true;
    if (this.o.isLeader()) this.leaderPasses++;
    return { restored, conflicts };
  }

  debugState(): object {
    const pools: Record<string, unknown> = {};
    for (const [name, parse] of this.parses) {
      const c = this.allocator.counts(name);
      pools[name] = {
        valid: parse.ok,
        ...(parse.ok ? {} : { errors: parse.errors }),
        counts: c && JSON.parse(JSON.stringify(c, (_k, v) => (typeof v === "bigint" ? v.toString() : v))),
      };
    }
    return {
      leader: this.o.isLeader(),
      ready: this.readyFlag,
      leaderPasses: this.leaderPasses,
      services: this.allocator.serviceCount,
      addresses: this.allocator.addressCount,
      pending: [...this.pending].sort(),
      queueDepth: this.queue.depth,
      pools,
    };
  }

  // --- reconcile ---------------------------------------------------------------

  private async reconcile(key: string): Promise<Outcome> {
    if (!this.o.isLeader() || !this.warmedUp) return done;
    const log = this.o.log.child({ key });
    if (key === "pools") return this.reconcilePools(log);
    if (key.startsWith("pool/")) return this.reconcilePoolStatus(key.slice(5));
    if (key.startsWith("svc/")) return this.reconcileService(key.slice(4), log);
    log.error("unknown work key");
    return done;
  }

  private reconcilePools(log: Logger): Outcome {
    if (this.poolSpecsKey() === this.poolSpecs) return done;
    const before = new Set(this.parses.keys());
    const displaced = this.applyPools();
    if (displaced.length > 0)
      log.info({ displaced: displaced.length }, "pools changed; moving Services whose addresses left them");
    for (const k of displaced) this.queue.add(`svc/${k}`);
    this.retryPending();
    for (const name of new Set([...before, ...this.parses.keys()])) this.queue.add(`pool/${name}`);
    return done;
  }

  /** Parses every pool, hands them to the allocator; returns the displaced Services. */
  private applyPools(): string[] {
    this.poolSpecs = this.poolSpecsKey();
    const objs = this.o.stores.pools.list();
    const parses = validatePools(objs);
    this.parses = new Map(parses.filter((p) => p.name !== "").map((p) => [p.name, p]));
    for (const p of parses) {
      const verdict = p.ok ? "" : JSON.stringify(p.errors);
      if ((this.poolVerdicts.get(p.name) ?? "") === verdict) continue;
      this.poolVerdicts.set(p.name, verdict);
      if (p.ok) continue;
      const message = p.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
      this.o.log.warn({ pool: p.name }, `invalid pool: ${message}`);
      this.event(
        { kind: "IPAddressPool", apiVersion: POOL_API, name: p.name },
        "Warning",
        "InvalidPool",
        message,
      );
      this.o.decisions.record({
        kind: "pool-invalid",
        addresses: [],
        pool: p.name,
        reason: "InvalidPool",
        message,
      });
    }
    return this.allocator.setPools(allocatorPools(parses));
  }

  private poolSpecsKey(): string {
    const specs = this.o.stores.pools.list().map((p) => [p.metadata?.name ?? "", p.spec]);
    return JSON.stringify(specs.sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  }

  private async reconcilePoolStatus(name: string): Promise<Outcome> {
    const obj = this.o.stores.pools.get(name);
    const parse = this.parses.get(name);
    if (obj === undefined || parse === undefined) return done;
    const counts = this.allocator.counts(name);
    for (const family of ["IPv4", "IPv6"] as const) {
      const c = counts?.[family];
      for (const state of ["total", "assigned", "available"] as const) {
        this.o.metrics.poolAddresses.set({ pool: name, family, state }, Number(c?.[state] ?? 0n));
      }
    }
    const generation = typeof obj.metadata?.generation === "number" ? obj.metadata.generation : undefined;
    const want = desiredPoolStatus(parse, counts, generation);
    if (sameStatus(want, obj.status)) return done;
    const current = (obj.status as { conditions?: [] } | undefined)?.conditions;
    const status = withTransitionTimes(
      want,
      current,
      this.o
        .now()
        .toISOString()
        .replace(/\.\d+Z$/, "Z"),
    );
    if (!this.o.isLeader()) return done;
    const now = this.o.now().getTime();
    const wait =
      (this.poolWrittenAt.get(name) ?? Number.NEGATIVE_INFINITY) +
      (this.o.poolStatusIntervalMs ?? 1000) -
      now;
    if (wait > 0) return { kind: "requeueAfter", ms: wait };
    this.poolWrittenAt.set(name, now);
    await this.o.writes.patchPoolStatus(name, { status });
    this.o.metrics.statusWrites.inc({ kind: "IPAddressPool" });
    return done;
  }

  private async reconcileService(key: string, log: Logger): Promise<Outcome> {
    const svc = this.o.stores.services.get(key);
    const before = this.allocator.assignmentOf(key);
    if (svc === undefined || !isHandled(svc, this.o.lbClass)) {
      this.pending.delete(key);
      this.annotationErrors.delete(key);
      if (before !== undefined) {
        this.allocator.release(key);
        this.afterRelease(before);
      }
      // Clear what Herald wrote earlier (its pool annotation marks it), never another implementation's status.
      if (svc !== undefined && allocatedPool(svc) !== undefined) await this.writeStatus(svc, undefined);
      this.reportGone(key, svc);
      return done;
    }

    const req = toServiceRequest(svc, this.namespaceLabels(svc));
    const result = this.allocator.assign(req);
    // Later holders of its address that may no longer share it move, not this Service.
    for (const k of result.displaced ?? []) this.queue.add(`svc/${k}`);
    const after = result.assignment;
    if (after === undefined) this.pending.add(key);
    else this.pending.delete(key);
    if (before !== undefined && !sameAddresses(before, after)) this.afterRelease(before);
    if (after !== undefined && after.pool !== before?.pool) this.queue.add(`pool/${after.pool}`);

    // Reported only once the API shows the decision: a failed write reports on its retry.
    await this.writeStatus(svc, after);
    this.report(svc, result, log);
    this.checkAnnotations(svc);
    const conditions = conflictConditionPatch(
      svc,
      this.o.stores.announcements?.get(key),
      rfc3339(this.o.now()),
    );
    if (conditions && this.o.isLeader()) {
      await this.o.writes.patchServiceStatus(
        svc.metadata?.namespace ?? "",
        svc.metadata?.name ?? "",
        conditions,
      );
      this.o.metrics.statusWrites.inc({ kind: "Service" });
    }
    return done;
  }

  /** The Service is gone or no longer Herald's (and its status says so): its last addresses are released. */
  private reportGone(key: string, svc: V1Service | undefined): void {
    const last = this.reported.get(key);
    this.reported.delete(key);
    if (last?.assignment === undefined) return;
    const same = svc !== undefined && (svc.metadata?.uid ?? "") === (last.ref.uid ?? "");
    this.released(last, same ? svc : undefined);
  }

  private released(last: Reported, svc: V1Service | undefined): void {
    const addresses = last.assignment?.addresses ?? [];
    const why =
      svc === undefined
        ? "the Service was deleted"
        : "the Service is no longer a LoadBalancer Herald handles";
    this.o.metrics.allocations.inc({ result: "released" });
    this.o.decisions.record({
      kind: "released",
      service: last.ref,
      addresses,
      ...(last.assignment ? { pool: last.assignment.pool } : {}),
      reason: "Released",
      message: why,
    });
    if (svc)
      this.event(serviceTarget(svc), "Normal", "IPReleased", `Released ${addresses.join(", ")}: ${why}`);
  }

  /** Annotations only the speakers act on are checked here, where a Warning event can say what is wrong. */
  private checkAnnotations(svc: V1Service): void {
    const key = serviceKey(svc);
    const error = ignoresAddressConflicts(svc).error ?? "";
    if ((this.annotationErrors.get(key) ?? "") === error) return;
    if (error) this.annotationErrors.set(key, error);
    else this.annotationErrors.delete(key);
    if (error) this.event(serviceTarget(svc), "Warning", "InvalidAnnotation", error);
  }

  private async writeStatus(svc: V1Service, assignment: Assignment | undefined): Promise<void> {
    const patch = statusPatch(svc, assignment, this.o.ipMode);
    if (patch.status === undefined || !this.o.isLeader()) return;
    await this.o.writes.patchServiceStatus(
      svc.metadata?.namespace ?? "",
      svc.metadata?.name ?? "",
      patch.status,
    );
    this.o.metrics.statusWrites.inc({ kind: "Service" });
  }

  /** Events, metrics and audit for a Service, once per (uid, decision), against what was last reported. */
  private report(svc: V1Service, result: AssignResult, log: Logger): void {
    const key = serviceKey(svc);
    const sig = signature(result);
    const uid = svc.metadata?.uid ?? "";
    let last = this.reported.get(key);
    if (last !== undefined && (last.ref.uid ?? "") !== uid) {
      // Deleted and created again between two reconciles: the old one's addresses went with it.
      if (last.assignment !== undefined) this.released(last, undefined);
      last = undefined;
    }
    if (last?.signature === sig) return;
    this.reported.set(key, { ref: ref(svc), signature: sig, assignment: result.assignment });
    const before = last?.assignment;
    const after = result.assignment;
    const target = serviceTarget(svc);
    const rv = svc.metadata?.resourceVersion;
    const base = { service: ref(svc), ...(rv ? { resourceVersion: rv } : {}) };
    if (after !== undefined && !sameAddresses(before, after)) {
      const shared = after.addresses.some((a) => this.allocator.holdersOf(a).length > 1);
      const kind = before === undefined ? (shared ? "shared" : "allocated") : "moved";
      const message =
        before === undefined
          ? `Assigned ${after.addresses.join(", ")} from pool ${after.pool}${shared ? " (shared)" : ""}`
          : `Moved from ${before.addresses.join(", ")} to ${after.addresses.join(", ")} (pool ${after.pool})`;
      this.o.metrics.allocations.inc({ result: kind === "moved" ? "moved" : "allocated" });
      this.o.decisions.record({
        ...base,
        kind,
        addresses: after.addresses,
        pool: after.pool,
        reason: kind,
        message,
      });
      log.info({ pool: after.pool, addresses: after.addresses }, message);
      this.event(target, "Normal", before === undefined ? "IPAllocated" : "IPMoved", message);
    }
    if (before !== undefined && after === undefined) {
      this.o.metrics.allocations.inc({ result: "released" });
      const message = `Released ${before.addresses.join(", ")}: ${result.refusal?.message ?? "no longer allowed"}`;
      log.info({ pool: before.pool, addresses: before.addresses }, message);
      this.o.decisions.record({
        ...base,
        kind: "released",
        addresses: before.addresses,
        pool: before.pool,
        reason: result.refusal?.reason ?? "Released",
        message,
      });
    }
    if (result.refusal !== undefined) {
      this.o.metrics.refusals.inc({ reason: result.refusal.reason });
      this.o.decisions.record({
        ...base,
        kind: "request-refused",
        addresses: after?.addresses ?? [],
        ...(after ? { pool: after.pool } : {}),
        reason: result.refusal.reason,
        message: result.refusal.message,
      });
      log.warn({ reason: result.refusal.reason }, result.refusal.message);
      this.event(target, "Warning", result.refusal.reason, result.refusal.message);
    }
  }

  private afterRelease(freed: Assignment): void {
    this.queue.add(`pool/${freed.pool}`);
    this.retryPending();
  }

  private retryPending(): void {
    for (const k of this.pending) this.queue.add(`svc/${k}`);
  }

  private namespaceLabels(svc: V1Service): Record<string, string> {
    const ns = svc.metadata?.namespace ?? "";
    return this.o.stores.namespaces.get(ns)?.metadata?.labels ?? { "kubernetes.io/metadata.name": ns };
  }

  /** Sends an event without waiting for it: events are worth neither a retry nor the reconcile's time. */
  private event(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): void {
    if (!this.o.isLeader()) return;
    this.o.writes.event(target, type, reason, message).catch((e: unknown) => {
      this.o.log.warn({ reason, err: String(e) }, "could not write event");
    });
  }
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}

interface Reported {
  readonly ref: { namespace: string; name: string; uid?: string };
  readonly signature: string;
  readonly assignment: Assignment | undefined;
}

function signature(r: AssignResult): string {
  return JSON.stringify([r.assignment ?? null, r.refusal?.reason ?? null, r.refusal?.message ?? null]);
}

function sameAddresses(a: Assignment | undefined, b: Assignment | undefined): boolean {
  return JSON.stringify(a?.addresses ?? []) === JSON.stringify(b?.addresses ?? []);
}

function byAge(a: V1Service, b: V1Service): number {
  const ta = String(a.metadata?.creationTimestamp ?? "");
  const tb = String(b.metadata?.creationTimestamp ?? "");
  if (ta !== tb) return new Date(ta).getTime() - new Date(tb).getTime();
  return serviceKey(a) < serviceKey(b) ? -1 : 1;
}

function ref(svc: V1Service): { namespace: string; name: string; uid?: string } {
  const uid = svc.metadata?.uid;
  return {
    namespace: svc.metadata?.namespace ?? "",
    name: svc.metadata?.name ?? "",
    ...(uid ? { uid } : {}),
  };
}

function serviceTarget(svc: V1Service): EventTarget {
  const uid = svc.metadata?.uid;
  return {
    kind: "Service",
    apiVersion: SERVICE_API,
    namespace: svc.metadata?.namespace ?? "",
    name: svc.metadata?.name ?? "",
    ...(uid ? { uid } : {}),
  };
}

// The IPAM controller: a work queue of typed keys and one reconciler per kind (Services,
// the pool set, pool status) over the allocator. Level-triggered: every reconcile reads
// the caches afresh. Only the leader writes; on becoming leader it rebuilds the allocator
// from what Services' status says (warm start) before deciding anything new.
import type { V1Service } from "@kubernetes/client-node";
import { allocatedPool, ingressAddresses, isHandled, serviceKey, toServiceRequest } from "../api/service.js";
import { canonicalAddress } from "../domain/address.js";
import type { Assignment } from "../domain/allocator.js";
import { codeOf, isRetryable } from "../errors.js";
import {
  type ControllerContext,
  type ControllerOptions,
  type DecisionState,
  freshState,
  namespaceLabels,
} from "./context.js";
import {
  POOLS,
  poolStatusWork,
  serviceWork,
  serviceWorkOf,
  type WorkKey,
  workId,
  workMetricKind,
} from "./keys.js";
import { PoolSetReconciler } from "./pool-set-reconciler.js";
import { PoolStatusReconciler } from "./pool-status-reconciler.js";
import type { EventTarget } from "./ports.js";
import { ServiceReconciler } from "./service-reconciler.js";
import { serviceRef } from "./service-reports.js";
import { done, type Outcome, WorkQueue } from "./workqueue.js";

export type { ControllerOptions } from "./context.js";

export class Controller {
  private decisions: DecisionState = freshState();
  readonly queue: WorkQueue<WorkKey>;
  private readonly services: ServiceReconciler;
  private readonly poolSet: PoolSetReconciler;
  private readonly poolStatus: PoolStatusReconciler;
  private warmedUp = false;
  private readyFlag = false;
  /** Full passes completed while leading (0 on a standby). */
  private leaderPasses = 0;

  constructor(private readonly o: ControllerOptions) {
    this.queue = new WorkQueue<WorkKey>((key) => this.reconcile(key), {
      workers: o.workers ?? 8,
      baseBackoffMs: 200,
      maxBackoffMs: 30_000,
      clock: o.clock,
      id: workId,
      onProcessed: (key, ms, outcome) =>
        o.metrics.reconcileSeconds.observe({ kind: workMetricKind(key), outcome: outcome.kind }, ms / 1000),
    });
    const ctx: ControllerContext = {
      o,
      state: () => this.decisions,
      enqueue: (key) => this.queue.add(key),
      event: (target, type, reason, message) => this.event(target, type, reason, message),
    };
    this.services = new ServiceReconciler(ctx);
    this.poolSet = new PoolSetReconciler(ctx);
    this.poolStatus = new PoolStatusReconciler(ctx);
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
    this.queue.add(serviceWork(svc.metadata?.namespace ?? "", svc.metadata?.name ?? ""));
  }

  poolsChanged(): void {
    this.queue.add(POOLS);
  }

  /** A ServiceAnnouncement changed: its Service's conditions may have to follow. */
  announcementChanged(namespace: string, name: string): void {
    this.queue.add(serviceWork(namespace, name));
  }

  namespaceChanged(name: string): void {
    for (const svc of this.o.stores.services.list()) {
      if (svc.metadata?.namespace === name) this.serviceChanged(svc);
    }
  }

  /**
   * Rebuilds the allocator from the caches: pools first, then every Service's
   * current addresses (oldest Service first, so it wins a conflict), and only
   * then queues everything for reconciling. Call when the caches have synced
   * and whenever this replica becomes leader.
   */
  async warmStart(): Promise<{ restored: number; conflicts: number }> {
    const state = freshState();
    this.decisions = state;
    this.services.reports.clear();
    this.poolSet.apply();
    const services = this.o.stores.services
      .list()
      .filter((s) => isHandled(s, this.o.lbClass) && ingressAddresses(s).length > 0)
      .sort(byAge);
    let restored = 0;
    let conflicts = 0;
    for (const svc of services) {
      const key = serviceKey(svc);
      const req = toServiceRequest(svc, namespaceLabels(this.o, svc));
      const r = state.allocator.restore(req, ingressAddresses(svc), allocatedPool(svc));
      if (r.assignment) restored++;
      // What the status shows counts as reported, also where it cannot be kept: the reconcile
      // then records its loss (released or moved), which the Service's watchers saw happen.
      const shown = shownAssignment(svc, r.assignment);
      if (shown) this.services.reports.restored(svc, shown);
      for (const c of r.conflicts) {
        conflicts++;
        this.o.log.warn({ key, reason: c.reason }, c.message);
        this.o.decisions.record({
          kind: "conflict-detected",
          service: serviceRef(svc),
          addresses: ingressAddresses(svc),
          reason: c.reason,
          message: `at start: ${c.message}`,
        });
      }
    }
    // No longer Herald's (type changed, another class) while its status still shows what Herald
    // gave it: clearing that is a release too.
    for (const svc of this.o.stores.services.list()) {
      if (isHandled(svc, this.o.lbClass) || allocatedPool(svc) === undefined) continue;
      const shown = shownAssignment(svc, undefined);
      if (shown) this.services.reports.restored(svc, shown);
    }
    this.warmedUp = true;
    for (const svc of this.o.stores.services.list()) this.queue.add(serviceWorkOf(serviceKey(svc)));
    for (const name of state.parses.keys()) this.queue.add(poolStatusWork(name));
    this.o.log.info({ restored, conflicts, pools: state.parses.size }, "warm start");
    await this.queue.idle();
    this.readyFlag = true;
    if (this.o.isLeader()) this.leaderPasses++;
    return { restored, conflicts };
  }

  debugState(): object {
    const { allocator, parses, pending } = this.decisions;
    const pools: Record<string, unknown> = {};
    for (const [name, parse] of parses) {
      const c = allocator.counts(name);
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
      services: allocator.serviceCount,
      addresses: allocator.addressCount,
      pending: [...pending].sort(),
      queueDepth: this.queue.depth,
      pools,
    };
  }

  private async reconcile(key: WorkKey): Promise<Outcome> {
    if (!this.o.isLeader() || !this.warmedUp) return done;
    const log = this.o.log.child({ key: workId(key) });
    switch (key.kind) {
      case "service":
        return this.services.reconcile(`${key.namespace}/${key.name}`, log);
      case "pools":
        return this.poolSet.reconcile(log);
      case "poolStatus":
        return this.poolStatus.reconcile(key.pool);
    }
  }

  private event(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): void {
    if (!this.o.isLeader()) return;
    // Events are never retried, whatever the error: the next occurrence writes it.
    this.o.writes.event(target, type, reason, message).catch((e: unknown) => {
      this.o.log.warn(
        { reason, code: codeOf(e), retryable: isRetryable(e), err: String(e) },
        "could not write event",
      );
    });
  }
}

function byAge(a: V1Service, b: V1Service): number {
  const ta = String(a.metadata?.creationTimestamp ?? "");
  const tb = String(b.metadata?.creationTimestamp ?? "");
  if (ta !== tb) return new Date(ta).getTime() - new Date(tb).getTime();
  return serviceKey(a) < serviceKey(b) ? -1 : 1;
}

/**
 * The addresses a Service's status shows (canonical, the readable ones), as an assignment: the
 * restored one when it kept them all (its family order), else what the status lists.
 */
function shownAssignment(svc: V1Service, restored: Assignment | undefined): Assignment | undefined {
  const addresses = ingressAddresses(svc).flatMap((a) => canonicalAddress(a) ?? []);
  if (addresses.length === 0) return undefined;
  const kept = new Set(restored?.addresses ?? []);
  if (restored && addresses.length === kept.size && addresses.every((a) => kept.has(a))) return restored;
  return { pool: restored?.pool ?? allocatedPool(svc) ?? "", addresses };
}

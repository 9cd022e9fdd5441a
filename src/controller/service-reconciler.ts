// One Service: the addresses the allocator decides for it, written to its status (and the
// pool annotation) when the API shows something else, then reported; the speakers' conflict
// condition mirrored onto it; annotations only the speakers read checked where a Warning event
// can say what is wrong.
import type { V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import {
  allocatedPool,
  ignoresAddressConflicts,
  isHandled,
  serviceKey,
  statusPatch,
  toServiceRequest,
} from "../api/service.js";
import type { Assignment } from "../domain/allocator.js";
import { type ControllerContext, namespaceLabels, wallTime } from "./context.js";
import { poolStatusWork, serviceWorkOf } from "./keys.js";
import { conflictConditionPatch } from "./service-conditions.js";
import { ServiceReports, sameAddresses, serviceTarget } from "./service-reports.js";
import { done, type Outcome } from "./workqueue.js";

export class ServiceReconciler {
  readonly reports: ServiceReports;
  /** Last annotation error said per Service (bounded by the Services handled). */
  private readonly annotationErrors = new Map<string, string>();

  constructor(private readonly ctx: ControllerContext) {
    this.reports = new ServiceReports(ctx);
  }

  async reconcile(key: string, log: Logger): Promise<Outcome> {
    const { o } = this.ctx;
    const state = this.ctx.state();
    const svc = o.stores.services.get(key);
    const before = state.allocator.assignmentOf(key);
    if (svc === undefined || !isHandled(svc, o.lbClass)) {
      state.pending.delete(key);
      this.annotationErrors.delete(key);
      if (before !== undefined) {
        state.allocator.release(key);
        this.afterRelease(before);
      }
      // Clear what Herald wrote earlier (its pool annotation marks it), never another implementation's status.
      if (svc !== undefined && allocatedPool(svc) !== undefined) await this.writeStatus(svc, undefined);
      this.reports.gone(key, svc);
      return done;
    }

    const req = toServiceRequest(svc, namespaceLabels(o, svc));
    const result = state.allocator.assign(req);
    // Later holders of its address that may no longer share it move, not this Service.
    for (const k of result.displaced ?? []) this.ctx.enqueue(serviceWorkOf(k));
    const after = result.assignment;
    if (after === undefined) state.pending.add(key);
    else state.pending.delete(key);
    if (before !== undefined && !sameAddresses(before, after)) this.afterRelease(before);
    if (after !== undefined && after.pool !== before?.pool) this.ctx.enqueue(poolStatusWork(after.pool));

    // Reported only once the API shows the decision: a failed write reports on its retry.
    await this.writeStatus(svc, after);
    this.reports.report(svc, result, log);
    this.checkAnnotations(svc);
    const conditions = conflictConditionPatch(svc, o.stores.announcements?.get(key), wallTime(o.clock));
    if (conditions && o.isLeader()) {
      await o.writes.patchServiceStatus(svc.metadata?.namespace ?? "", svc.metadata?.name ?? "", conditions);
      o.metrics.statusWrites.inc({ kind: "Service" });
    }
    return done;
  }

  /** Annotations only the speakers act on are checked here, where a Warning event can say what is wrong. */
  private checkAnnotations(svc: V1Service): void {
    const key = serviceKey(svc);
    const error = ignoresAddressConflicts(svc).error ?? "";
    if ((this.annotationErrors.get(key) ?? "") === error) return;
    if (error) this.annotationErrors.set(key, error);
    else this.annotationErrors.delete(key);
    if (error) this.ctx.event(serviceTarget(svc), "Warning", "InvalidAnnotation", error);
  }

  private async writeStatus(svc: V1Service, assignment: Assignment | undefined): Promise<void> {
    const { o } = this.ctx;
    const patch = statusPatch(svc, assignment, o.ipMode);
    if (patch.status === undefined || !o.isLeader()) return;
    await o.writes.patchServiceStatus(svc.metadata?.namespace ?? "", svc.metadata?.name ?? "", patch.status);
    o.metrics.statusWrites.inc({ kind: "Service" });
  }

  /** An address came free: its pool's counts change, and whoever waits for one may get it. */
  private afterRelease(freed: Assignment): void {
    this.ctx.enqueue(poolStatusWork(freed.pool));
    for (const k of this.ctx.state().pending) this.ctx.enqueue(serviceWorkOf(k));
  }
}

// One Service: the addresses the allocator decides for it, written to its status (and the
// pool annotation) when the API shows something else, then reported; the speakers' conflict
// condition mirrored onto it; annotations only the speakers read checked where a Warning event
// can say what is wrong.
import type { V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import {
  ANNOTATION,
  allocatedPool,
  finalizersPatch,
  hasFinalizer,
  ignoresAddressConflicts,
  isHandled,
  isTerminating,
  serviceKey,
  statusPatch,
  toServiceRequest,
} from "../api/service.js";
import type { Assignment } from "../domain/allocator.js";
import { type ControllerContext, namespaceLabels, wallTime } from "./context.js";
import { poolStatusWork, serviceWorkOf } from "./keys.js";
import { serviceConditionsPatch } from "./service-conditions.js";
import { ServiceReports, sameAddresses, serviceTarget } from "./service-reports.js";
import { done, type Outcome } from "./workqueue.js";
import {
  newRefusal,
  REFUSED_RETRY_MS,
  REJECTED_EVENT_REASON,
  type Refused,
  refusedAlready,
  terminalWriteFailure,
  type WriteFailure,
} from "./write-errors.js";

export class ServiceReconciler {
  readonly reports: ServiceReports;
  /** Status writes the API server refused for good, per Service (bounded by the Services handled). */
  private readonly refused = new Map<string, Refused>();
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
    if (svc !== undefined && isTerminating(svc)) {
      // Deleted: the addresses stay held until the finalizer is off, so that the release is
      // recorded before another Service can be given them.
      if (hasFinalizer(svc)) {
        const removed = await this.removeFinalizer(svc, log);
        if (removed === "refused") return { kind: "requeueAfter", ms: REFUSED_RETRY_MS };
        if (removed !== "removed") return done;
      }
      this.letGo(key, before);
      this.refused.delete(key);
      this.reports.gone(key, svc);
      return done;
    }
    if (svc === undefined || !isHandled(svc, o.lbClass)) {
      this.letGo(key, before);
      // Clear what Herald wrote earlier (its pool annotation marks it), never another implementation's status.
      const clear = svc !== undefined && allocatedPool(svc) !== undefined;
      if (svc === undefined || !clear || (await this.writeStatus(svc, undefined, log))) {
        this.reports.gone(key, svc);
        this.refused.delete(key);
      } else if (this.refused.has(key)) {
        await this.writeConditions(svc, log);
        return { kind: "requeueAfter", ms: REFUSED_RETRY_MS };
      }
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
    const written = await this.writeStatus(svc, after, log);
    if (written) this.reports.report(svc, result, log);
    this.checkAnnotations(svc);
    await this.writeConditions(svc, log);
    return this.refused.has(key) ? { kind: "requeueAfter", ms: REFUSED_RETRY_MS } : done;
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

  /**
   * Writes the status the assignment calls for; true once the API shows it. A retryable
   * failure throws (the queue retries); a terminal one is reported and answers false.
   */
  private async writeStatus(
    svc: V1Service,
    assignment: Assignment | undefined,
    log: Logger,
  ): Promise<boolean> {
    const { o } = this.ctx;
    const key = serviceKey(svc);
    const patch = statusPatch(svc, assignment, o.ipMode);
    const uid = svc.metadata?.uid ?? "";
    if (patch.status === undefined) {
      if (this.refused.get(key)?.uid === uid) this.refused.delete(key);
      return true;
    }
    if (!o.isLeader()) return false;
    const rv = svc.metadata?.resourceVersion ?? "";
    const last = this.refused.get(key);
    // Serialised only where a write was refused before: the common path stays as cheap as it was.
    if (last !== undefined && refusedAlready(last, uid, rv, JSON.stringify(patch.status), o.clock.now()))
      return false;
    const failure = await this.patchStatus(svc, patch.status, "the Service's status write");
    if (failure?.kind === "gone") return false;
    if (failure !== undefined) {
      log.warn(failure.log, failure.rejection.message);
      const want = JSON.stringify(patch.status);
      const at = o.clock.now();
      this.refused.set(key, { uid, resourceVersion: rv, want, rejection: failure.rejection, at });
      if (newRefusal(last, uid, failure.rejection))
        this.ctx.event(serviceTarget(svc), "Warning", REJECTED_EVENT_REASON, failure.rejection.message);
      return false;
    }
    this.refused.delete(key);
    return true;
  }

  /**
   * Takes Herald's finalizer (and the addresses) off a Service being deleted. A retryable failure throws (the queue
   * retries); "gone" means someone took it off by hand, and the deletion itself releases.
   */
  private async removeFinalizer(
    svc: V1Service,
    log: Logger,
  ): Promise<"removed" | "not-leader" | "gone" | "refused"> {
    const { o } = this.ctx;
    if (!o.isLeader()) return "not-leader";
    // The status is cleared with it: should another finalizer keep the Service a while longer,
    // it no longer shows the address that someone else may get now.
    const body = {
      metadata: { annotations: { [ANNOTATION.allocatedFromPool]: null }, ...finalizersPatch(svc, false) },
      status: { loadBalancer: { ingress: [] } },
    };
    const failure = await this.patchStatus(svc, body, "removing Herald's finalizer from the Service");
    if (failure === undefined) return "removed";
    if (failure.kind === "gone") return "gone";
    log.warn(failure.log, failure.rejection.message);
    this.ctx.event(serviceTarget(svc), "Warning", REJECTED_EVENT_REASON, failure.rejection.message);
    return "refused";
  }

  /** Herald's conditions on the Service: a speaker's address conflict, a refused status write. */
  private async writeConditions(svc: V1Service, log: Logger): Promise<void> {
    const { o } = this.ctx;
    const key = serviceKey(svc);
    const refused = this.refused.get(key);
    const rejection = refused?.uid === (svc.metadata?.uid ?? "") ? refused?.rejection : undefined;
    const announcement = o.stores.announcements?.get(key);
    const conditions = serviceConditionsPatch(svc, { announcement, rejection }, wallTime(o.clock));
    if (conditions === undefined || !o.isLeader()) return;
    const failure = await this.patchStatus(svc, conditions, "the Service's conditions");
    // Said once in the log; the status write's own refusal already has its event.
    if (failure?.kind === "rejected") log.warn(failure.log, failure.rejection.message);
  }

  /**
   * One write through the status subresource, counted when it lands. A retryable failure throws
   * (the queue retries); a terminal one is answered, for the caller to report its own way.
   */
  private async patchStatus(svc: V1Service, body: object, what: string): Promise<WriteFailure | undefined> {
    const { o } = this.ctx;
    try {
      await o.writes.patchServiceStatus(svc.metadata?.namespace ?? "", svc.metadata?.name ?? "", body);
    } catch (e) {
      return terminalWriteFailure(e, what);
    }
    o.metrics.statusWrites.inc({ kind: "Service" });
    return undefined;
  }

  /** The Service is no longer Herald's to serve: it waits for nothing, and what it held is free. */
  private letGo(key: string, held: Assignment | undefined): void {
    const state = this.ctx.state();
    state.pending.delete(key);
    this.annotationErrors.delete(key);
    if (held === undefined) return;
    state.allocator.release(key);
    this.afterRelease(held);
  }

  /** An address came free: its pool's counts change, and whoever waits for one may get it. */
  private afterRelease(freed: Assignment): void {
    this.ctx.enqueue(poolStatusWork(freed.pool));
    for (const k of this.ctx.state().pending) this.ctx.enqueue(serviceWorkOf(k));
  }
}

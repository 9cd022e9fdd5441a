// What a Service's decisions are told as: a Kubernetes event, an audit record, a metric and a
// log line. Derived from state, not from edges: the reconciler calls report() once the API
// shows the decision, and what was last reported per Service (with its uid) decides what is
// new, so each (uid, decision) is said once, however often a write failed and was retried.
import type { V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { isTerminating, serviceKey } from "../api/service.js";
import type { Assignment, AssignResult } from "../domain/allocator.js";
import type { ControllerContext } from "./context.js";
import type { EventTarget } from "./ports.js";

type ServiceRef = { namespace: string; name: string; uid?: string };

interface Reported {
  readonly ref: ServiceRef;
  readonly signature: string;
  readonly assignment: Assignment | undefined;
}

export class ServiceReports {
  /** By Service key; bounded by the Services handled (gone ones are dropped). */
  private readonly reported = new Map<string, Reported>();

  constructor(private readonly ctx: ControllerContext) {}

  clear(): void {
    this.reported.clear();
  }

  /** At warm start: what the Service's status shows was reported by whoever wrote it. */
  restored(svc: V1Service, assignment: Assignment): void {
    this.reported.set(serviceKey(svc), {
      ref: serviceRef(svc),
      signature: signature({ assignment, changed: false }),
      assignment,
    });
  }

  /** The Service is gone or being deleted, or no longer Herald's and its status says so: its last addresses are released. */
  gone(key: string, svc: V1Service | undefined): void {
    const last = this.reported.get(key);
    this.reported.delete(key);
    if (last?.assignment === undefined) return;
    const same = svc !== undefined && (svc.metadata?.uid ?? "") === (last.ref.uid ?? "");
    this.released(last, same ? svc : undefined);
  }

  /** The decision for svc, now that the API shows it. */
  report(svc: V1Service, result: AssignResult, log: Logger): void {
    const { o } = this.ctx;
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
    this.reported.set(key, { ref: serviceRef(svc), signature: sig, assignment: result.assignment });
    const before = last?.assignment;
    const after = result.assignment;
    const target = serviceTarget(svc);
    const rv = svc.metadata?.resourceVersion;
    const base = { service: serviceRef(svc), ...(rv ? { resourceVersion: rv } : {}) };
    if (after !== undefined && !sameAddresses(before, after)) {
      const allocator = this.ctx.state().allocator;
      const shared = after.addresses.some((a) => allocator.holdersOf(a).length > 1);
      const kind = before === undefined ? (shared ? "shared" : "allocated") : "moved";
      const message =
        before === undefined
          ? `Assigned ${after.addresses.join(", ")} from pool ${after.pool}${shared ? " (shared)" : ""}`
          : `Moved from ${before.addresses.join(", ")} to ${after.addresses.join(", ")} (pool ${after.pool})`;
      o.metrics.allocations.inc({ result: kind === "moved" ? "moved" : "allocated" });
      o.decisions.record({
        ...base,
        kind,
        addresses: after.addresses,
        pool: after.pool,
        reason: kind,
        message,
      });
      log.info({ pool: after.pool, addresses: after.addresses }, message);
      this.ctx.event(target, "Normal", before === undefined ? "IPAllocated" : "IPMoved", message);
    }
    if (before !== undefined && after === undefined) {
      o.metrics.allocations.inc({ result: "released" });
      const message = `Released ${before.addresses.join(", ")}: ${result.refusal?.message ?? "no longer allowed"}`;
      log.info({ pool: before.pool, addresses: before.addresses }, message);
      o.decisions.record({
        ...base,
        kind: "released",
        addresses: before.addresses,
        pool: before.pool,
        reason: result.refusal?.reason ?? "Released",
        message,
      });
    }
    if (result.refusal !== undefined) {
      o.metrics.refusals.inc({ reason: result.refusal.reason });
      o.decisions.record({
        ...base,
        kind: "request-refused",
        addresses: after?.addresses ?? [],
        ...(after ? { pool: after.pool } : {}),
        reason: result.refusal.reason,
        message: result.refusal.message,
      });
      log.warn({ reason: result.refusal.reason }, result.refusal.message);
      this.ctx.event(target, "Warning", result.refusal.reason, result.refusal.message);
    }
  }

  private released(last: Reported, svc: V1Service | undefined): void {
    const { o } = this.ctx;
    const addresses = last.assignment?.addresses ?? [];
    const why =
      svc === undefined || isTerminating(svc)
        ? "the Service was deleted"
        : "the Service is no longer a LoadBalancer Herald handles";
    o.metrics.allocations.inc({ result: "released" });
    o.decisions.record({
      kind: "released",
      service: last.ref,
      addresses,
      ...(last.assignment ? { pool: last.assignment.pool } : {}),
      reason: "Released",
      message: why,
    });
    if (svc)
      this.ctx.event(serviceTarget(svc), "Normal", "IPReleased", `Released ${addresses.join(", ")}: ${why}`);
  }
}

function signature(r: AssignResult): string {
  return JSON.stringify([r.assignment ?? null, r.refusal?.reason ?? null, r.refusal?.message ?? null]);
}

export function sameAddresses(a: Assignment | undefined, b: Assignment | undefined): boolean {
  return JSON.stringify(a?.addresses ?? []) === JSON.stringify(b?.addresses ?? []);
}

export function serviceRef(svc: V1Service): ServiceRef {
  const uid = svc.metadata?.uid;
  return {
    namespace: svc.metadata?.namespace ?? "",
    name: svc.metadata?.name ?? "",
    ...(uid ? { uid } : {}),
  };
}

export function serviceTarget(svc: V1Service): EventTarget {
  return { kind: "Service", apiVersion: "v1", ...serviceRef(svc) };
}

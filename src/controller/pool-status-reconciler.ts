// One IPAddressPool's status subresource: the counts and conditions desiredPoolStatus says,
// written only when they differ from what the API shows, and at most once per interval per
// pool (a burst of allocations is one write). Also keeps the pool's address gauges. A write the
// API refuses for good becomes a Warning event and a StatusWritten=False condition, not a retry.
import { GROUP, VERSION } from "../api/ipaddresspool.js";
import { type ControllerContext, wallTime } from "./context.js";
import { desiredPoolStatus, type PoolStatus, sameStatus, withTransitionTimes } from "./pool-status.js";
import { validReason } from "./service-conditions.js";
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

const POOL_API = `${GROUP}/${VERSION}`;

export class PoolStatusReconciler {
  /** Monotonic time of the last write per pool (bounded by the pools there are and were). */
  private readonly writtenAt = new Map<string, number>();
  /** Status writes the API server refused for good, per pool. */
  private readonly refused = new Map<string, Refused>();

  constructor(private readonly ctx: ControllerContext) {}

  async reconcile(name: string): Promise<Outcome> {
    const { o } = this.ctx;
    const state = this.ctx.state();
    const obj = o.stores.pools.get(name);
    const parse = state.parses.get(name);
    if (obj === undefined || parse === undefined) {
      this.writtenAt.delete(name);
      this.refused.delete(name);
      return done;
    }
    const counts = state.allocator.counts(name);
    for (const family of ["IPv4", "IPv6"] as const) {
      const c = counts?.[family];
      for (const s of ["total", "assigned", "available"] as const) {
        o.metrics.poolAddresses.set({ pool: name, family, state: s }, Number(c?.[s] ?? 0n));
      }
    }
    const generation = typeof obj.metadata?.generation === "number" ? obj.metadata.generation : undefined;
    const want = desiredPoolStatus(parse, counts, generation);
    if (sameStatus(want, obj.status)) return done;
    const current = (obj.status as { conditions?: [] } | undefined)?.conditions;
    const status = withTransitionTimes(want, current, wallTime(o.clock));
    if (!o.isLeader()) return done;
    const now = o.clock.now();
    const wait =
      (this.writtenAt.get(name) ?? Number.NEGATIVE_INFINITY) + (o.poolStatusIntervalMs ?? 1000) - now;
    if (wait > 0) return { kind: "requeueAfter", ms: wait };
    const uid = obj.metadata?.uid ?? "";
    const rv = obj.metadata?.resourceVersion ?? "";
    const last = this.refused.get(name);
    if (last !== undefined && refusedAlready(last, uid, rv, JSON.stringify(want), now))
      return { kind: "requeueAfter", ms: last.at + REFUSED_RETRY_MS - now };
    this.writtenAt.set(name, now);
    try {
      await o.writes.patchPoolStatus(name, { status });
    } catch (e) {
      const failure = terminalWriteFailure(e, "the pool's status write");
      if (failure.kind !== "rejected") return done;
      await this.rejected(name, status, last, failure, { uid, rv, wanted: JSON.stringify(want) });
      return { kind: "requeueAfter", ms: REFUSED_RETRY_MS };
    }
    this.refused.delete(name);
    o.metrics.statusWrites.inc({ kind: "IPAddressPool" });
    return done;
  }

  /** A Warning event (once per refusal) and a StatusWritten=False condition, if the API takes that much. */
  private async rejected(
    name: string,
    status: PoolStatus,
    last: Refused | undefined,
    failure: Extract<WriteFailure, { kind: "rejected" }>,
    at: { uid: string; rv: string; wanted: string },
  ): Promise<void> {
    const { o } = this.ctx;
    const { rejection } = failure;
    const log = o.log.child({ pool: name });
    log.warn(failure.log, rejection.message);
    this.refused.set(name, {
      uid: at.uid,
      resourceVersion: at.rv,
      want: at.wanted,
      rejection,
      at: o.clock.now(),
    });
    if (!newRefusal(last, at.uid, rejection)) return;
    this.ctx.event(
      { kind: "IPAddressPool", apiVersion: POOL_API, name },
      "Warning",
      REJECTED_EVENT_REASON,
      rejection.message,
    );
    const condition = {
      type: "StatusWritten",
      status: "False" as const,
      reason: validReason(rejection.reason) ?? "Rejected",
      message: rejection.message,
      lastTransitionTime: wallTime(o.clock),
    };
    try {
      await o.writes.patchPoolStatus(name, { status: { conditions: [...status.conditions, condition] } });
    } catch (e) {
      const again = terminalWriteFailure(e, "the pool's StatusWritten condition");
      if (again.kind === "rejected") log.warn(again.log, again.rejection.message);
    }
  }
}

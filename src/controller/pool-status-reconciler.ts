// One IPAddressPool's status subresource: the counts and conditions desiredPoolStatus says,
// written only when they differ from what the API shows, and at most once per interval per
// pool (a burst of allocations is one write). Also keeps the pool's address gauges.
import { type ControllerContext, wallTime } from "./context.js";
import { desiredPoolStatus, sameStatus, withTransitionTimes } from "./pool-status.js";
import { done, type Outcome } from "./workqueue.js";

export class PoolStatusReconciler {
  /** Monotonic time of the last write per pool (bounded by the pools there are and were). */
  private readonly writtenAt = new Map<string, number>();

  constructor(private readonly ctx: ControllerContext) {}

  async reconcile(name: string): Promise<Outcome> {
    const { o } = this.ctx;
    const state = this.ctx.state();
    const obj = o.stores.pools.get(name);
    const parse = state.parses.get(name);
    if (obj === undefined || parse === undefined) {
      this.writtenAt.delete(name);
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
    this.writtenAt.set(name, now);
    await o.writes.patchPoolStatus(name, { status });
    o.metrics.statusWrites.inc({ kind: "IPAddressPool" });
    return done;
  }
}

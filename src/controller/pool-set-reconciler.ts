// The set of IPAddressPools: parsed and validated together (overlaps are between pools),
// handed to the allocator as one. Services whose addresses left every pool, or whose pool no
// longer allows them, are queued to move; invalid pools are reported once per verdict.
import type { Logger } from "pino";
import { allocatorPools, GROUP, VERSION, validatePools } from "../api/ipaddresspool.js";
import type { ControllerContext } from "./context.js";
import { poolStatusWork, serviceWorkOf } from "./keys.js";
import { done, type Outcome } from "./workqueue.js";

const POOL_API = `${GROUP}/${VERSION}`;

export class PoolSetReconciler {
  /** The pool specs the allocator last saw: status-only updates of pools change nothing. */
  private specs = "";
  /** Last verdict said per pool (bounded by the pools there are and were). */
  private readonly verdicts = new Map<string, string>();

  constructor(private readonly ctx: ControllerContext) {}

  reconcile(log: Logger): Outcome {
    if (this.specsKey() === this.specs) return done;
    const state = this.ctx.state();
    const before = new Set(state.parses.keys());
    const displaced = this.apply();
    if (displaced.length > 0)
      log.info({ displaced: displaced.length }, "pools changed; moving Services whose addresses left them");
    for (const k of displaced) this.ctx.enqueue(serviceWorkOf(k));
    for (const k of state.pending) this.ctx.enqueue(serviceWorkOf(k));
    for (const name of new Set([...before, ...state.parses.keys()])) this.ctx.enqueue(poolStatusWork(name));
    return done;
  }

  /** Parses every pool, hands them to the allocator; returns the displaced Services. */
  apply(): string[] {
    const { o } = this.ctx;
    const state = this.ctx.state();
    this.specs = this.specsKey();
    const parses = validatePools(o.stores.pools.list());
    state.parses = new Map(parses.filter((p) => p.name !== "").map((p) => [p.name, p]));
    for (const name of this.verdicts.keys()) if (!state.parses.has(name)) this.verdicts.delete(name);
    for (const p of parses) {
      const verdict = p.ok ? "" : JSON.stringify(p.errors);
      if ((this.verdicts.get(p.name) ?? "") === verdict) continue;
      this.verdicts.set(p.name, verdict);
      if (p.ok) continue;
      const message = p.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
      o.log.warn({ pool: p.name }, `invalid pool: ${message}`);
      this.ctx.event(
        { kind: "IPAddressPool", apiVersion: POOL_API, name: p.name },
        "Warning",
        "InvalidPool",
        message,
      );
      o.decisions.record({
        kind: "pool-invalid",
        addresses: [],
        pool: p.name,
        reason: "InvalidPool",
        message,
      });
    }
    return state.allocator.setPools(allocatorPools(parses));
  }

  private specsKey(): string {
    const specs = this.ctx.o.stores.pools.list().map((p) => [p.metadata?.name ?? "", p.spec]);
    return JSON.stringify(specs.sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  }
}

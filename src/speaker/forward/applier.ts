// Keeps the kernel's tables (`inet herald` and the handover tables) equal to the desired
// ForwardingState and the handover window.
//
// - Every change is one `nft -f -` transaction: the incremental update when the last
//   applied ruleset is known, otherwise the whole ruleset (delete + define, atomic).
// - Updates are coalesced: the first one after a quiet spell waits `coalesceMs`, and
//   everything that arrives meanwhile rides along, so a burst is a handful of transactions.
// - A failed transaction is reported and retried with exponential backoff, always as a
//   full replacement (the kernel state is then unknown).
// - Unless the kernel refuses it for one Service's sake (a value the API server accepts but
//   nft does not): then the Services to blame are found with `nft -c` (isolate.ts), everything
//   else is applied at once, and each refused Service is reported and left out until its own
//   backoff ends; then it is checked alone first, so a Service that is still refused costs
//   one small check, not a search. One tenant's Service never stalls the others' forwarding.
// - A takeover or handover (`handover`, the window of handover-window.ts) is applied at once,
//   without waiting to coalesce, in the same kind of transaction: the wiring awaits it before
//   announcing a takeover.
// - Drift (drift.ts): every `driftIntervalMs` the chain names are listed, and every
//   `driftFullEvery`-th time each table's shape is compared with what was applied. A missing
//   or altered table is replaced whole.
// - After a transaction, conntrack forgets what it made stale (stale.ts): UDP flows to targets
//   that went, and entries of a new frontend's address and port that went untranslated
//   before its rules were in. An endpoint that leaves a Cluster Service's NodePort has its
//   unanswered TCP connections forgotten, on every node, at once and a few times after.
// - Nothing is written before the first update(), so a restarting speaker does not wipe
//   the rules it left behind before it knows the desired state; when it has, it writes
//   the same rules again and conntrack keeps the established connections on their
//   translated path (NAT is decided once per connection).

import { type Clock, systemClock } from "../../clock.js";
import {
  type ApplierDeps,
  type ApplierOptions,
  type ApplierStats,
  type ApplyMode,
  defaultApplierOptions,
  type ForwardingEvent,
  type RefusedService,
} from "./applier-options.js";
import { checkDrift } from "./drift.js";
import { HandoverWindow } from "./handover-window.js";
import { isolateRefused } from "./isolate.js";
import { type NftExec, nftExec } from "./nft.js";
import { renderRemoval, renderTable, renderUpdate } from "./render.js";
import { type BuildMemo, buildRuleset } from "./ruleset.js";
import { type Ruleset, tableName } from "./ruleset-model.js";
import {
  conntrackDeleteArgs,
  conntrackGoneTargetArgs,
  conntrackListSynSentArgs,
  conntrackSynSentArgs,
  conntrackUntranslatedArgs,
  goneNodePortEndpoints,
  goneTcpTargets,
  MAX_UNTRANSLATED_CLEANUPS,
  nodePortEndpointKey,
  staleUdpFlows,
  strayNodePortEntries,
  untranslatedFlows,
} from "./stale.js";
import {
  type ForwardingState,
  type Frontend,
  type NodePortEndpoint,
  newPlanMemo,
  type PlanMemo,
  planForwarding,
} from "./state.js";

/**
 * A gone NodePort endpoint's unanswered connections are forgotten this long after it left, each
 * time: kube-proxy follows the same EndpointSlices but translates to the endpoint until its next
 * sync (seconds, longer after an API server outage), and the entries made meanwhile are as stale.
 */
export const FORGET_GONE_AFTER_MS: readonly number[] = [0, 2_000, 10_000, 60_000];

export class ForwardingApplier {
  private readonly exec: NftExec;
  private readonly conntrack: NftExec;
  /** Frontends of the last applied plan; null when unknown (start, failure). */
  private appliedFrontends: Frontend[] | null = null;
  private readonly clock: Clock;
  /** The last update's NodePort endpoints, and the timers forgetting those that left. */
  private nodePortEndpoints: readonly NodePortEndpoint[] = [];
  private readonly forgetTimers = new Set<unknown>();
  /** Whether the entries left by endpoints that went before this applier started were looked for. */
  private swept = false;
  private readonly onEvent: (event: ForwardingEvent) => void;
  private readonly options: ApplierOptions;
  private desired: ForwardingState | null = null;
  private dirty = false;
  /** What the kernel holds after our last successful transaction; null: unknown. */
  private applied: Ruleset | null = null;
  private timer: unknown = null;
  private driftTimer: unknown = null;
  private running: Promise<void> | null = null;
  private attempt = 0;
  private started = false;
  private stopped = false;
  private generation = 0;
  private driftChecks = 0;
  private waiters: Array<() => void> = [];
  private readonly planMemo: PlanMemo = newPlanMemo();
  private readonly buildMemo: BuildMemo = { parts: new Map() };
  /** By Service name; only Services of the desired state (bounded by it). */
  private readonly refused = new Map<string, RefusedService>();
  /** What the pending timer is for: settled() waits for a sync, not for a retry. */
  private timerKind: "sync" | "retry" | "refused" = "sync";
  /** A handover change waits for the next sync: it runs at once. */
  private urgent = false;
  /** The window's version the running sync read. */
  private handoverRead = 0;
  private readonly nodeMacs: () => readonly string[];
  /** Takeovers and handovers of the window; each change is applied at once. */
  readonly handover: HandoverWindow;
  readonly stats: ApplierStats = {
    transactions: { full: 0, update: 0 },
    failures: 0,
    driftRepairs: 0,
    lastDurationMs: null,
  };

  constructor(deps: ApplierDeps = {}) {
    this.exec = deps.exec ?? nftExec();
    this.conntrack = deps.conntrack ?? nftExec(["conntrack"]);
    this.clock = deps.clock ?? systemClock;
    this.onEvent = deps.onEvent ?? (() => {});
    this.options = { ...defaultApplierOptions, ...deps.options };
    this.nodeMacs = deps.nodeMacs ?? (() => []);
    this.handover = new HandoverWindow({
      clock: this.clock,
      windowMs: this.options.handoverWindowMs,
      onChange: () => this.handoverChanged(),
      applying: () => this.started && this.desired !== null && !this.stopped,
    });
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    if (this.dirty) this.schedule(this.options.coalesceMs);
    this.scheduleDriftCheck();
  }

  /** The new desired state; applied soon, together with whatever else arrives meanwhile. */
  update(state: ForwardingState): void {
    if (this.stopped) return;
    const endpoints = state.nodePortEndpoints ?? [];
    const gone = goneNodePortEndpoints(this.nodePortEndpoints, endpoints);
    this.nodePortEndpoints = endpoints;
    if (gone.length > 0) this.forgetGone(gone.slice(0, MAX_UNTRANSLATED_CLEANUPS));
    if (!this.swept && endpoints.length > 0) {
      this.swept = true;
      void this.sweepStray();
    }
    this.desired = state;
    this.dirty = true;
    if (this.started && !this.running) this.schedule(this.options.coalesceMs);
  }

  /**
   * Applied now, not after the coalescing delay (a takeover waits for it), also when a retry
   * is pending. Before the first update nothing is written: the next one carries it.
   */
  private handoverChanged(): void {
    if (this.stopped || !this.desired) return;
    this.dirty = true;
    this.urgent = true;
    if (!this.started || this.running) return;
    this.cancel();
    this.startSync();
  }

  /** Runs a sync after the current turn (changes made in the same turn ride along). */
  private startSync(): void {
    const run: Promise<void> = Promise.resolve()
      .then(() => this.sync())
      .finally(() => {
        if (this.running !== run) return;
        this.running = null;
        this.handover.tried(this.stopped ? Number.POSITIVE_INFINITY : this.handoverRead);
        // A handover change that came after the sync's last look.
        if (this.urgent && this.dirty && !this.stopped && this.timer === null) this.startSync();
      });
    this.running = run;
  }

  /**
   * Resolves once the latest update has been tried and nothing is queued behind it
   * (a scheduled retry after a failure does not count: it may be far away).
   */
  async settled(): Promise<void> {
    for (;;) {
      if (this.running) await this.running;
      else if (this.timer !== null && this.timerKind === "sync")
        await new Promise<void>((r) => this.waiters.push(r));
      else return;
    }
  }

  /**
   * Stops applying, and removes the handover tables. `inet herald` stays unless
   * `removeTable`: a speaker that restarts or hands over keeps forwarding until the next
   * owner (or its own successor) takes over.
   */
  async stop(options: { removeTable?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.cancel();
    for (const t of this.forgetTimers) this.clock.clearTimeout(t);
    this.forgetTimers.clear();
    this.handover.stop();
    if (this.driftTimer !== null) this.clock.clearTimeout(this.driftTimer);
    this.driftTimer = null;
    await this.settled();
    this.handover.tried(Number.POSITIVE_INFINITY);
    // Unknown after a failed transaction: removed to be sure.
    const handover = this.applied ? this.applied.handover.length > 0 : this.generation > 0;
    if (options.removeTable || handover) {
      const r = await this.run(["-f", "-"], renderRemoval(tableName, { keepTable: !options.removeTable }));
      if (r.code === 0) {
        this.applied = null;
        this.onEvent({ type: "removed" });
      } else {
        this.stats.failures++;
        this.onEvent({
          type: "applyFailed",
          code: "NFT_APPLY_FAILED",
          mode: "full",
          attempt: 1,
          retryInMs: 0,
          message: r.stderr.trim(),
        });
      }
    }
  }

  private cancel(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Services whose rules the kernel refused, with why; they are not in the table. */
  refusedServices(): ReadonlyMap<string, Readonly<RefusedService>> {
    return this.refused;
  }

  private schedule(ms: number, kind: "sync" | "retry" | "refused" = "sync"): void {
    // A change arriving while only a refused Service's retry is pending is applied now.
    if (this.timer !== null && this.timerKind === "refused" && kind !== "refused") this.cancel();
    if (this.timer !== null || this.stopped) return;
    this.timerKind = kind;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.timerKind = "sync";
      this.startSync();
      for (const w of this.waiters.splice(0)) w();
    }, ms);
  }

  private run(args: string[], stdin?: string) {
    return this.runWith(this.exec, args, stdin);
  }

  private async runWith(exec: NftExec, args: string[], stdin?: string) {
    try {
      return await exec(args, stdin);
    } catch (e) {
      return { code: -1, stdout: "", stderr: e instanceof Error ? e.message : String(e) };
    }
  }

  private async sync(): Promise<void> {
    if (this.stopped || !this.desired) return;
    const state = { ...this.desired, handover: this.handover.state(this.nodeMacs()) };
    this.handoverRead = this.handover.version;
    this.dirty = false;
    this.urgent = false;
    const plan = planForwarding(state, this.planMemo);
    const now = this.clock.now();
    // A Service that is gone is forgotten. A changed one waits for its backoff all the same:
    // otherwise its owner could make every node search again at the pace of its endpoints.
    const present = new Set(plan.frontends.map((f) => f.service));
    for (const name of this.refused.keys()) if (!present.has(name)) this.refused.delete(name);
    const waiting = new Set([...this.refused].filter(([, r]) => r.retryAt > now).map(([n]) => n));
    const due = new Set([...this.refused.keys()].filter((n) => !waiting.has(n)));
    if (due.size > 0) {
      const again = await this.isolate(
        plan.frontends.filter((f) => due.has(f.service)),
        now,
      );
      for (const name of again) waiting.add(name);
    }
    let frontends = plan.frontends.filter((f) => !waiting.has(f.service));
    let next = buildRuleset({ ...plan, frontends }, this.buildMemo);
    let mode: ApplyMode = "full";
    let text = renderTable(next);
    if (this.applied) {
      const update = renderUpdate(this.applied, next);
      if (update !== null) {
        mode = "update";
        text = update;
      }
    }
    this.generation++;
    if (text === "") {
      this.applied = next;
    } else {
      const t0 = this.clock.now();
      let r = await this.run(["-f", "-"], text);
      if (r.code !== 0) {
        const found = await this.isolate(frontends, now);
        if (found.size > 0) {
          frontends = frontends.filter((f) => !found.has(f.service));
          next = buildRuleset({ ...plan, frontends }, this.buildMemo);
          mode = "full";
          r = await this.run(["-f", "-"], renderTable(next));
        }
      }
      const durationMs = this.clock.now() - t0;
      if (r.code !== 0) {
        this.applied = null;
        this.appliedFrontends = null;
        this.stats.failures++;
        this.attempt++;
        const retryInMs = Math.min(
          this.options.retryInitialMs * 2 ** (this.attempt - 1),
          this.options.retryMaxMs,
        );
        this.dirty = true;
        this.onEvent({
          type: "applyFailed",
          code: "NFT_APPLY_FAILED",
          mode,
          attempt: this.attempt,
          retryInMs,
          message: r.stderr.trim() || `nft exited with ${r.code}`,
        });
        // A handover change that came in meanwhile is tried at once; only it waits for nothing.
        if (this.urgent) this.startSync();
        else this.schedule(retryInMs, "retry");
        return;
      }
      this.applied = next;
      this.attempt = 0;
      if (this.appliedFrontends) {
        const untranslated = untranslatedFlows(this.appliedFrontends, frontends);
        if (untranslated.length > MAX_UNTRANSLATED_CLEANUPS)
          this.onEvent({
            type: "untranslatedNotForgotten",
            frontends: untranslated.length - MAX_UNTRANSLATED_CLEANUPS,
          });
        await this.forget([
          ...staleUdpFlows(this.appliedFrontends, frontends).map(conntrackDeleteArgs),
          ...goneTcpTargets(this.appliedFrontends, frontends)
            .slice(0, MAX_UNTRANSLATED_CLEANUPS)
            .map(conntrackGoneTargetArgs),
          ...untranslated.slice(0, MAX_UNTRANSLATED_CLEANUPS).map(conntrackUntranslatedArgs),
        ]);
      }
      this.appliedFrontends = frontends;
      this.stats.transactions[mode]++;
      this.stats.lastDurationMs = durationMs;
    }
    // What is in the table now was accepted: a refused Service tried again is back.
    const applied = new Set(frontends.map((f) => f.service));
    for (const name of [...this.refused.keys()]) {
      if (!applied.has(name)) continue;
      this.refused.delete(name);
      this.onEvent({ type: "serviceRestored", service: name });
    }
    if (text !== "")
      this.onEvent({
        type: "applied",
        mode,
        durationMs: this.stats.lastDurationMs ?? 0,
        frontends: frontends.length,
        problems: plan.problems,
      });
    if (this.dirty && this.urgent) this.startSync();
    else if (this.dirty) this.schedule(this.options.coalesceMs);
    else if (this.refused.size > 0) {
      const at = Math.min(...[...this.refused.values()].map((r) => r.retryAt));
      this.dirty = true;
      this.schedule(Math.max(0, at - this.clock.now()), "refused");
    }
  }

  /** Finds the Services the kernel refuses and records them; empty when none is to blame. */
  private async isolate(frontends: Frontend[], now: number): Promise<Set<string>> {
    const names = [...new Set(frontends.map((f) => f.service))];
    const found = await isolateRefused(names, (subset) => {
      const only = new Set(subset);
      const table = buildRuleset({ frontends: frontends.filter((f) => only.has(f.service)), problems: [] });
      return this.run(["-c", "-f", "-"], renderTable(table));
    });
    for (const [service, message] of found.refused) {
      const before = this.refused.get(service);
      const attempt = (before?.attempt ?? 0) + 1;
      const retryInMs = Math.min(
        this.options.refusedRetryInitialMs * 2 ** (attempt - 1),
        this.options.refusedRetryMaxMs,
      );
      this.refused.set(service, {
        message,
        attempt,
        since: before?.since ?? now,
        retryAt: now + retryInMs,
      });
      this.onEvent({
        type: "serviceRefused",
        code: "NFT_SERVICE_REFUSED",
        service,
        attempt,
        retryInMs,
        message,
      });
    }
    return new Set(found.refused.keys());
  }

  /** Forgets the unanswered connections to endpoints that left, unless they are back by then. */
  private forgetGone(gone: readonly NodePortEndpoint[]): void {
    for (const delay of FORGET_GONE_AFTER_MS) {
      const timer: unknown = this.clock.setTimeout(() => {
        this.forgetTimers.delete(timer);
        if (this.stopped) return;
        const back = new Set(this.nodePortEndpoints.map(nodePortEndpointKey));
        void this.forget(gone.filter((e) => !back.has(nodePortEndpointKey(e))).map(conntrackSynSentArgs));
      }, delay);
      this.forgetTimers.add(timer);
    }
  }

  /**
   * Once, at the first NodePort endpoints: an endpoint that went while this speaker was down
   * (killed, restarting) left its unanswered connections behind, and no update will say it left.
   * They are found in the table and forgotten as if it had just gone.
   */
  private async sweepStray(): Promise<void> {
    const stray: NodePortEndpoint[] = [];
    for (const family of [4, 6] as const) {
      const r = await this.runWith(this.conntrack, conntrackListSynSentArgs(family));
      if (this.stopped) return;
      if (r.code !== 0) {
        this.onEvent({ type: "conntrackFailed", code: "CONNTRACK_FAILED", message: r.stderr.trim() });
        continue;
      }
      stray.push(...strayNodePortEntries(r.stdout, this.nodePortEndpoints));
    }
    if (stray.length > 0) this.forgetGone(stray.slice(0, MAX_UNTRANSLATED_CLEANUPS));
  }

  /** Runs `conntrack` once per argument list (stale.ts says which entries and why). */
  private async forget(deletions: string[][]): Promise<void> {
    for (const args of deletions) {
      const r = await this.runWith(this.conntrack, args);
      // conntrack exits 1 when there was nothing to delete.
      if (r.code !== 0 && !/0 flow entries/.test(r.stderr)) {
        this.onEvent({ type: "conntrackFailed", code: "CONNTRACK_FAILED", message: r.stderr.trim() });
      }
    }
  }

  private scheduleDriftCheck(): void {
    if (this.options.driftIntervalMs <= 0 || this.stopped) return;
    this.driftTimer = this.clock.setTimeout(() => {
      this.driftTimer = null;
      void this.checkDrift().finally(() => this.scheduleDriftCheck());
    }, this.options.driftIntervalMs);
  }

  /** Compares the kernel's tables with the last applied ruleset; repairs a difference. */
  private async checkDrift(): Promise<void> {
    const applied = this.applied;
    if (!applied || this.running || this.timer !== null || this.stopped) return;
    const generation = this.generation;
    const full = ++this.driftChecks % Math.max(1, this.options.driftFullEvery) === 0;
    const r = await checkDrift((args) => this.run(args), applied, full);
    if (generation !== this.generation || this.running || this.timer !== null || this.stopped) return;
    if (r.kind === "failed") {
      this.onEvent({ type: "driftCheckFailed", code: "NFT_LIST_FAILED", message: r.message });
      return;
    }
    if (r.kind === "ok") return;
    this.stats.driftRepairs++;
    this.applied = null;
    this.dirty = true;
    this.onEvent({ type: "driftDetected", reason: r.reason });
    this.schedule(0);
  }
}

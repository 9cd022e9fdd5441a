// The tcp-prober's books for one address:port: probes start in order and finish in any order (a
// refusal returns at once, a timeout only TIMEOUT_MS later), but each outcome belongs to its start
// time, and an outage is a stretch of consecutive failures in start order. Outcomes are therefore
// taken from the front of the queue of open probes only, so memory stays within the probes open at
// once (TIMEOUT_MS / INTERVAL_MS). Pure: times come in as arguments.
import type { Outage, ProbeTarget } from "./model.js";

export const TIMEOUT = "TIMEOUT";

export interface Probe {
  readonly start: number;
  /** undefined while open; "" for a success, else the failure's code. */
  outcome: string | undefined;
  /** Ends the probe's connection (it expired, or its target ended while it was open). */
  readonly abort: () => void;
}

export class TargetLedger {
  private readonly open: Probe[] = [];
  private readonly okPerSecond: number[] = [];
  private readonly failedPerSecond: number[] = [];
  private ok = 0;
  private failed = 0;
  private outage: Outage | undefined;
  private endMs: number | undefined;

  constructor(
    readonly address: string,
    readonly port: number,
    readonly fromMs: number,
    private readonly timeoutMs: number,
    private readonly onOutage: (o: Outage) => void,
  ) {}

  get ended(): boolean {
    return this.endMs !== undefined;
  }

  begin(start: number, abort: () => void): Probe {
    const probe: Probe = { start, outcome: undefined, abort };
    if (!this.ended) this.open.push(probe);
    return probe;
  }

  /** A probe's connection answered at `at`: connected (`error` undefined) or failed with a code. */
  settle(probe: Probe, at: number, error?: string): void {
    if (probe.outcome !== undefined || this.ended) return;
    // Connected, but later than the timeout allows: a failure all the same.
    probe.outcome = error ?? (at - probe.start > this.timeoutMs ? TIMEOUT : "");
    this.drain();
  }

  /** Probes open for the whole timeout at `now` fail with TIMEOUT; their connections are ended. */
  expire(now: number): void {
    if (this.ended) return;
    for (const p of this.open) {
      if (p.start + this.timeoutMs > now) break;
      if (p.outcome === undefined) {
        p.outcome = TIMEOUT;
        p.abort();
      }
    }
    this.drain();
  }

  /**
   * Probing stops at `at`: probes open then count neither way (their connections are ended), an
   * open outage closes at `at`. Returns the target's totals.
   */
  end(at: number): ProbeTarget {
    if (this.endMs === undefined) {
      this.expire(at);
      for (const p of this.open.splice(0)) {
        if (p.outcome === undefined) p.abort();
        else this.apply(p);
      }
      this.endMs = at;
      if (this.outage) {
        this.onOutage({ ...this.outage, toMs: at });
        this.outage = undefined;
      }
    }
    const toMs = this.endMs;
    const seconds = Math.max(this.okPerSecond.length, Math.ceil((toMs - this.fromMs) / 1000));
    const pad = (a: number[]) => Array.from({ length: seconds }, (_, i) => a[i] ?? 0);
    return {
      address: this.address,
      port: this.port,
      fromMs: this.fromMs,
      toMs,
      probes: this.ok + this.failed,
      ok: this.ok,
      okPerSecond: pad(this.okPerSecond),
      failedPerSecond: pad(this.failedPerSecond),
    };
  }

  private drain(): void {
    while (this.open[0]?.outcome !== undefined) this.apply(this.open.shift() as Probe);
  }

  private apply(p: Probe): void {
    const second = Math.max(0, Math.floor((p.start - this.fromMs) / 1000));
    const bins = p.outcome === "" ? this.okPerSecond : this.failedPerSecond;
    for (let i = bins.length; i <= second; i++) bins.push(0);
    bins[second] = (bins[second] ?? 0) + 1;
    if (p.outcome === "") {
      this.ok++;
      if (this.outage) {
        this.onOutage({ ...this.outage, toMs: p.start });
        this.outage = undefined;
      }
      return;
    }
    const code = p.outcome as string;
    this.failed++;
    this.outage ??= {
      address: this.address,
      port: this.port,
      fromMs: p.start,
      toMs: p.start,
      failures: 0,
      errors: {},
    };
    this.outage.failures++;
    this.outage.errors[code] = (this.outage.errors[code] ?? 0) + 1;
  }
}

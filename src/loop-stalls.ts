// Notices when this process's event loop ran late, and says why. A late loop delays everything a
// speaker does on time (heartbeats, ARP replies, the handover), so peers may take its addresses;
// the operator needs to know whether to give the process CPU, memory or a fix.
//
// A timer ticks every `tickMs`; when it runs more than `boundMs` late, the time since the last tick
// is split by what the kernel and V8 counted meanwhile:
// - gc: V8's pauses took most of it (the heap is too big or too full);
// - starved: the main thread was runnable but waited for a CPU (/proc/self/schedstat), i.e. the
//   node is oversubscribed or the container's CPU is too low;
// - busy: the process itself was running (synchronous work on the loop);
// - blocked: neither running nor waiting for a CPU (a synchronous syscall, page faults, SIGSTOP).
import type { Clock } from "./clock.js";

/** Cumulative counters at one moment, all in ms. `waitMs` is undefined off Linux. */
export interface LoopSample {
  cpuMs: number;
  waitMs: number | undefined;
  gcMs: number;
}

export type StallCause = "gc" | "starved" | "busy" | "blocked";

export interface Stall {
  /** How much later than planned the tick ran. */
  lateMs: number;
  cpuMs: number;
  waitMs: number | undefined;
  gcMs: number;
  cause: StallCause;
}

/** Pure: what took at least half of the lateness names the cause. */
export function classifyStall(lateMs: number, from: LoopSample, to: LoopSample): Stall {
  const cpuMs = Math.max(0, to.cpuMs - from.cpuMs);
  const gcMs = Math.max(0, to.gcMs - from.gcMs);
  const waitMs =
    to.waitMs === undefined || from.waitMs === undefined ? undefined : Math.max(0, to.waitMs - from.waitMs);
  // Waiting for a CPU comes first: a GC pause or a piece of work measured in wall time grows by
  // the time the thread waited meanwhile.
  const half = lateMs / 2;
  const cause: StallCause =
    (waitMs ?? 0) >= half ? "starved" : gcMs >= half ? "gc" : cpuMs - gcMs >= half ? "busy" : "blocked";
  return { lateMs, cpuMs, waitMs, gcMs, cause };
}

export interface LoopStallsOptions {
  clock: Clock;
  sample: () => LoopSample;
  onStall: (stall: Stall) => void;
  /** Default 50 ms. */
  tickMs?: number;
  /** A tick later than this is a stall (default 200 ms). */
  boundMs?: number;
}

export class LoopStalls {
  private timer: unknown;
  private last: { at: number; sample: LoopSample } | undefined;

  constructor(private readonly o: LoopStallsOptions) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.last = { at: this.o.clock.now(), sample: this.o.sample() };
    this.schedule();
  }

  stop(): void {
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const tick = this.o.tickMs ?? 50;
    this.timer = this.o.clock.setTimeout(() => {
      const at = this.o.clock.now();
      const sample = this.o.sample();
      const last = this.last ?? { at, sample };
      const late = at - last.at - tick;
      this.last = { at, sample };
      if (late > (this.o.boundMs ?? 200)) this.o.onStall(classifyStall(late, last.sample, sample));
      this.schedule();
    }, tick);
  }
}

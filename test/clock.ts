// A Clock for tests: time moves only when the test says so, and timers run in time order.
import type { Clock } from "../src/clock.js";

export class FakeClock implements Clock {
  /** Where the wall clock stands when now() is 0 (2025-11-22). */
  static readonly EPOCH = 1_763_780_000_000;
  private time = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now() {
    return this.time;
  }
  private wallOffset = 0;
  /** The wall clock (ms since the epoch), moving with now(). */
  readonly wall = () => FakeClock.EPOCH + this.wallOffset + this.time;
  /** Steps the wall clock alone (an NTP step); the monotonic clock does not move. */
  stepWall(ms: number) {
    this.wallOffset += ms;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown) {
    this.timers.delete(handle as number);
  }
  /** Runs every timer due up to now + ms, in time order (ties in creation order). */
  advance(ms: number) {
    const end = this.time + ms;
    while (this.runNext(end));
    this.time = end;
  }
  /**
   * advance() for code that awaits between timers: lets pending promises settle before each
   * timer and at the end, so work a timer starts (an exec, a sync) finishes in time order.
   */
  async advanceAsync(ms: number) {
    const end = this.time + ms;
    do await settle();
    while (this.runNext(end));
    this.time = end;
    await settle();
  }
  /**
   * A stalled event loop: time moves on by `ms` and no timer runs; the next advance runs the
   * overdue ones late, at the time it is then.
   */
  stall(ms: number) {
    this.time += ms;
  }
  /** Runs the first timer due by `end`, moving time to it (never back); false when none is due. */
  private runNext(end: number): boolean {
    const next = [...this.timers.entries()]
      .filter(([, t]) => t.at <= end)
      .sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
    if (!next) return false;
    this.timers.delete(next[0]);
    this.time = Math.max(this.time, next[1].at);
    next[1].fn();
    return true;
  }
  pending() {
    return this.timers.size;
  }
}

/** One turn of the event loop: promises and I/O callbacks queued so far have run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

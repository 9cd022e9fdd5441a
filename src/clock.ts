// Time as a dependency. Every component that reads the time or sets a timer takes a Clock, so
// tests drive it with a fake one (test/clock.ts) and never sleep for real.
export interface Clock {
  /** Monotonic milliseconds (fractional): durations and timers. */
  now(): number;
  /** Wall-clock milliseconds since the epoch: timestamps that leave the process. */
  wall(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Wall-clock time in nanoseconds. The wall clock has millisecond resolution; the monotonic clock
 * supplies the digits below it, re-anchored to the wall clock whenever the two drift apart by
 * more than a millisecond (NTP steps, suspend).
 */
export function nanoseconds(clock: Clock): () => bigint {
  const wallNs = () => BigInt(Math.trunc(clock.wall())) * 1_000_000n;
  let anchorWall = wallNs();
  let anchorMono = clock.now();
  return () => {
    const wall = wallNs();
    const estimate = anchorWall + BigInt(Math.round((clock.now() - anchorMono) * 1e6));
    const drift = estimate - wall;
    if (drift < -1_000_000n || drift > 1_000_000n) {
      anchorWall = wall;
      anchorMono = clock.now();
      return wall;
    }
    return estimate;
  };
}

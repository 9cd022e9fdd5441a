// Wall-clock time in nanoseconds. Date.now() has millisecond resolution; the
// monotonic clock supplies the digits below it, re-anchored to the wall clock
// whenever the two drift apart by more than a millisecond (NTP steps, suspend).
export interface Clock {
  nowNs(): bigint;
}

export function systemClock(): Clock {
  let anchorWallNs = BigInt(Date.now()) * 1_000_000n;
  let anchorMono = process.hrtime.bigint();
  return {
    nowNs() {
      const wallMs = Date.now();
      const estimate = anchorWallNs + (process.hrtime.bigint() - anchorMono);
      const driftNs = estimate - BigInt(wallMs) * 1_000_000n;
      if (driftNs < -1_000_000n || driftNs > 1_000_000n) {
        anchorWallNs = BigInt(wallMs) * 1_000_000n;
        anchorMono = process.hrtime.bigint();
        return anchorWallNs;
      }
      return estimate;
    },
  };
}

// Addresses whose RFC 5227 probe found a foreign host: held back, and probed again with
// exponential backoff (1 s doubling to 5 minutes, with jitter) until the probe passes, so one
// reply from any host (or one probe of its own) never keeps an address away for good. The
// jitter keeps the speakers of many held-back addresses from probing in step.

export interface HeldBack {
  /** The MAC of the host that answered (or probed) last. */
  mac: string;
  /** Probes that found it in use, in a row. */
  attempts: number;
  /** Clock time of the next probe. */
  nextProbeAt: number;
}

export interface RetryClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const PROBE_RETRY_BASE_MS = 1000;
export const PROBE_RETRY_CAP_MS = 300_000;

/** The wait before probe number `attempts + 1`, given a random number in [0, 1): ±20 % jitter. */
export function probeRetryDelay(attempts: number, random: number): number {
  const plain = Math.min(PROBE_RETRY_CAP_MS, PROBE_RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(plain * (0.8 + 0.4 * random));
}

export class ProbeRetry {
  private readonly held = new Map<string, HeldBack & { timer: unknown; waiting: boolean }>();

  constructor(
    private readonly clock: RetryClock,
    private readonly random: () => number = Math.random,
  ) {}

  /** The probe of `address` found `mac`: hold it back and call `probe` after the backoff. */
  conflict(address: string, mac: string, probe: () => void): void {
    const before = this.held.get(address);
    if (before?.waiting) {
      // Another link's probe of the same round: one backoff step per round.
      before.mac = mac;
      return;
    }
    const attempts = (before?.attempts ?? 0) + 1;
    const wait = probeRetryDelay(attempts, this.random());
    const entry = {
      mac,
      attempts,
      nextProbeAt: this.clock.now() + wait,
      waiting: true,
      timer: undefined as unknown,
    };
    entry.timer = this.clock.setTimeout(() => {
      if (this.held.get(address) !== entry) return;
      entry.waiting = false;
      probe();
    }, wait);
    this.held.set(address, entry);
  }

  /** The address is free now, or no longer this node's to probe: forget it. */
  forget(address: string): boolean {
    const h = this.held.get(address);
    if (!h) return false;
    this.clock.clearTimeout(h.timer);
    this.held.delete(address);
    return true;
  }

  has(address: string): boolean {
    return this.held.has(address);
  }

  /** Held-back addresses (no more than the addresses this node was elected for). */
  current(): ReadonlyMap<string, HeldBack> {
    const out = new Map<string, HeldBack>();
    for (const [a, { mac, attempts, nextProbeAt }] of this.held) out.set(a, { mac, attempts, nextProbeAt });
    return out;
  }

  stop(): void {
    for (const a of [...this.held.keys()]) this.forget(a);
  }
}

// How often a conflict is worth a log line and an audit row. Conflict reports come from frames
// anyone on the LAN can send, as fast as they like and from as many MACs as they like: the same
// (address, MAC) is reported once per window, and each address has a small token bucket of
// reports on top (which bounds a host that rotates MACs). What is held back is counted and
// said with the next report. Every map is bounded; the clock comes in with each call.

export interface ConflictLimits {
  /** The same (address, MAC) is reported at most once in this time (default 60 s). */
  windowMs?: number;
  /** Reports per address before its bucket runs dry (default 5). */
  burst?: number;
  /** One more report per address this often (default 60 s). */
  refillMs?: number;
  /** MACs remembered per address (default 16). */
  maxMacs?: number;
  /** Addresses remembered (default 4096). */
  maxAddresses?: number;
}

export type ConflictVerdict = { report: false } | { report: true; suppressed: number };

interface AddressState {
  /** MAC -> when it was last reported. */
  macs: Map<string, number>;
  tokens: number;
  refilledAt: number;
  suppressed: number;
}

export class ConflictReports {
  private readonly addresses = new Map<string, AddressState>();
  private readonly windowMs: number;
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly maxMacs: number;
  private readonly maxAddresses: number;

  constructor(limits: ConflictLimits = {}) {
    this.windowMs = limits.windowMs ?? 60_000;
    this.burst = limits.burst ?? 5;
    this.refillMs = limits.refillMs ?? 60_000;
    this.maxMacs = limits.maxMacs ?? 16;
    this.maxAddresses = limits.maxAddresses ?? 4096;
  }

  /** One conflict heard at `now` (ms): report it, or count it for the next report. */
  observe(address: string, mac: string, now: number): ConflictVerdict {
    let s = this.addresses.get(address);
    if (s) this.addresses.delete(address);
    else s = { macs: new Map(), tokens: this.burst, refilledAt: now, suppressed: 0 };
    this.addresses.set(address, s);
    if (this.addresses.size > this.maxAddresses)
      this.addresses.delete(this.addresses.keys().next().value as string);

    const refills = Math.floor((now - s.refilledAt) / this.refillMs);
    if (refills > 0) {
      s.tokens = Math.min(this.burst, s.tokens + refills);
      s.refilledAt += refills * this.refillMs;
    }
    const last = s.macs.get(mac);
    if ((last !== undefined && now - last < this.windowMs) || s.tokens === 0) {
      s.suppressed++;
      return { report: false };
    }
    if (s.tokens === this.burst) s.refilledAt = now;
    s.tokens--;
    s.macs.delete(mac);
    s.macs.set(mac, now);
    if (s.macs.size > this.maxMacs) s.macs.delete(s.macs.keys().next().value as string);
    const suppressed = s.suppressed;
    s.suppressed = 0;
    return { report: true, suppressed };
  }
}

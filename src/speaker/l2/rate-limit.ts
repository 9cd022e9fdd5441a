// Bounds the work that input from the wire can cost the main thread: a token bucket per source
// (a MAC for ARP/NDP, an address and port for heartbeats) and one for all sources together
// (random source addresses), checked before anything is decoded or authenticated. The table of
// sources is bounded: the least recently heard source is forgotten first, which only gives it a
// full bucket again, and the global bucket still bounds the total. Trusted sources (the known
// peers' addresses) skip the global bucket, so a flood from made-up sources cannot drown them.

export interface Bucket {
  perSecond: number;
  burst: number;
}

export interface InputLimits {
  perSource: Bucket;
  global: Bucket;
  maxSources: number;
}

/** Why input was refused: its source is over its rate, or all sources together are. */
export type LimitReason = "source" | "global";

interface State {
  tokens: number;
  at: number;
}

function refill(s: State, b: Bucket, now: number): void {
  if (now > s.at) s.tokens = Math.min(b.burst, s.tokens + ((now - s.at) * b.perSecond) / 1000);
  s.at = now;
}

export class SourceLimiter<K> {
  private readonly sources = new Map<K, State>();
  private readonly all: State;

  constructor(private readonly limits: InputLimits) {
    this.all = { tokens: limits.global.burst, at: Number.NEGATIVE_INFINITY };
  }

  /** Takes one token for `source` at `now` (ms); undefined when allowed, else why not. */
  take(source: K, now: number, trusted = false): LimitReason | undefined {
    let s = this.sources.get(source);
    if (s) this.sources.delete(source);
    else {
      s = { tokens: this.limits.perSource.burst, at: now };
      if (this.sources.size >= this.limits.maxSources) {
        const oldest = this.sources.keys().next();
        if (!oldest.done) this.sources.delete(oldest.value);
      }
    }
    // Re-inserted: the map's order is the order sources were last heard in.
    this.sources.set(source, s);
    refill(s, this.limits.perSource, now);
    if (s.tokens < 1) return "source";
    if (!trusted) {
      refill(this.all, this.limits.global, now);
      if (this.all.tokens < 1) return "global";
      this.all.tokens -= 1;
    }
    s.tokens -= 1;
    return undefined;
  }

  /** Sources remembered now (at most maxSources). */
  get size(): number {
    return this.sources.size;
  }
}

/**
 * ARP/NDP per source MAC. The busiest legitimate source is a router that keeps entries for many
 * Service addresses fresh: about one request per address per 30 s, 170/s for 5,000 addresses, in
 * bursts after a failover moved many at once. A flood from many MACs is cut at the global bound,
 * a few percent of one core of decoding.
 */
export const L2_LIMITS: InputLimits = {
  perSource: { perSecond: 1000, burst: 2000 },
  global: { perSecond: 5000, burst: 10_000 },
  maxSources: 4096,
};

/**
 * Heartbeats per source address and port. A peer sends at most one per 20 ms tick to one node
 * (50/s; 10/s at the fast interval), so 100/s with a burst of 200 is twice the most a speaker can
 * send. Unknown sources together (a node not yet known, or a flood) get 200/s; the known peers
 * are not counted against that.
 */
export const HEARTBEAT_LIMITS: InputLimits = {
  perSource: { perSecond: 100, burst: 200 },
  global: { perSecond: 200, burst: 400 },
  maxSources: 1024,
};

// Whether a peer whose heartbeats are missing is alive all the same: a pure record of the other
// evidence, with time passed in. Heartbeats can be lost while everything else works (a firewall
// on the heartbeat port); both sides then answer for the same address until something settles
// it. A frame on the wire proves nothing (any LAN host can send one with a speaker's MAC), so a
// silent peer counts alive only with two pieces of evidence together:
//  - its per-node Lease, which only it can write through the authenticating API server, seen
//    renewed after its heartbeats went missing (by local receipt time, a margin past the last
//    heartbeat, so that a renewal in flight when its cable was cut does not count), and recently;
//  - a claim for a Service address heard from its MAC recently, which proves its LAN link works
//    (a node with a cut LAN cable and a working API path must still be failed over).
// A spoofer can give only the second, a node cut off the LAN only the first.

export interface SilentPeersOptions {
  /** How long a claim heard from a silent peer counts (default 3000 ms). */
  claimEvidenceMs?: number;
  /** How long a Lease renewal counts (default 25 s: more than two of the slow renewals). */
  leaseEvidenceMs?: number;
  /** A renewal counts only when received this long after the last heartbeat (default 2000 ms). */
  leaseMarginMs?: number;
}

export class SilentPeers {
  readonly claimMs: number;
  readonly leaseMs: number;
  readonly marginMs: number;
  /** Node -> when a claim from it was last heard while its heartbeats were missing. */
  private readonly claims = new Map<string, number>();
  /** Node -> when a renewal of its Lease was last received. */
  private readonly leases = new Map<string, number>();

  constructor(o: SilentPeersOptions = {}) {
    this.claimMs = o.claimEvidenceMs ?? 3000;
    this.leaseMs = o.leaseEvidenceMs ?? 25_000;
    this.marginMs = o.leaseMarginMs ?? 2000;
  }

  claimed(node: string, now: number): void {
    this.claims.set(node, now);
  }

  leaseRenewed(node: string, now: number): void {
    this.leases.set(node, now);
  }

  /** Nodes that gave some evidence (the only ones alive() can be true for). */
  nodes(): IterableIterator<string> {
    return this.claims.keys();
  }

  /** Keeps only these nodes, so the records stay bounded by the cluster. */
  retain(nodes: ReadonlySet<string>): void {
    for (const map of [this.claims, this.leases])
      for (const node of [...map.keys()]) if (!nodes.has(node)) map.delete(node);
  }

  /** Claimed on the wire within the last `ms`. */
  claimedWithin(node: string, now: number, ms: number): boolean {
    const at = this.claims.get(node);
    return at !== undefined && now - at <= ms;
  }

  /** Its Lease was renewed within the last `ms` (whenever its heartbeats stopped). */
  leaseWithin(node: string, now: number, ms: number): boolean {
    const at = this.leases.get(node);
    return at !== undefined && now - at <= ms;
  }

  /** Its Lease proves it alive: renewed after `lastHeartbeat` (undefined: none remembered), recently. */
  leaseProves(node: string, now: number, lastHeartbeat: number | undefined): boolean {
    const at = this.leases.get(node);
    if (at === undefined || now - at > this.leaseMs) return false;
    return lastHeartbeat === undefined || at > lastHeartbeat + this.marginMs;
  }

  /** Alive without heartbeats: the Lease proves it and it was heard claiming lately. */
  alive(node: string, now: number, lastHeartbeat: number | undefined): boolean {
    return this.claimedWithin(node, now, this.claimMs) && this.leaseProves(node, now, lastHeartbeat);
  }

  /** When alive(node) turns false if no new evidence comes (for the caller's timer). */
  expiry(node: string): number {
    const claim = (this.claims.get(node) ?? Number.NEGATIVE_INFINITY) + this.claimMs;
    const lease = (this.leases.get(node) ?? Number.NEGATIVE_INFINITY) + this.leaseMs;
    return Math.min(claim, lease);
  }
}

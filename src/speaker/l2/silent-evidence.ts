// Evidence that a peer whose heartbeats are missing is alive (its Lease renewed, claims heard).
// Heartbeats can be lost while layer 2 works (a firewall on the heartbeat port): both sides
// then believe the other dead and answer for the same address. The evidence settles it: the
// node the election prefers, counting the silent peer alive, keeps the address. This class keeps
// that evidence and the contention it starts; the layer-2 speaker elects and announces.
import type { Clock } from "../../clock.js";
import type { Membership } from "./membership.js";
import { RepeatWindow } from "./repeat-window.js";
import { SilentPeers } from "./silent-peers.js";

/** At most this many (node, address) pairs are remembered for de-duplicating claims. */
export const CLAIM_PAIRS_MAX = 4096;
/** A contended address is re-announced while its contender claimed within this long. */
const REASSERT_QUIET_MS = 5000;
/**
 * While some peer is unheard, one owned address is announced this often, in turn: a peer whose
 * heartbeats to this node are lost (or that restarted meanwhile, and never heard it) counts
 * this node alive only on claims it hears (SilentPeers: 3 s), and an owner with nobody
 * contending had no reason to claim anything. kube-vip repeats its gratuitous ARPs every 3 s
 * always; this node does so only while it may be needed, one frame a second per link.
 */
export const PRESENCE_MS = 1000;

export interface SilentEvidenceOptions {
  self: string;
  clock: Clock;
  membership: Membership;
  /** The set of peers counted alive without heartbeats changed: elect again. */
  reelect: () => void;
  /** Whether this node answers for the address now. */
  owns: (address: string) => boolean;
  /** Every address this node answers for now. */
  owned: () => Iterable<string>;
  /** Announce the address again on every link it may use (no probe). */
  reannounce: (address: string) => void;
  /** Send one announcement of the owned address on every link it may use. */
  present: (address: string) => void;
  claimEvidenceMs?: number | undefined;
  leaseEvidenceMs?: number | undefined;
  leaseMarginMs?: number | undefined;
  claimDedupMs?: number | undefined;
}

export class SilentEvidence {
  private readonly silent: SilentPeers;
  /** Peers counted alive without heartbeats, as of the last election. */
  private silentAlive = new Set<string>();
  private evidenceTimer: { handle: unknown; at: number } | undefined;
  /** Claims are looked at once per (node, address) and window. */
  private readonly claimWindow: RepeatWindow;
  /** Every Service address (claims for others are ignored at once), and every node. */
  private serviceAddresses = new Set<string>();
  private nodes = new Set<string>();
  /** Owned address -> peers contending for it while their heartbeats are missing. */
  private readonly contested = new Map<string, Set<string>>();
  private presenceTimer: unknown;
  /** Which owned address the next presence announcement names. */
  private presenceTurn = 0;

  constructor(private readonly o: SilentEvidenceOptions) {
    this.silent = new SilentPeers({
      claimEvidenceMs: o.claimEvidenceMs,
      leaseEvidenceMs: o.leaseEvidenceMs,
      leaseMarginMs: o.leaseMarginMs,
    });
    this.claimWindow = new RepeatWindow(o.claimDedupMs ?? 250, CLAIM_PAIRS_MAX);
  }

  /** Announces an owned address every PRESENCE_MS while some peer is unheard, until stop(). */
  start(): void {
    if (this.presenceTimer !== undefined) return;
    this.presenceTimer = this.o.clock.setTimeout(() => {
      this.presenceTimer = undefined;
      this.present();
      this.start();
    }, PRESENCE_MS);
  }

  stop(): void {
    if (this.presenceTimer !== undefined) this.o.clock.clearTimeout(this.presenceTimer);
    this.presenceTimer = undefined;
  }

  private present(): void {
    const now = this.o.clock.now();
    const m = this.o.membership;
    const unheard = [...this.nodes].some(
      (n) => n !== this.o.self && !m.isLive(n, now) && !heardOutOfElection(m, n),
    );
    if (!unheard) return;
    const owned = [...this.o.owned()].sort();
    if (owned.length === 0) return;
    this.o.present(owned[this.presenceTurn++ % owned.length] as string);
  }

  setCluster(nodes: ReadonlySet<string>, serviceAddresses: ReadonlySet<string>): void {
    this.nodes = new Set(nodes);
    this.serviceAddresses = new Set(serviceAddresses);
    this.silent.retain(this.nodes);
  }

  /** See L2Speaker.peerClaimed. */
  claimed(address: string, node: string): void {
    if (node === this.o.self || !this.serviceAddresses.has(address)) return;
    const now = this.o.clock.now();
    if (heardOutOfElection(this.o.membership, node)) return;
    const live = this.o.membership.isLive(node, now);
    // A live peer that claims an owned address elected without this node. One that says it does
    // not hear this node is contended with at once; any other is suspected (membership.ts), and
    // once it no longer counts live its claims are evidence as any silent peer's.
    const deaf = live && this.o.owns(address) && this.o.membership.unheardBy(node, now);
    if (live && !deaf && (!this.o.owns(address) || this.o.membership.suspect(node, now))) return;
    if (!this.claimWindow.first(`${node} ${address}`, now)) return;
    this.silent.claimed(node, now);
    if (!deaf) this.evaluate();
    if (!this.o.owns(address)) return;
    const contenders = this.contested.get(address) ?? new Set<string>();
    const first = contenders.size === 0;
    contenders.add(node);
    this.contested.set(address, contenders);
    if (first) this.reassert(address);
  }

  /** A renewal of `node`'s Lease was received now. */
  leaseRenewed(node: string): void {
    if (node === this.o.self || !this.nodes.has(node)) return;
    this.silent.leaseRenewed(node, this.o.clock.now());
    this.evaluate();
  }

  contended(): boolean {
    return this.contested.size > 0;
  }

  /** Peers counted alive at `now` without heartbeats, remembered as the election's view. */
  electionView(now: number): ReadonlySet<string> {
    this.silentAlive = this.silentlyAlive(now);
    return this.silentAlive;
  }

  /** Elects again only when the evidence changes who counts alive; one timer for its expiry. */
  evaluate(): void {
    const now = this.o.clock.now();
    const next = this.silentlyAlive(now);
    const changed = next.size !== this.silentAlive.size || [...next].some((n) => !this.silentAlive.has(n));
    if (changed) this.o.reelect();
    let at = Number.POSITIVE_INFINITY;
    for (const node of this.silentAlive) at = Math.min(at, this.silent.expiry(node) + 1);
    if (at === Number.POSITIVE_INFINITY || (this.evidenceTimer && this.evidenceTimer.at <= at)) return;
    if (this.evidenceTimer) this.o.clock.clearTimeout(this.evidenceTimer.handle);
    const handle = this.o.clock.setTimeout(
      () => {
        this.evidenceTimer = undefined;
        this.evaluate();
      },
      Math.max(0, at - now),
    );
    this.evidenceTimer = { handle, at };
  }

  private silentlyAlive(now: number): Set<string> {
    const alive = new Set<string>();
    for (const node of this.silent.nodes()) {
      if (this.o.membership.isLive(node, now) || heardOutOfElection(this.o.membership, node)) continue;
      if (this.silent.alive(node, now, this.o.membership.lastHeard(node))) alive.add(node);
    }
    return alive;
  }

  private reassert(address: string): void {
    const contenders = this.contested.get(address);
    const now = this.o.clock.now();
    // Bounded: a contender whose heartbeats cross with this node's again, or that neither claims
    // nor renews its Lease (dead, or only a spoofer speaking for it), ends it; one that is live
    // but does not hear this node ends it once it stops claiming.
    for (const n of [...(contenders ?? [])]) {
      const live = this.o.membership.isLive(n, now);
      const deaf = this.o.membership.unheardBy(n, now);
      const about =
        this.silent.claimedWithin(n, now, REASSERT_QUIET_MS) ||
        (!live && this.silent.leaseWithin(n, now, this.silent.leaseMs));
      if ((live && !deaf) || !about) contenders?.delete(n);
    }
    if (!this.o.owns(address) || !contenders || contenders.size === 0) {
      this.contested.delete(address);
      return;
    }
    this.o.reannounce(address);
    this.o.clock.setTimeout(() => this.reassert(address), 1000);
  }
}

/** Heard on heartbeats but not to be elected: it said it leaves, or it is just starting. */
export function heardOutOfElection(membership: Membership, node: string): boolean {
  const state = membership.stateOf(node);
  return state === "left" || state === "joining";
}

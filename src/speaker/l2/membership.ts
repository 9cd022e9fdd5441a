// Who is alive, from the heartbeats received: a pure state machine. Time comes in as an argument
// (milliseconds on any monotonic clock), so the same inputs always give the same view.
//
// A peer is live from its first accepted heartbeat until either it says it is leaving or
// `missedIntervals` of its own announced interval pass without a heartbeat (3 x 100 ms = 300 ms
// for the peers that watch it closely). Replay protection: a heartbeat counts only if its
// (incarnation, sequence) is newer than the last one accepted from that node. The codec refuses
// heartbeats sent more than `windowMs` from the receiver's clock, so this state is kept for twice
// the window after a node goes quiet (one window for the recording's age, one for the sender's
// clock being ahead): inside that time the sequence check holds, after it the time check does.
// A node that restarted with a clock that went backwards gets a lower incarnation; it is
// accepted again once that state is forgotten.
//
// A peer declared dead that is heard again soon, under the same incarnation (it did not restart),
// was late, not dead: a stalled event loop on a loaded machine. Each such flap lets that peer stay
// quiet longer (twice, then MAX_PATIENCE times the usual allowance: 600, 900 ms at 100 ms), and a
// minute without one brings it back: a peer that proved slow is not failed over on every hiccup,
// it is still failed over within a second, and the others keep 300 ms.
//
// A live peer that claims an address this node owns has elected without this node: the likeliest
// cause is that heartbeats between the two stopped crossing (a firewall on the port) while its
// deadline here has not passed, up to 3 x 1 s x 3 = 9 s for a peer on slow heartbeats. `suspect`
// then holds that peer to one interval and a margin until its next heartbeat: one whose
// heartbeats still flow is not affected, one whose heartbeats stopped is declared dead within
// 1.5 s, and the evidence of silent peers (silent-evidence.ts) settles the contention. A LAN
// host that spoofs such claims can do no more than that: a peer whose heartbeats flow stays live.
// When heartbeats are lost one way only, the peer's heartbeats still come, and each says that it
// does not hear this node (`unheard`): that is what lets this node contend for the address with
// a peer it counts alive (silent-evidence.ts), and only then, for a peer that hears this node and
// claims anyway elected on another view of the API, and this node may be the one that is behind.
import type { Heartbeat } from "./heartbeat.js";

/** A peer's quiet allowance grows at most to this many times the usual one. */
export const MAX_PATIENCE = 3;
/** How long a grown allowance lasts after the last flap. */
export const PATIENCE_MS = 60_000;
/** Heard again within this many times its allowance after the last heartbeat: a flap, not a return. */
const FLAP_GAP_FACTOR = 4;
/** A suspected peer may be quiet for its interval and this much more (or half its interval). */
export const SUSPECT_MARGIN_MS = 200;

/** "joining": heard, but starting up and not to be elected yet (it becomes live when it says so). */
export type PeerState = "live" | "dead" | "left" | "joining";

export interface Peer {
  node: string;
  state: PeerState;
  incarnation: number;
  sequence: number;
  lastSeen: number;
  /** The interval it announced (floored at minIntervalMs). */
  intervalMs: number;
  /** lastSeen + missedIntervals x intervalMs x patience, or sooner while it is suspected. */
  deadline: number;
  ownedCount: number;
  ownedDigest: string;
  /** Its last heartbeat said it does not hear this node (Heartbeat.unheard). */
  unheard: boolean;
  /** The id of the key its heartbeats were authenticated with (node-identity.ts keyId). */
  keyId?: string;
  /** Its quiet allowance is `patience` times the usual one until `patientUntil` (flaps seen). */
  patience: number;
  patientUntil: number;
}

export interface MembershipOptions {
  self: string;
  /** Heartbeats a peer may miss before it is declared dead (default 3). */
  missedIntervals?: number;
  /** Floor for the interval a peer announces, so a bogus 0 cannot flap it (default 20 ms). */
  minIntervalMs?: number;
  /**
   * The codec's time window (default 30 s): replay state is kept for twice this long after a
   * node's last heartbeat, after which a lower incarnation is accepted again.
   */
  windowMs?: number;
  /** At most this many peers are remembered; heartbeats of further nodes are refused (default 5000). */
  maxPeers?: number;
}

/**
 * "keyChanged": the sender's key is not the one its incarnation started with (a new key comes
 * with a restart, so with a higher incarnation); "full": the table of peers is full.
 */
export type ObserveResult = "accepted" | "self" | "replayed" | "keyChanged" | "full";

export interface MembershipChange {
  node: string;
  from: PeerState | "unknown";
  to: PeerState;
}

export class Membership {
  readonly self: string;
  private readonly missed: number;
  private readonly minInterval: number;
  readonly windowMs: number;
  private readonly forgetAfter: number;
  private readonly maxPeers: number;
  private readonly peers = new Map<string, Peer>();

  constructor(options: MembershipOptions) {
    this.self = options.self;
    this.missed = options.missedIntervals ?? 3;
    this.minInterval = options.minIntervalMs ?? 20;
    this.windowMs = options.windowMs ?? 30_000;
    this.forgetAfter = 2 * this.windowMs;
    this.maxPeers = options.maxPeers ?? 5000;
  }

  /** Takes in one authenticated heartbeat received at `now`, authenticated with key `keyId`. */
  observe(h: Heartbeat, now: number, keyId?: string): { result: ObserveResult; change?: MembershipChange } {
    if (h.node === this.self) return { result: "self" };
    let known = this.peers.get(h.node);
    if (known && now - known.lastSeen >= this.forgetAfter && known.state !== "live") {
      this.peers.delete(h.node);
      known = undefined;
    }
    if (known && !this.isNewer(known, h)) return { result: "replayed" };
    if (known && known.keyId !== keyId && h.incarnation <= known.incarnation) return { result: "keyChanged" };
    if (!known && this.peers.size >= this.maxPeers) {
      this.forget(now);
      if (this.peers.size >= this.maxPeers) return { result: "full" };
    }
    const state: PeerState = h.joining ? "joining" : h.leaving ? "left" : "live";
    const interval = Math.max(h.intervalMs, this.minInterval);
    let patience = known && now < known.patientUntil ? known.patience : 1;
    let patientUntil = known?.patientUntil ?? 0;
    const flapped =
      known?.state === "dead" &&
      h.incarnation === known.incarnation &&
      now - known.lastSeen < FLAP_GAP_FACTOR * this.missed * known.intervalMs * known.patience;
    if (flapped) {
      patience = Math.min(patience * 2, MAX_PATIENCE);
      patientUntil = now + PATIENCE_MS;
    }
    this.peers.set(h.node, {
      node: h.node,
      state,
      incarnation: h.incarnation,
      sequence: h.sequence,
      lastSeen: now,
      intervalMs: interval,
      deadline: now + this.missed * interval * patience,
      ownedCount: h.ownedCount,
      ownedDigest: h.ownedDigest,
      unheard: h.unheard === true,
      keyId,
      patience,
      patientUntil,
    });
    const from = known?.state ?? "unknown";
    return from === state
      ? { result: "accepted" }
      : { result: "accepted", change: { node: h.node, from, to: state } };
  }

  private isNewer(known: Peer, h: Heartbeat): boolean {
    if (h.incarnation > known.incarnation) return true;
    return h.incarnation === known.incarnation && h.sequence > known.sequence;
  }

  /** Drops the state of peers quiet for longer than the replay window allows. */
  private forget(now: number): void {
    for (const peer of [...this.peers.values()])
      if (peer.state !== "live" && now - peer.lastSeen >= this.forgetAfter) this.peers.delete(peer.node);
  }

  /** Declares dead every live peer whose deadline passed (and forgets long-gone ones); returns what changed. */
  expire(now: number): MembershipChange[] {
    const changes: MembershipChange[] = [];
    for (const peer of this.peers.values()) {
      if ((peer.state === "live" || peer.state === "joining") && now > peer.deadline) {
        changes.push({ node: peer.node, from: peer.state, to: "dead" });
        peer.state = "dead";
      } else if (peer.state !== "live" && now - peer.lastSeen >= this.forgetAfter) {
        // Outside the time window by now: the codec refuses whatever could be replayed.
        this.peers.delete(peer.node);
      }
    }
    return changes;
  }

  /**
   * `node` acts as if it does not hear this node (see the top of this file): until its next
   * heartbeat it counts alive only for its interval and a margin after the last one, at most
   * as long as before. Returns whether it still counts alive at `now`.
   */
  suspect(node: string, now: number): boolean {
    const peer = this.peers.get(node);
    if (peer?.state !== "live") return false;
    const allowance = Math.max(peer.intervalMs * 1.5, peer.intervalMs + SUSPECT_MARGIN_MS);
    peer.deadline = Math.min(peer.deadline, peer.lastSeen + allowance);
    return this.isLive(node, now);
  }

  /** Whether `node` is live and its last heartbeat said it does not hear this node (one-way loss). */
  unheardBy(node: string, now: number): boolean {
    return this.isLive(node, now) && this.peers.get(node)?.unheard === true;
  }

  /** Nodes that count as alive at `now`, this node included, sorted. */
  liveNodes(now: number): string[] {
    const live = [this.self];
    for (const peer of this.peers.values())
      if (peer.state === "live" && now <= peer.deadline) live.push(peer.node);
    return live.sort();
  }

  /** Whether `node` counts as alive at `now` (as liveNodes says, without building the list). */
  isLive(node: string, now: number): boolean {
    if (node === this.self) return true;
    const peer = this.peers.get(node);
    return peer !== undefined && peer.state === "live" && now <= peer.deadline;
  }

  /** When the last heartbeat from `node` was accepted (undefined: never, or forgotten). */
  lastHeard(node: string): number | undefined {
    return this.peers.get(node)?.lastSeen;
  }

  /** The earliest time at which expire() can change something, for the caller's timer. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const p of this.peers.values())
      if (p.state === "live" && (next === undefined || p.deadline < next)) next = p.deadline;
    return next;
  }

  /** What this node knows of `node`: live, dead, left, or undefined when never heard of (or forgotten). */
  stateOf(node: string): PeerState | undefined {
    return this.peers.get(node)?.state;
  }

  snapshot(): Peer[] {
    return [...this.peers.values()].map((p) => ({ ...p })).sort((a, b) => a.node.localeCompare(b.node));
  }
}

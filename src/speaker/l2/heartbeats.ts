// Runs the heartbeat protocol: sends signed heartbeats to each peer at the interval the plan
// gives it, takes in the ones received, and reports liveness changes. I/O (a datagram socket)
// and time come in through the constructor; decisions stay in Membership and planHeartbeats.
//
// One timer ticks every `tickMs` (20 ms): it sends the heartbeats that are due and expires
// peers, so a peer is declared dead at most one tick after its deadline (300-320 ms at 100 ms).
// A tick that runs late (this node's own event loop stalled: CPU starvation, a long GC) does not
// expire anyone: timers run before pending I/O, so the heartbeats that arrived during the stall
// are still unread, and a deadline that passed while this node was not looking is no evidence
// against its peers. The next tick, after they are read, decides (at most one tick is skipped in
// a row, so a node that is late on every tick still notices dead peers).
//
// Each heartbeat names its receiver and carries the sender's wall clock; receivers refuse one
// sent more than Membership's windowMs (30 s) from their own clock. That assumes the nodes'
// clocks agree within the window (NTP, as Kubernetes itself needs for certificates and Leases):
// a node off by more is refused by its peers, and refuses them (counted as outsideWindow).
import type { Clock } from "../../clock.js";
import { decodeHeartbeat, encodeHeartbeat, type HeartbeatDropReason, ownedDigest } from "./heartbeat.js";
import type { HeartbeatPlan } from "./heartbeat-plan.js";
import type { Membership, MembershipChange } from "./membership.js";
import { type NodeIdentity, PeerKeys } from "./node-identity.js";
import { HEARTBEAT_LIMITS, type InputLimits, type LimitReason, SourceLimiter } from "./rate-limit.js";

export interface DatagramSource {
  address: string;
  port: number;
}

export interface DatagramTransport {
  /** `from`: where the packet came from, when the transport knows (rate limits need it). */
  start(onMessage: (packet: Uint8Array, from?: DatagramSource) => void): void;
  /** May throw (unreachable network); counted, never fatal. */
  send(packet: Uint8Array, address: string): void;
  close(): void;
}

export interface HeartbeatsOptions {
  self: string;
  /** The cluster key (the Secret): every speaker has it. */
  key: Uint8Array;
  /** This node's own key pair; peers find its public key in its Lease. */
  identity: NodeIdentity;
  /** Must grow across restarts of this node: its start time in ms is the usual choice. */
  incarnation: number;
  transport: DatagramTransport;
  clock: Clock;
  /** Wall-clock ms since the epoch, for the heartbeats' time window (default clock.wall). */
  wallClock?: () => number;
  membership: Membership;
  /** Liveness changed (more listeners: listen()). */
  onChange?: (changes: MembershipChange[]) => void;
  fastIntervalMs?: number;
  slowIntervalMs?: number;
  tickMs?: number;
  /** Per-source and global input limits, checked before the HMAC (default HEARTBEAT_LIMITS). */
  limits?: InputLimits;
}

export interface HeartbeatsStats {
  sent: number;
  sendErrors: number;
  accepted: number;
  replayed: number;
  /** Heartbeats not sent because the peer has published no usable key yet. */
  unkeyed: number;
  dropped: Partial<Record<HeartbeatDropReason | "keyChanged" | "tableFull", number>>;
  /** Packets dropped unread: their source, or all unknown sources, over the input limit. */
  rateLimited: Record<LimitReason, number>;
  /** Ticks that ran more than a tick late, so that expiring peers waited for the next one. */
  lateTicks: number;
}

export class Heartbeats {
  private readonly fast: number;
  private readonly slow: number;
  private readonly tick: number;
  private peers = new Map<string, string>();
  private readonly keys: PeerKeys;
  private plan: HeartbeatPlan = new Map();
  private readonly due = new Map<string, number>();
  private owned = { count: 0, digest: ownedDigest([]) };
  private sequence = 0;
  /**
   * What the heartbeats tell peers: joining (just started, listening before it may be elected),
   * available, or unavailable (the leaving flag: SIGTERM, or no working link).
   */
  private mode: "joining" | "available" | "unavailable" = "available";
  private timer: unknown;
  private readonly counts: HeartbeatsStats = {
    sent: 0,
    sendErrors: 0,
    accepted: 0,
    replayed: 0,
    unkeyed: 0,
    dropped: {},
    rateLimited: { source: 0, global: 0 },
    lateTicks: 0,
  };
  /** When the pending tick is due, and whether the last one skipped expiring peers. */
  private tickDueAt = 0;
  private expiryDeferred = false;
  private readonly limiter: SourceLimiter<string>;
  private readonly listeners: ((changes: MembershipChange[]) => void)[] = [];
  /** The peers' heartbeat addresses: sources exempt from the global bound. */
  private peerAddresses = new Set<string>();

  constructor(private readonly o: HeartbeatsOptions) {
    this.fast = o.fastIntervalMs ?? 100;
    this.slow = o.slowIntervalMs ?? 1000;
    this.tick = o.tickMs ?? 20;
    this.limiter = new SourceLimiter(o.limits ?? HEARTBEAT_LIMITS);
    this.keys = new PeerKeys(o.self, o.identity);
  }

  /** Also tells `listener` of liveness changes (for a part built after the heartbeats). */
  listen(listener: (changes: MembershipChange[]) => void): void {
    this.listeners.push(listener);
  }

  private changed(changes: MembershipChange[]): void {
    this.o.onChange?.(changes);
    for (const l of this.listeners) l(changes);
  }

  /** Peers by node name and the address their heartbeats go to (node addresses). */
  setPeers(peers: ReadonlyMap<string, string>): void {
    this.peers = new Map([...peers].filter(([node]) => node !== this.o.self));
    this.peerAddresses = new Set(this.peers.values());
    for (const node of [...this.due.keys()]) if (!this.peers.has(node)) this.due.delete(node);
  }

  /** Node name -> the public key its speaker publishes (node-identity.ts). */
  setPeerKeys(keys: ReadonlyMap<string, string>): void {
    this.keys.set(keys);
  }

  setPlan(plan: HeartbeatPlan): void {
    const now = this.o.clock.now();
    for (const [node, interval] of plan) {
      // A peer that just became a successor hears from this node at once, not after a slow interval.
      if (interval < (this.plan.get(node) ?? this.slow)) this.due.set(node, now);
    }
    this.plan = plan;
  }

  setOwned(addresses: readonly string[]): void {
    this.owned = { count: addresses.length, digest: ownedDigest(addresses) };
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.o.transport.start((packet, from) => this.receive(packet, from));
    this.schedule();
  }

  /**
   * Whether peers may elect this node. Unavailable heartbeats (SIGTERM, no working link) carry
   * the leaving flag and go to every peer at the fast interval. A change is sent at once.
   */
  setAvailable(available: boolean): void {
    this.setMode(available ? "available" : "unavailable");
  }

  /** Just started: peers see this node join and do not elect it until setAvailable(true). */
  join(): void {
    this.setMode("joining");
  }

  private setMode(mode: "joining" | "available" | "unavailable"): void {
    if (this.mode === mode) return;
    this.mode = mode;
    const now = this.o.clock.now();
    for (const node of this.peers.keys()) this.due.set(node, now);
    if (this.timer !== undefined) this.sendDue(now);
  }

  /** SIGTERM: peers stop counting on this node from the next packet on. */
  leave(): void {
    this.setAvailable(false);
  }

  stop(): void {
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.o.transport.close();
  }

  stats(): HeartbeatsStats {
    return structuredClone(this.counts);
  }

  private schedule(): void {
    this.tickDueAt = this.o.clock.now() + this.tick;
    this.timer = this.o.clock.setTimeout(() => {
      const now = this.o.clock.now();
      this.sendDue(now);
      if (now - this.tickDueAt > this.tick && !this.expiryDeferred) {
        this.expiryDeferred = true;
        this.counts.lateTicks++;
      } else {
        this.expiryDeferred = false;
        const changes = this.o.membership.expire(now);
        if (changes.length) this.changed(changes);
      }
      this.schedule();
    }, this.tick);
  }

  private intervalFor(node: string): number {
    return this.mode === "unavailable" ? this.fast : (this.plan.get(node) ?? this.slow);
  }

  private sendDue(now: number): void {
    for (const [node, address] of this.peers) {
      if ((this.due.get(node) ?? now) > now) continue;
      const interval = this.intervalFor(node);
      this.due.set(node, now + interval);
      const pairKey = this.keys.get(node)?.send;
      if (pairKey === undefined) {
        this.counts.unkeyed++;
        continue;
      }
      const packet = encodeHeartbeat(
        {
          node: this.o.self,
          receiver: node,
          sentAt: this.wallNow(),
          incarnation: this.o.incarnation,
          sequence: ++this.sequence,
          intervalMs: interval,
          leaving: this.mode === "unavailable",
          ...(this.mode === "joining" ? { joining: true } : {}),
          ...(this.hears(node, now) ? {} : { unheard: true }),
          ownedCount: this.owned.count,
          ownedDigest: this.owned.digest,
        },
        this.o.key,
        pairKey,
      );
      try {
        this.o.transport.send(packet, address);
        this.counts.sent++;
      } catch {
        this.counts.sendErrors++;
      }
    }
  }

  /** Whether `node`'s heartbeats reach this node: it is live here, or heard joining or leaving. */
  private hears(node: string, now: number): boolean {
    const state = this.o.membership.stateOf(node);
    return state === "joining" || state === "left" || this.o.membership.isLive(node, now);
  }

  private wallNow(): number {
    return this.o.wallClock ? this.o.wallClock() : this.o.clock.wall();
  }

  private receive(packet: Uint8Array, from?: DatagramSource): void {
    if (from) {
      const trusted = this.peerAddresses.has(from.address);
      const limited = this.limiter.take(`${from.address}:${from.port}`, this.o.clock.now(), trusted);
      if (limited) {
        this.counts.rateLimited[limited]++;
        return;
      }
    }
    const d = decodeHeartbeat(packet, {
      clusterKey: this.o.key,
      self: this.o.self,
      now: this.wallNow(),
      windowMs: this.o.membership.windowMs,
      pairKey: (sender) => this.keys.get(sender)?.receive,
    });
    if (!d.ok) {
      this.drop(d.reason);
      return;
    }
    const keyId = this.keys.get(d.value.node)?.id;
    const { result, change } = this.o.membership.observe(d.value, this.o.clock.now(), keyId);
    if (result === "replayed") this.counts.replayed++;
    else if (result === "accepted") this.counts.accepted++;
    else if (result === "keyChanged") this.drop("keyChanged");
    else if (result === "full") this.drop("tableFull");
    if (change) this.changed([change]);
  }

  private drop(reason: keyof HeartbeatsStats["dropped"]): void {
    this.counts.dropped[reason] = (this.counts.dropped[reason] ?? 0) + 1;
  }
}

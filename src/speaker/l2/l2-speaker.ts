// The layer-2 half of the speaker without Kubernetes: given the cluster state (nodes, Services,
// peers' addresses, fed by informers elsewhere) and liveness from heartbeats, it elects owners
// and makes this node answer and announce exactly the addresses it owns, on the interfaces it
// may use. Level-triggered: every change recomputes the whole desired state.

import type { Election } from "../../domain/election.js";
import {
  type ClusterState,
  type L2Link,
  type L2Listener,
  type L2SpeakerOptions,
  type OwnershipChange,
  PREPARE_LIMIT_MS,
} from "./l2-interface.js";
import { answeredPerLink, answersOn, planHolding } from "./l2-plan.js";
import { type HeldBack, ProbeRetry } from "./probe-retry.js";
import { SilentEvidence } from "./silent-evidence.js";

export class L2Speaker {
  private state: ClusterState = { nodes: [], services: [], peers: new Map() };
  /** Addresses the election gives this node. */
  private readonly wanted = new Set<string>();
  /** Addresses this node answers for: wanted, and free (probe passed or not needed). */
  private readonly owned = new Set<string>();
  /** Per wanted address: the links it has been announced (or probed) on. */
  private readonly announcedOn = new Map<string, Set<L2Link>>();
  private elections = new Map<string, Election>();
  private leaving = false;
  private settled = false;
  /** leave() was called: never become available again. */
  private departing = false;
  /** Evidence that peers whose heartbeats are missing are alive, and the contention it starts. */
  private readonly evidence: SilentEvidence;
  /** Addresses taken over whose announcement waits for prepareTakeover (value: that take). */
  private readonly preparing = new Map<string, object>();

  private links: readonly L2Link[];
  private started = false;
  /** Wanted addresses whose probe found a foreign host, waiting to be probed again. */
  private readonly retry: ProbeRetry;
  /** No link this node announces on can be heard on (all down or their sockets failed). */
  private deaf = false;
  private settleTimer: unknown;
  private readonly listeners: L2Listener[] = [];
  /** Ownership changes reported so far (a reconcile that reports one need not report its elections). */
  private ownershipChanges = 0;
  /** What probing() returned at the last publish. */
  private lastProbing: ReadonlySet<string> = new Set();

  constructor(private readonly o: L2SpeakerOptions) {
    this.links = [...o.links];
    this.evidence = new SilentEvidence({
      self: o.self,
      clock: o.clock,
      membership: o.membership,
      reelect: () => this.reconcile(),
      owns: (address) => this.owned.has(address),
      owned: () => this.owned,
      reannounce: (address) => {
        for (const link of this.links)
          if (this.allowedOn(link, address)) void link.announcer.announce(address, { probe: false });
      },
      present: (address) => {
        for (const link of this.links) if (this.allowedOn(link, address)) link.announcer.repeat(address);
      },
      claimEvidenceMs: o.claimEvidenceMs,
      leaseEvidenceMs: o.leaseEvidenceMs,
      leaseMarginMs: o.leaseMarginMs,
      claimDedupMs: o.claimDedupMs,
    });
    this.retry = new ProbeRetry(o.clock, o.random);
  }

  /** Also reports to `listener` (ownership changes, conflicts, held-back changes). */
  listen(listener: L2Listener): void {
    this.listeners.push(listener);
  }

  /** A foreign host claims an address this node announces (an announcer heard it). */
  foreignClaim(address: string, mac: string): void {
    this.conflicted(address, mac);
  }

  private changed(change: OwnershipChange): void {
    this.ownershipChanges++;
    this.o.onChange?.(change);
    for (const l of this.listeners) l.ownershipChanged?.(change);
  }

  private conflicted(address: string, mac: string): void {
    this.o.onConflict?.(address, mac);
    for (const l of this.listeners) l.conflict?.(address, mac);
  }

  private heldBackChanged(): void {
    this.o.onHeldBack?.();
    for (const l of this.listeners) l.heldBackChanged?.();
  }

  /** Addresses this node should answer for but holds back: a foreign host answered the probe. */
  heldBack(): ReadonlyMap<string, HeldBack> {
    return this.retry.current();
  }

  start(): void {
    this.started = true;
    for (const link of this.links) link.responder.start();
    // Until settled: peers see this node join (not leave), and do not elect it yet.
    if (!this.deaf) this.o.heartbeats.join();
    this.o.heartbeats.start();
    this.evidence.start();
    this.settle();
    this.reconcile();
  }

  /** Becomes available to peers after the settle time, unless leaving or deaf by then. */
  private settle(): void {
    this.o.clock.clearTimeout(this.settleTimer);
    this.settleTimer = this.o.clock.setTimeout(() => {
      if (this.departing || this.deaf) return;
      this.settled = true;
      this.o.heartbeats.setAvailable(true);
      this.reconcile();
    }, this.o.settleMs ?? 1500);
  }

  /**
   * Whether any of this node's links can be heard on. When none can (every link down, or its
   * socket failed), this node cannot answer for anything: it tells its peers it is unavailable
   * (the heartbeats' leaving flag), so they take its addresses over, and releases them. When a
   * link works again it comes back as at start: after the settle time.
   */
  setLinksWorking(working: boolean): void {
    if (this.deaf === !working) return;
    this.deaf = !working;
    if (this.departing) return;
    if (this.deaf) {
      this.o.clock.clearTimeout(this.settleTimer);
      this.settled = false;
      this.o.heartbeats.setAvailable(false);
      this.reconcile();
    } else if (this.started) this.settle();
  }

  setState(state: ClusterState): void {
    this.state = state;
    this.evidence.setCluster(
      new Set(state.nodes.map((n) => n.name)),
      new Set(state.services.flatMap((s) => s.addresses)),
    );
    this.o.heartbeats.setPeers(state.peers);
    this.o.heartbeats.setPeerKeys(state.peerKeys ?? new Map());
    this.reconcile();
  }

  /** Liveness changed (Heartbeats' onChange). */
  membershipChanged(): void {
    this.reconcile();
    this.evidence.evaluate();
  }

  /**
   * Another node's speaker claimed a Service address on the wire (a gratuitous ARP, an ARP
   * reply, a neighbour advertisement), or so the frame says: anyone on the LAN can send one
   * with a speaker's MAC. By itself it proves nothing and costs no election. It is looked at
   * once per (node, address) and window, and only while the node's heartbeats are missing (one
   * heard while it was live, such as its gratuitous ARPs after a takeover, says nothing more than
   * its heartbeats, and a node that said it is leaving answers on through its handover; a live
   * node that claims an address this node owns is suspected, and counts live only while its
   * heartbeats keep coming, see Membership.suspect, unless its heartbeats say it does not hear
   * this node: then this node contends with it at once): it is
   * one half of the evidence that the node is alive (see SilentPeers), and the election runs
   * again only if the set of such nodes changes. If this node owns the address, it announces it
   * again, and every second while the contender stays silent and seems about, so that a
   * contender that is alive in turn sees this node claim and withdraws if it is not preferred.
   */
  peerClaimed(address: string, node: string): void {
    this.evidence.claimed(address, node);
  }

  /**
   * The API server reports a renewal of `node`'s Lease (received now): the other half of the
   * evidence that a node whose heartbeats are missing is alive.
   */
  peerLeaseRenewed(node: string): void {
    this.evidence.leaseRenewed(node);
  }

  /** This node contends for an address with a silent peer: its own Lease should say it is alive soon. */
  contended(): boolean {
    return this.evidence.contended();
  }

  /** Elections as last computed, by Service key (for status and debugging). */
  currentElections(): ReadonlyMap<string, Election> {
    return this.elections;
  }

  ownedAddresses(): string[] {
    return [...this.owned].sort();
  }

  /**
   * Addresses probed before their first announcement (RFC 5227), not held back by a conflict:
   * the node answers for them once the probe passes, and its forwarding should be in by then,
   * or the first connections after the gratuitous announcement go on untranslated.
   */
  probing(): string[] {
    return [...this.wanted]
      .filter((a) => !this.owned.has(a) && !this.retry.has(a) && (this.announcedOn.get(a)?.size ?? 0) > 0)
      .sort();
  }

  /**
   * SIGTERM: peers learn at once that this node leaves and take over; this node keeps answering
   * for `handoverMs` so no request goes unanswered in between, then stops.
   */
  leave(): Promise<void> {
    this.departing = true;
    this.o.heartbeats.leave();
    return new Promise((resolve) => {
      this.o.clock.setTimeout(() => {
        this.leaving = true;
        this.reconcile();
        resolve();
      }, this.o.handoverMs ?? 500);
    });
  }

  /**
   * The node's interfaces changed: links that are gone stop answering and announcing, new ones
   * start answering, and every address this node owns is announced on them at once (a link
   * that comes up later must not wait for the next takeover to be known on its segment).
   */
  setLinks(links: readonly L2Link[]): void {
    const gone = this.links.filter((l) => !links.includes(l));
    const added = links.filter((l) => !this.links.includes(l));
    for (const link of gone) {
      link.announcer.stop();
      link.responder.stop();
      for (const done of this.announcedOn.values()) done.delete(link);
    }
    this.links = [...links];
    if (this.started) for (const link of added) link.responder.start();
    for (const address of this.wanted) this.announceOnLinks(address);
    this.publish();
  }

  stop(): void {
    this.retry.stop();
    this.evidence.stop();
    for (const link of this.links) {
      link.announcer.stop();
      link.responder.stop();
    }
    this.o.heartbeats.stop();
  }

  private reconcile(): void {
    const now = this.o.clock.now();
    const live = new Set(this.o.membership.liveNodes(now));
    for (const node of this.evidence.electionView(now)) live.add(node);
    if (this.leaving || !this.settled) live.delete(this.o.self);
    const plan = planHolding({ self: this.o.self, state: this.state, live, previous: this.elections });
    const electionsChanged = !sameCandidates(this.elections, plan.elections);
    const changesBefore = this.ownershipChanges;
    this.elections = plan.elections;
    for (const address of [...this.wanted]) if (!plan.wanted.has(address)) this.release(address);
    for (const [address, previousOwner] of plan.wanted) {
      if (!this.wanted.has(address)) this.take(address, previousOwner);
      else if (this.retry.has(address) && this.ignoresConflicts(address)) this.override(address);
      else this.announceOnLinks(address);
    }
    this.publish();
    this.o.heartbeats.setPlan(plan.heartbeats);
    // An ownership change told the listeners already: they look at every election when told.
    if (electionsChanged && this.ownershipChanges === changesBefore)
      for (const l of this.listeners) l.electionsChanged?.();
  }

  /** Answer for what is owned and not still being probed or found in conflict. */
  private publish(): void {
    const names = this.links.map((l) => l.responder.interfaceName);
    const answered = answeredPerLink(this.state, names, this.owned);
    for (const link of this.links) link.responder.setOwned(answered.get(link.responder.interfaceName) ?? []);
    this.o.heartbeats.setOwned([...this.owned]);
    const probing = new Set(this.probing());
    const before = this.lastProbing;
    this.lastProbing = probing;
    const started = [...probing].some((a) => !before.has(a));
    const ended = [...before].some((a) => !probing.has(a) && !this.owned.has(a));
    if (started || ended) for (const l of this.listeners) l.probingChanged?.();
  }

  private allowedOn(link: L2Link, address: string): boolean {
    return answersOn(this.state, link.responder.interfaceName, address);
  }

  /** Interfaces an owned address is answered on, for status. */
  interfacesOf(address: string): string[] {
    if (!this.owned.has(address)) return [];
    return this.links.filter((l) => this.allowedOn(l, address)).map((l) => l.responder.interfaceName);
  }

  private take(address: string, previousOwner: string | undefined): void {
    this.wanted.add(address);
    const first = !this.ignoresConflicts(address) && (this.o.isFirstAnnouncement?.(address) ?? false);
    const from = first ? undefined : this.upNode(previousOwner);
    if (!first) this.own(address, from);
    const preparing = from && this.o.prepareTakeover?.(address, from);
    if (!preparing) {
      this.startAnnouncing(address);
      return;
    }
    // Clients with the address cached move on the gratuitous announcement: first let forwarding
    // carry the previous owner's connections on. Bounded, so that a stuck preparation never
    // keeps the address unannounced; requests are answered meanwhile.
    const token = {};
    this.preparing.set(address, token);
    const limit = new Promise<void>((resolve) => this.o.clock.setTimeout(resolve, PREPARE_LIMIT_MS));
    void Promise.race([preparing.catch(() => {}), limit]).then(() => {
      if (this.preparing.get(address) !== token) return;
      this.preparing.delete(address);
      if (this.wanted.has(address)) this.startAnnouncing(address);
    });
  }

  private startAnnouncing(address: string): void {
    this.announcedOn.set(address, new Set());
    this.announceOnLinks(address);
  }

  /** A node other than this one that is still up by its heartbeats (live, or left on SIGTERM). */
  private upNode(node: string | undefined): OwnershipChange["from"] {
    if (node === undefined || node === this.o.self) return undefined;
    const state = this.o.membership.stateOf(node);
    const address = this.state.peers.get(node);
    const up = state === "live" || state === "left" || state === "joining";
    return address !== undefined && up ? { node, address } : undefined;
  }

  /**
   * Announces a wanted address on every link it may use and has not been announced on yet: at
   * takeover, and again when its L2Advertisement allows another interface (an address that was
   * allowed nowhere is still waiting for its probe). Links it may no longer use stop announcing.
   */
  private announceOnLinks(address: string): void {
    const done = this.announcedOn.get(address);
    if (!done) return;
    for (const link of [...done])
      if (!this.allowedOn(link, address)) {
        done.delete(link);
        link.announcer.withdraw(address);
      }
    const fresh = this.links.filter((l) => !done.has(l) && this.allowedOn(l, address));
    if (fresh.length === 0) return;
    const probe = !this.owned.has(address);
    for (const link of fresh) {
      done.add(link);
      void link.announcer.announce(address, { probe }).then((result) => {
        if (!this.wanted.has(address) || !probe) return;
        if (result.outcome === "announced") {
          this.retry.forget(address);
          this.own(address);
          this.publish();
        } else if (result.outcome === "conflict" && !this.owned.has(address)) {
          // A foreign host holds it: report, do not steal it, and probe again later.
          this.retry.conflict(address, result.mac, () => this.reprobe(address));
          this.conflicted(address, result.mac);
        }
      });
    }
  }

  private ignoresConflicts(address: string): boolean {
    return this.state.ignoreConflicts?.has(address) ?? false;
  }

  /** The backoff after a conflict is over: probe on every link again. */
  private reprobe(address: string): void {
    if (!this.wanted.has(address) || this.owned.has(address)) {
      this.retry.forget(address);
      return;
    }
    this.announcedOn.set(address, new Set());
    this.announceOnLinks(address);
  }

  /** An operator lets a held-back address be announced despite the conflict: take it now. */
  private override(address: string): void {
    this.retry.forget(address);
    this.own(address);
    this.announcedOn.set(address, new Set());
    this.announceOnLinks(address);
  }

  private own(address: string, from?: OwnershipChange["from"]): void {
    if (this.owned.has(address)) return;
    this.owned.add(address);
    // Answer first, then report: what listeners do (status, audit, nftables) never delays ARP.
    this.publish();
    this.changed(from ? { address, owned: true, from } : { address, owned: true });
  }

  private release(address: string): void {
    this.wanted.delete(address);
    this.preparing.delete(address);
    this.announcedOn.delete(address);
    if (this.retry.forget(address)) this.heldBackChanged();
    if (this.owned.delete(address)) {
      this.publish();
      this.changed({ address, owned: false });
    }
    for (const link of this.links) link.announcer.withdraw(address);
  }
}

/** Whether every Service has the same candidates, in the same order, in both elections. */
function sameCandidates(a: ReadonlyMap<string, Election>, b: ReadonlyMap<string, Election>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, e] of a) {
    const other = b.get(key)?.candidates;
    if (other === undefined || other.length !== e.candidates.length) return false;
    if (e.candidates.some((n, i) => other[i] !== n)) return false;
  }
  return true;
}

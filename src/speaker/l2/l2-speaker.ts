// The layer-2 half of the speaker without Kubernetes: given the cluster state (nodes, Services,
// peers' addresses, fed by informers elsewhere) and liveness from heartbeats, it elects owners
// and makes this node answer and announce exactly the addresses it owns, on the interfaces it
// may use. Level-triggered: every change recomputes the whole desired state.
import {
  type Election,
  type ElectionNode,
  type ElectionService,
  electOwner,
  shouldAnnounce,
} from "../../domain/election.js";
import type { Clock } from "../clock.js";
import type { Announcer } from "./announcer.js";
import { planHeartbeats } from "./heartbeat-plan.js";
import type { Heartbeats } from "./heartbeats.js";
import { interfaceSelected } from "./interfaces.js";
import type { Membership } from "./membership.js";
import type { Responder } from "./responder.js";

export interface ClusterState {
  nodes: readonly ElectionNode[];
  services: readonly ElectionService[];
  /** Node name -> the address its speaker receives heartbeats on. */
  peers: ReadonlyMap<string, string>;
  /**
   * Address -> interface names or patterns it may be announced on (its L2Advertisements');
   * an address that is missing, or has an empty list, may use every link.
   */
  interfaces?: ReadonlyMap<string, readonly string[]>;
}

export interface L2Link {
  responder: Responder;
  announcer: Announcer;
}

export interface OwnershipChange {
  address: string;
  owned: boolean;
  /**
   * On takeover from a node that is still up (it handed over on SIGTERM, or it is live and the
   * election moved the address away from it): that node and the address its speaker listens on.
   * Its kernel still carries the connections it accepted; forwarding can send them there.
   */
  from?: { node: string; address: string };
}

export interface L2SpeakerOptions {
  self: string;
  clock: Clock;
  membership: Membership;
  heartbeats: Heartbeats;
  /** One per interface this node may announce on (setLinks changes them). */
  links: readonly L2Link[];
  /** True when no speaker has announced this address before: probe it first (RFC 5227). */
  isFirstAnnouncement?: (address: string) => boolean;
  /** How long a leaving node keeps answering after telling its peers (default 500 ms). */
  handoverMs?: number;
  /**
   * How long a starting node listens before it may own anything (default 1500 ms: every live
   * peer sends at least one slow heartbeat meanwhile). Claiming at once would steal addresses
   * from their owners on every restart, since a new node first believes it is alone.
   */
  settleMs?: number;
  onChange?: (change: OwnershipChange) => void;
  onConflict?: (address: string, mac: string) => void;
  /**
   * Called when this node takes an address over from a node that is still up, before the
   * gratuitous announcement that moves the clients; the announcement waits for it (at most
   * PREPARE_LIMIT_MS). Forwarding uses it to pass on the previous owner's connections.
   */
  prepareTakeover?: (address: string, from: { node: string; address: string }) => Promise<void>;
  /** How long a peer seen claiming an address counts as alive without heartbeats (default 3000 ms). */
  claimEvidenceMs?: number;
}

/** The longest a takeover's gratuitous announcement waits for prepareTakeover. */
export const PREPARE_LIMIT_MS = 250;

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
  /**
   * Peers heard claiming a Service address while their heartbeats were missing, and until when
   * that counts as proof they are alive. Heartbeats can be lost while layer 2 works (a firewall on the heartbeat port): both
   * sides then believe the other dead and answer for the same address. The claims on the wire
   * settle it: the node the election prefers, counting the claimant alive, keeps the address.
   */
  private readonly claimants = new Map<string, number>();
  /** Owned address -> peers contending for it while their heartbeats are missing. */
  private readonly contested = new Map<string, Set<string>>();
  /** Addresses taken over whose announcement waits for prepareTakeover (value: that take). */
  private readonly preparing = new Map<string, object>();

  private links: readonly L2Link[];
  private started = false;
  /** No link this node announces on can be heard on (all down or their sockets failed). */
  private deaf = false;
  private settleTimer: unknown;

  constructor(private readonly o: L2SpeakerOptions) {
    this.links = [...o.links];
  }

  start(): void {
    this.started = true;
    for (const link of this.links) link.responder.start();
    this.o.heartbeats.setAvailable(false);
    this.o.heartbeats.start();
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
    this.o.heartbeats.setPeers(state.peers);
    this.reconcile();
  }

  /** Liveness changed (Heartbeats' onChange). */
  membershipChanged(): void {
    this.reconcile();
  }

  /**
   * Another node's speaker claimed a Service address on the wire (a gratuitous ARP, an ARP
   * reply, a neighbour advertisement): proof that it is alive, whatever its heartbeats say. Its
   * node's kernel never claims a Service address, so only speakers' claims count, and not those
   * of a speaker that said it is leaving (it answers on through its handover). Counting that
   * node alive, elect again: if it is preferred, this node withdraws; if this node still owns the
   * address, it announces again, and every second while the claimant's heartbeats stay missing,
   * so that the claimant in turn sees this node alive and withdraws.
   */
  peerClaimed(address: string, node: string): void {
    if (node === this.o.self || !this.state.services.some((s) => s.addresses.includes(address))) return;
    // Only a claim heard while the node's heartbeats are missing proves more than they do; one
    // heard while it was live (its gratuitous ARPs after a takeover) must not keep a node that
    // dies a moment later alive for the length of the evidence.
    const state = this.o.membership.stateOf(node);
    if (state === "left" || this.o.membership.liveNodes(this.o.clock.now()).includes(node)) return;
    const ms = this.o.claimEvidenceMs ?? 3000;
    this.claimants.set(node, this.o.clock.now() + ms);
    this.o.clock.setTimeout(() => this.reconcile(), ms + 1);
    this.reconcile();
    if (!this.owned.has(address)) return;
    const contenders = this.contested.get(address) ?? new Set<string>();
    const first = contenders.size === 0;
    contenders.add(node);
    this.contested.set(address, contenders);
    if (first) this.reassert(address);
  }

  private reassert(address: string): void {
    const contenders = this.contested.get(address);
    const live = new Set(this.o.membership.liveNodes(this.o.clock.now()));
    for (const n of [...(contenders ?? [])]) if (live.has(n)) contenders?.delete(n);
    if (!this.owned.has(address) || !contenders || contenders.size === 0) {
      this.contested.delete(address);
      return;
    }
    for (const link of this.links)
      if (this.allowedOn(link, address)) void link.announcer.announce(address, { probe: false });
    this.o.clock.setTimeout(() => this.reassert(address), 1000);
  }

  /** Elections as last computed, by Service key (for status and debugging). */
  currentElections(): ReadonlyMap<string, Election> {
    return this.elections;
  }

  ownedAddresses(): string[] {
    return [...this.owned].sort();
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
    for (const link of this.links) {
      link.announcer.stop();
      link.responder.stop();
    }
    this.o.heartbeats.stop();
  }

  private reconcile(): void {
    const now = this.o.clock.now();
    const live = new Set(this.o.membership.liveNodes(now));
    if (this.claimants.size > 0) {
      // A node that said it is leaving is not brought back by the claims of its handover.
      for (const [node, until] of this.claimants) {
        if (until > now && this.o.membership.stateOf(node) !== "left") live.add(node);
        else this.claimants.delete(node);
      }
    }
    if (this.leaving || !this.settled) live.delete(this.o.self);
    const before = this.elections;
    this.elections = electOwner({ nodes: this.state.nodes, live, services: this.state.services });
    const next = new Map<string, string | undefined>();
    for (const s of this.state.services) {
      if (shouldAnnounce(this.o.self, this.elections.get(s.key)) === "")
        for (const a of s.addresses) next.set(a, before.get(s.key)?.owner);
    }
    for (const address of [...this.wanted]) if (!next.has(address)) this.release(address);
    for (const [address, previousOwner] of next) {
      if (!this.wanted.has(address)) this.take(address, previousOwner);
      else this.announceOnLinks(address);
    }
    this.publish();
    this.o.heartbeats.setPlan(planHeartbeats(this.o.self, this.state.peers.keys(), this.elections.values()));
  }

  /** Answer for what is owned and not still being probed or found in conflict. */
  private publish(): void {
    const addresses = [...this.owned];
    for (const link of this.links) link.responder.setOwned(addresses.filter((a) => this.allowedOn(link, a)));
    this.o.heartbeats.setOwned(addresses);
  }

  private allowedOn(link: L2Link, address: string): boolean {
    return interfaceSelected(link.responder.interfaceName, this.state.interfaces?.get(address) ?? []);
  }

  /** Interfaces an owned address is answered on, for status. */
  interfacesOf(address: string): string[] {
    if (!this.owned.has(address)) return [];
    return this.links.filter((l) => this.allowedOn(l, address)).map((l) => l.responder.interfaceName);
  }

  private take(address: string, previousOwner: string | undefined): void {
    this.wanted.add(address);
    const first = this.o.isFirstAnnouncement?.(address) ?? false;
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
    return address !== undefined && (state === "live" || state === "left") ? { node, address } : undefined;
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
          this.own(address);
          this.publish();
        } else if (result.outcome === "conflict") {
          // A foreign host holds it: report, and do not steal it while this node stays owner.
          this.o.onConflict?.(address, result.mac);
        }
      });
    }
  }

  private own(address: string, from?: OwnershipChange["from"]): void {
    if (this.owned.has(address)) return;
    this.owned.add(address);
    this.o.onChange?.(from ? { address, owned: true, from } : { address, owned: true });
  }

  private release(address: string): void {
    this.wanted.delete(address);
    this.preparing.delete(address);
    this.announcedOn.delete(address);
    if (this.owned.delete(address)) this.o.onChange?.({ address, owned: false });
    for (const link of this.links) link.announcer.withdraw(address);
  }
}

// What goes into the layer-2 speaker (the cluster state, its links, its options) and what comes
// out of it (ownership changes, conflicts, held-back addresses). l2-speaker.ts implements it.
import type { Clock } from "../../clock.js";
import type { ElectionNode, ElectionService } from "../../domain/election.js";
import type { Announcer } from "./announcer.js";
import type { Heartbeats } from "./heartbeats.js";
import type { Membership } from "./membership.js";
import type { Responder } from "./responder.js";

export interface ClusterState {
  nodes: readonly ElectionNode[];
  services: readonly ElectionService[];
  /** Node name -> the address its speaker receives heartbeats on. */
  peers: ReadonlyMap<string, string>;
  /** Node name -> the public key its speaker authenticates heartbeats with (from its Lease). */
  peerKeys?: ReadonlyMap<string, string>;
  /**
   * Address -> interface names or patterns it may be announced on (its L2Advertisements');
   * an address that is missing, or has an empty list, may use every link.
   */
  interfaces?: ReadonlyMap<string, readonly string[]>;
  /** Addresses an operator lets be announced despite a foreign host (no probe, never held back). */
  ignoreConflicts?: ReadonlySet<string>;
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

/** What the layer-2 speaker reports (to the part built after it that acts on it). */
export interface L2Listener {
  ownershipChanged?(change: OwnershipChange): void;
  conflict?(address: string, mac: string): void;
  heldBackChanged?(): void;
  /**
   * The addresses probed for a first announcement changed (one started, or one ended otherwise
   * than by being owned, which ownershipChanged reports).
   */
  probingChanged?(): void;
  /**
   * The elections changed without this node's ownership changing: a successor died, came back
   * or became (in)eligible. Forwarding sends an owned Cluster address's traffic to its
   * successors' NodePorts, so it follows.
   */
  electionsChanged?(): void;
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
  /** How long a claim heard from a heartbeat-silent peer counts as evidence (default 3000 ms). */
  claimEvidenceMs?: number;
  /** The set of held-back addresses (heldBack()) changed. */
  onHeldBack?: () => void;
  /** Jitter of the probe's backoff after a conflict (default Math.random). */
  random?: () => number;
  /** How long a peer's Lease renewal counts as evidence (default 25 s). */
  leaseEvidenceMs?: number;
  /** A Lease renewal proves more than heartbeats only when received this long after the last (default 2000 ms). */
  leaseMarginMs?: number;
  /** Claims for one (node, address) are looked at once per this window (default 250 ms). */
  claimDedupMs?: number;
}

/** The longest a takeover's gratuitous announcement waits for prepareTakeover. */
export const PREPARE_LIMIT_MS = 250;

// One node's speaker: joins what the informers know to the layer-2 half (who answers which
// address) and applies the plan (plan.ts: nftables state for what this node owns, its
// ServiceAnnouncements, events), and reports what the layer-2 half did (audit, log, conflicts).
// Everything it talks to comes in through the constructor; every change plans the whole desired
// state again (level-triggered).
import type { V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { AuditSink } from "../audit/sink.js";
import type { Clock } from "../clock.js";
import type { Election } from "../domain/election.js";
import type { Desired, ServiceAnnouncement } from "./announcements.js";
import { ClusterView } from "./cluster-view.js";
import { type ConflictLimits, ConflictReports } from "./conflicts.js";
import type { ForwardingState } from "./forward/state.js";
import type { ForwardingReport } from "./forwarding-report.js";
import { type ClusterObjects, forwardingState, speakerInputs } from "./inputs.js";
import type { ClusterState, OwnershipChange } from "./l2/l2-interface.js";
import { planSpeaker } from "./plan.js";
import { RefusalReporter } from "./refusals.js";

/** The parts of L2Speaker this class drives. */
export interface LayerTwo {
  setState(state: ClusterState): void;
  currentElections(): ReadonlyMap<string, Election>;
  ownedAddresses(): string[];
  /** Addresses probed before their first announcement: forwarded already, answered once the probe passes. */
  probing?(): string[];
  interfacesOf(address: string): string[];
  /** Addresses held back because a foreign host answered the probe, with that host's MAC. */
  heldBack?(): ReadonlyMap<string, { mac: string }>;
}

export interface SpeakerEventSink {
  event(svc: V1Service, type: "Normal" | "Warning", reason: string, message: string): void;
}

export interface SpeakerDeps {
  self: string;
  /** Where the last inputs are kept for the drivers (default: a view of its own). */
  view?: ClusterView;
  objects(): ClusterObjects;
  /**
   * False while the caches still fill (default: always true). A recompute then would see
   * Services without their pools, and warn on every one of them at every start.
   */
  listed?: () => boolean;
  announcements: { get(key: string): ServiceAnnouncement | undefined; list(): ServiceAnnouncement[] };
  l2: LayerTwo;
  forwarding: { update(state: ForwardingState): void };
  writer: { set(desired: Map<string, Desired>): void };
  events: SpeakerEventSink;
  audit: AuditSink;
  log: Logger;
  /** Wall time for the ServiceAnnouncements and conditions; monotonic time for rate limits. */
  clock: Clock;
  onTakeover?: () => void;
  onConflict?: () => void;
  conflictLimits?: ConflictLimits;
  /** A value from the API was refused (reported once each): for the metric. */
  onRefused?: (reason: string) => void;
}

export class Speaker {
  /** What the cluster said last, for the drivers that ask while they run. */
  readonly view: ClusterView;
  /** When (wall ms) this node started answering each address it owns. */
  private readonly since = new Map<string, number>();
  /** Services this node announced last time: a nodeAssigned event marks each new one. */
  private announced = new Set<string>();
  private leaving = false;
  /** True while the cluster view is handed to the layer-2 half: clusterChanged publishes after it. */
  private settingState = false;
  private lastProblems = "";
  /** The forwarding applier's last word, and the warnings already sent for it. */
  private forwarding: ForwardingReport | undefined;
  private warned = new Set<string>();
  private readonly conflicts: ConflictReports;
  /** Since when (wall ms) each held-back address has been held back (the condition's transition time). */
  private readonly heldSince = new Map<string, number>();
  private heldKey = "";
  private readonly refusals: RefusalReporter;

  constructor(private readonly d: SpeakerDeps) {
    this.view = d.view ?? new ClusterView(d.announcements);
    this.conflicts = new ConflictReports(d.conflictLimits);
    this.refusals = new RefusalReporter({
      log: d.log,
      event: (svc, type, reason, message) => d.events.event(svc, type, reason, message),
      counted: (reason) => d.onRefused?.(reason),
    });
  }

  /** Something in the caches changed. */
  clusterChanged(): void {
    if (this.d.listed?.() === false) return;
    const inputs = speakerInputs(this.d.objects(), this.d.self);
    this.view.set(inputs);
    const problems = inputs.problems.join("\n");
    if (problems !== this.lastProblems && problems)
      this.d.log.warn({ problems: inputs.problems }, "ignored objects");
    this.lastProblems = problems;
    this.refusals.report(inputs.refused);
    this.settingState = true;
    try {
      this.d.l2.setState(inputs.cluster);
    } finally {
      this.settingState = false;
    }
    this.publish();
  }

  /**
   * The layer-2 half elected again and no address of this node moved (a successor died or came
   * back): an owned Cluster address's traffic goes to its successors' NodePorts, so forwarding
   * follows at once, not at the next change in the API.
   */
  electionsChanged(): void {
    if (!this.settingState) this.publish();
  }

  /** The forwarding applier applied a table: which Services it refused, what it ignored. */
  forwardingReported(report: ForwardingReport): void {
    this.forwarding = report;
    this.publish();
  }

  /** The layer-2 speaker started or stopped answering an address. */
  ownershipChanged(change: OwnershipChange): void {
    const svc = this.view.serviceOf(change.address);
    const ref = svc && {
      namespace: svc.metadata?.namespace ?? "",
      name: svc.metadata?.name ?? "",
      uid: svc.metadata?.uid,
    };
    const key = ref ? `${ref.namespace}/${ref.name}` : undefined;
    if (change.owned) {
      this.since.set(change.address, this.d.clock.wall());
      const previous = key ? this.d.announcements.get(key)?.status?.node : undefined;
      const takeover = previous !== undefined && previous !== this.d.self;
      if (takeover) this.d.onTakeover?.();
      this.d.log.info(
        { address: change.address, service: key, from: previous },
        takeover ? "takeover" : "announce",
      );
      void this.d.audit.record({
        component: "speaker",
        node: this.d.self,
        kind: takeover ? "takeover" : "announce",
        service: ref,
        addresses: [change.address],
        ...(takeover ? { fromNode: previous, toNode: this.d.self } : {}),
        reason: takeover ? "PreviousOwnerGone" : "ElectedOwner",
      });
    } else {
      this.since.delete(change.address);
      const election = key ? this.d.l2.currentElections().get(key) : undefined;
      const reason = this.leaving
        ? "ShuttingDown"
        : election?.owner
          ? "NotOwner"
          : (election?.reason ?? "ServiceGone");
      this.d.log.info({ address: change.address, service: key, to: election?.owner, reason }, "withdraw");
      void this.d.audit.record({
        component: "speaker",
        node: this.d.self,
        kind: this.leaving ? "handover" : "withdraw",
        service: ref,
        addresses: [change.address],
        ...(election?.owner ? { fromNode: this.d.self, toNode: election.owner } : {}),
        reason,
      });
    }
    this.publish();
  }

  /**
   * A foreign host claims an address (probe answered, or a claim while announcing). Every one
   * counts on the Service's Event (the recorder folds repeats into its count); log lines and
   * audit rows are bounded per (address, MAC) and per address (conflicts.ts).
   */
  conflict(address: string, mac: string): void {
    const svc = this.view.serviceOf(address);
    const message = `address ${address} is in use by a host with MAC ${mac}; not announcing it from ${this.d.self}`;
    this.d.onConflict?.();
    if (svc) this.d.events.event(svc, "Warning", "AddressConflict", message);
    // A probe that newly holds an address back shows on the ServiceAnnouncement at once.
    if (this.heldBackKey() !== this.heldKey) this.publish();
    const verdict = this.conflicts.observe(address, mac, this.d.clock.now());
    if (!verdict.report) return;
    const { suppressed } = verdict;
    this.d.log.warn({ address, mac, ...(suppressed ? { suppressed } : {}) }, "address conflict");
    void this.d.audit.record({
      component: "speaker",
      node: this.d.self,
      kind: "conflict-detected",
      service: svc && { namespace: svc.metadata?.namespace ?? "", name: svc.metadata?.name ?? "" },
      addresses: [address],
      reason: "AddressInUse",
      message: suppressed ? `${message} (${suppressed} more conflicts on it since the last report)` : message,
    });
  }

  /** A probe before a first announcement started or ended: its frontend goes in first. */
  probingChanged(): void {
    this.publish();
  }

  /** The layer-2 speaker holds back other addresses than before (a probe failed, or the address went elsewhere). */
  heldBackChanged(): void {
    if (this.heldBackKey() !== this.heldKey) this.publish();
  }

  /**
   * SIGTERM, after the layer-2 speaker handed over: forwarding keeps only the addresses that
   * no other node took (a restart of this speaker picks them up again, and conntrack keeps
   * their established connections); ServiceAnnouncements are left for the new owners.
   */
  leave(previouslyOwned: readonly string[]): void {
    this.leaving = true;
    const elections = this.d.l2.currentElections();
    const kept = new Set(
      previouslyOwned.filter((a) => {
        const svc = this.view.serviceOf(a);
        const owner = svc
          ? elections.get(`${svc.metadata?.namespace}/${svc.metadata?.name}`)?.owner
          : undefined;
        return owner === undefined;
      }),
    );
    const inputs = this.view.inputs;
    if (inputs) this.d.forwarding.update(forwardingState(inputs, this.d.self, kept, elections));
  }

  private heldBackKey(): string {
    return JSON.stringify([...(this.d.l2.heldBack?.() ?? [])].map(([a, h]) => [a, h.mac]));
  }

  private publish(): void {
    const inputs = this.view.inputs;
    if (!inputs || this.leaving) return;
    const now = this.d.clock.wall();
    const held = this.d.l2.heldBack?.() ?? new Map<string, { mac: string }>();
    this.heldKey = this.heldBackKey();
    for (const a of [...this.heldSince.keys()]) if (!held.has(a)) this.heldSince.delete(a);
    for (const a of held.keys()) if (!this.heldSince.has(a)) this.heldSince.set(a, now);
    const plan = planSpeaker({
      self: this.d.self,
      inputs,
      owned: new Set(this.d.l2.ownedAddresses()),
      probing: new Set(this.d.l2.probing?.() ?? []),
      elections: this.d.l2.currentElections(),
      heldBack: held,
      interfacesOf: (a) => this.d.l2.interfacesOf(a),
      since: this.since,
      heldSince: this.heldSince,
      forwarding: this.forwarding,
      announcements: this.d.announcements.list(),
      announcedBefore: this.announced,
      warnedBefore: this.warned,
      now,
    });
    this.d.forwarding.update(plan.forwarding);
    for (const e of plan.events) this.d.events.event(e.svc, e.type, e.reason, e.message);
    this.announced = plan.announced;
    this.warned = plan.warned;
    this.d.writer.set(plan.announcements);
  }
}

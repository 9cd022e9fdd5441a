// One node's speaker: joins what the informers know to the layer-2 half (who answers which
// address) and to the forwarding half (nftables for what this node owns), and reports the
// result (ServiceAnnouncements, events, audit). Everything it talks to comes in through the
// constructor; every change recomputes the whole desired state (level-triggered).
import type { V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { AuditSink } from "../audit/sink.js";
import type { Election } from "../domain/election.js";
import {
  ADDRESS_CONFLICT,
  type AnnouncementCondition,
  type AnnouncementStatus,
  type Desired,
  type ServiceAnnouncement,
} from "./announcements.js";
import { type ConflictLimits, ConflictReports } from "./conflicts.js";
import type { ForwardingState } from "./forward/state.js";
import {
  FORWARDING_CONDITION,
  type ForwardingReport,
  forwardingCondition,
  forwardingWarnings,
} from "./forwarding-report.js";
import { type ClusterObjects, forwardingState, type SpeakerInputs, speakerInputs } from "./inputs.js";
import type { ClusterState, OwnershipChange } from "./l2/l2-speaker.js";
import { RefusalReporter } from "./refusals.js";

/** The parts of L2Speaker this class drives. */
export interface LayerTwo {
  setState(state: ClusterState): void;
  currentElections(): ReadonlyMap<string, Election>;
  ownedAddresses(): string[];
  interfacesOf(address: string): string[];
  /** Addresses held back because a foreign host answered the probe, with that host's MAC. */
  heldBack?(): ReadonlyMap<string, { mac: string }>;
}

export interface SpeakerEventSink {
  event(svc: V1Service, type: "Normal" | "Warning", reason: string, message: string): void;
}

export interface SpeakerDeps {
  self: string;
  objects(): ClusterObjects;
  announcements: { get(key: string): ServiceAnnouncement | undefined; list(): ServiceAnnouncement[] };
  l2: LayerTwo;
  forwarding: { update(state: ForwardingState): void };
  writer: { set(desired: Map<string, Desired>): void };
  events: SpeakerEventSink;
  audit: AuditSink;
  log: Logger;
  now(): Date;
  onTakeover?: () => void;
  onConflict?: () => void;
  conflictLimits?: ConflictLimits;
  /** A value from the API was refused (reported once each): for the metric. */
  onRefused?: (reason: string) => void;
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}

export class Speaker {
  private inputs: SpeakerInputs | undefined;
  /** When this node started answering each address it owns. */
  private readonly since = new Map<string, Date>();
  /** Services this node announced last time: a nodeAssigned event marks each new one. */
  private announced = new Set<string>();
  private leaving = false;
  private lastProblems = "";
  /** The forwarding applier's last word, and the warnings already sent for it. */
  private forwarding: ForwardingReport | undefined;
  private warned = new Set<string>();
  private readonly conflicts: ConflictReports;
  /** Since when each held-back address has been held back (the condition's transition time). */
  private readonly heldSince = new Map<string, Date>();
  private heldKey = "";
  private readonly refusals: RefusalReporter;

  constructor(private readonly d: SpeakerDeps) {
    this.conflicts = new ConflictReports(d.conflictLimits);
    this.refusals = new RefusalReporter({
      log: d.log,
      event: (svc, type, reason, message) => d.events.event(svc, type, reason, message),
      counted: (reason) => d.onRefused?.(reason),
    });
  }

  /** MACs of speakers (from their Leases). */
  isSpeakerMac(mac: string): boolean {
    return this.inputs?.speakerMacs.has(mac.toLowerCase()) ?? false;
  }

  /** The node whose speaker uses this MAC, if any. */
  nodeOfMac(mac: string): string | undefined {
    return this.inputs?.speakerMacs.get(mac.toLowerCase());
  }

  /** MACs of every speaker's links, from their Leases. */
  speakerMacList(): string[] {
    return [...(this.inputs?.speakerMacs.keys() ?? [])];
  }

  /** The TCP ports of the Services on this address (what a handover passes on). */
  tcpPortsOf(address: string): number[] {
    const ports = new Set<number>();
    for (const h of this.inputs?.services.values() ?? [])
      if (h.addresses.includes(address))
        for (const p of h.service.spec?.ports ?? []) if ((p.protocol ?? "TCP") === "TCP") ports.add(p.port);
    return [...ports].sort((a, b) => a - b);
  }

  /** No speaker has announced this address yet (no ServiceAnnouncement holds it): probe first. */
  isFirstAnnouncement(address: string): boolean {
    for (const [key, h] of this.inputs?.services ?? []) {
      if (!h.addresses.includes(address)) continue;
      if (this.d.announcements.get(key)?.status?.addresses?.includes(address)) return false;
    }
    return true;
  }

  /** Something in the caches changed. */
  clusterChanged(): void {
    const inputs = speakerInputs(this.d.objects(), this.d.self);
    this.inputs = inputs;
    const problems = inputs.problems.join("\n");
    if (problems !== this.lastProblems && problems)
      this.d.log.warn({ problems: inputs.problems }, "ignored objects");
    this.lastProblems = problems;
    this.refusals.report(inputs.refused);
    this.d.l2.setState(inputs.cluster);
    this.publish();
  }

  /** The forwarding applier applied a table: which Services it refused, what it ignored. */
  forwardingReported(report: ForwardingReport): void {
    this.forwarding = report;
    this.publish();
  }

  /** The layer-2 speaker started or stopped answering an address. */
  ownershipChanged(change: OwnershipChange): void {
    const svc = this.serviceOf(change.address);
    const ref = svc && {
      namespace: svc.metadata?.namespace ?? "",
      name: svc.metadata?.name ?? "",
      uid: svc.metadata?.uid,
    };
    const key = ref ? `${ref.namespace}/${ref.name}` : undefined;
    if (change.owned) {
      this.since.set(change.address, this.d.now());
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
    const svc = this.serviceOf(address);
    const message = `address ${address} is in use by a host with MAC ${mac}; not announcing it from ${this.d.self}`;
    this.d.onConflict?.();
    if (svc) this.d.events.event(svc, "Warning", "AddressConflict", message);
    // A probe that newly holds an address back shows on the ServiceAnnouncement at once.
    if (this.heldBackKey() !== this.heldKey) this.publish();
    const verdict = this.conflicts.observe(address, mac, this.d.now().getTime());
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
        const svc = this.serviceOf(a);
        const owner = svc
          ? elections.get(`${svc.metadata?.namespace}/${svc.metadata?.name}`)?.owner
          : undefined;
        return owner === undefined;
      }),
    );
    if (this.inputs) this.d.forwarding.update(forwardingState(this.inputs, this.d.self, kept, elections));
  }

  /** A Warning event for each forwarding problem of a Service when it first shows. */
  private warnForwarding(inputs: SpeakerInputs): void {
    const report = this.forwarding;
    if (!report) return;
    const now = new Set<string>();
    for (const key of new Set([...report.refused.keys(), ...report.problems.map((p) => p.service)])) {
      const h = inputs.services.get(key);
      if (!h) continue;
      for (const w of forwardingWarnings(key, report)) {
        const sig = `${key}|${w.reason}|${w.message}`;
        now.add(sig);
        if (!this.warned.has(sig)) this.d.events.event(h.service, "Warning", w.reason, w.message);
      }
    }
    this.warned = now;
  }

  private conflictCondition(
    addresses: readonly string[],
    held: ReadonlyMap<string, { mac: string }>,
  ): AnnouncementCondition {
    const since = Math.min(...addresses.map((a) => (this.heldSince.get(a) ?? this.d.now()).getTime()));
    const each = addresses.map((a) => `${a} is in use by a host with MAC ${held.get(a)?.mac}`).join("; ");
    return {
      type: ADDRESS_CONFLICT,
      status: "True",
      reason: "AddressInUse",
      message: `${each}; node ${this.d.self} does not announce it and probes again with backoff`,
      lastTransitionTime: rfc3339(new Date(since)),
    };
  }

  private serviceOf(address: string): V1Service | undefined {
    for (const h of this.inputs?.services.values() ?? []) if (h.addresses.includes(address)) return h.service;
    return undefined;
  }

  private heldBackKey(): string {
    return JSON.stringify([...(this.d.l2.heldBack?.() ?? [])].map(([a, h]) => [a, h.mac]));
  }

  private publish(): void {
    const inputs = this.inputs;
    if (!inputs || this.leaving) return;
    const owned = new Set(this.d.l2.ownedAddresses());
    const elections = this.d.l2.currentElections();
    const held = this.d.l2.heldBack?.() ?? new Map<string, { mac: string }>();
    this.heldKey = this.heldBackKey();
    for (const a of [...this.heldSince.keys()]) if (!held.has(a)) this.heldSince.delete(a);
    for (const a of held.keys()) if (!this.heldSince.has(a)) this.heldSince.set(a, this.d.now());
    this.d.forwarding.update(forwardingState(inputs, this.d.self, owned, elections));

    const desired = new Map<string, Desired>();
    const announced = new Set<string>();
    for (const [key, h] of inputs.services) {
      const mine = h.addresses.filter((a) => owned.has(a));
      const conflicted = h.addresses.filter((a) => held.has(a));
      const election = elections.get(key);
      if (mine.length > 0 || conflicted.length > 0) {
        const since = Math.min(
          ...mine.map((a) => (this.since.get(a) ?? this.d.now()).getTime()),
          ...conflicted.map((a) => (this.heldSince.get(a) ?? this.d.now()).getTime()),
        );
        const status: AnnouncementStatus = {
          node: this.d.self,
          interfaces: [...new Set(mine.flatMap((a) => this.d.l2.interfacesOf(a)))].sort(),
          addresses: mine,
          since: rfc3339(new Date(since)),
          ...(conflicted.length > 0 ? { conditions: [this.conflictCondition(conflicted, held)] } : {}),
        };
        if (this.forwarding) {
          const previous = this.d.announcements
            .get(key)
            ?.status?.conditions?.find((c) => c.type === FORWARDING_CONDITION);
          status.conditions = [
            ...(status.conditions ?? []),
            forwardingCondition(key, this.forwarding, previous, rfc3339(this.d.now())),
          ];
        }
        desired.set(key, { svc: h.service, status });
        if (mine.length > 0) announced.add(key);
        if (mine.length > 0 && !this.announced.has(key))
          this.d.events.event(
            h.service,
            "Normal",
            "nodeAssigned",
            `announcing ${mine.join(", ")} from node ${this.d.self}`,
          );
      } else if (election?.owner === undefined) {
        // Nobody may announce it (no endpoints, no advertisement, no eligible node): drop the claim.
        desired.set(key, { remove: true });
      }
    }
    // Claims of this node for Services no longer handled (type changed, address released).
    for (const sann of this.d.announcements.list()) {
      const key = `${sann.metadata.namespace}/${sann.metadata.name}`;
      if (sann.status?.node === this.d.self && !inputs.services.has(key)) desired.set(key, { remove: true });
    }
    this.announced = announced;
    this.warnForwarding(inputs);
    this.d.writer.set(desired);
  }
}

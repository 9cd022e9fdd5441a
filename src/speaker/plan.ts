// The speaker's plan: from what the cluster says (inputs), what the layer-2 half holds (owned and
// held-back addresses, elections) and what forwarding reported, everything this node should make
// true: its nftables state, its ServiceAnnouncements, and the events to send. Pure: no I/O, no
// clock (times come in as wall-clock ms), no logger; Speaker applies it.
import type { V1Service } from "@kubernetes/client-node";
import type { Election } from "../domain/election.js";
import {
  ADDRESS_CONFLICT,
  type AnnouncementCondition,
  type AnnouncementStatus,
  type Desired,
  type ServiceAnnouncement,
} from "./announcements.js";
import type { ForwardingState } from "./forward/state.js";
import {
  FORWARDING_CONDITION,
  type ForwardingReport,
  forwardingCondition,
  forwardingWarnings,
} from "./forwarding-report.js";
import { forwardingState, type SpeakerInputs } from "./inputs.js";

export interface PlanInput {
  self: string;
  inputs: SpeakerInputs;
  /** Addresses this node answers for. */
  owned: ReadonlySet<string>;
  /** Addresses probed before their first announcement: forwarded, not announced yet. */
  probing?: ReadonlySet<string>;
  elections: ReadonlyMap<string, Election>;
  /** Addresses held back because a foreign host answered the probe, with its MAC. */
  heldBack: ReadonlyMap<string, { mac: string }>;
  /** The interfaces each owned address is answered on. */
  interfacesOf: (address: string) => readonly string[];
  /** Wall-clock ms since when each owned address is answered, and each held-back one held back. */
  since: ReadonlyMap<string, number>;
  heldSince: ReadonlyMap<string, number>;
  /** The forwarding applier's last word, if it spoke yet. */
  forwarding: ForwardingReport | undefined;
  /** The ServiceAnnouncements as the API shows them. */
  announcements: readonly ServiceAnnouncement[];
  /** Services this node announced in the previous plan (a nodeAssigned event marks each new one). */
  announcedBefore: ReadonlySet<string>;
  /** Forwarding warnings sent already (their signatures, from the previous plan). */
  warnedBefore: ReadonlySet<string>;
  /** Wall-clock ms. */
  now: number;
}

export interface PlannedEvent {
  svc: V1Service;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface Plan {
  forwarding: ForwardingState;
  /** Per Service key: the ServiceAnnouncement status this node claims, or its removal. */
  announcements: Map<string, Desired>;
  events: PlannedEvent[];
  announced: Set<string>;
  warned: Set<string>;
}

export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}

export function planSpeaker(p: PlanInput): Plan {
  const { inputs, self, owned, heldBack: held } = p;
  const byKey = new Map(p.announcements.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  const desired = new Map<string, Desired>();
  const announced = new Set<string>();
  const events: PlannedEvent[] = [];
  for (const [key, h] of inputs.services) {
    const mine = h.addresses.filter((a) => owned.has(a));
    const conflicted = h.addresses.filter((a) => held.has(a));
    if (mine.length > 0 || conflicted.length > 0) {
      const since = Math.min(
        ...mine.map((a) => p.since.get(a) ?? p.now),
        ...conflicted.map((a) => p.heldSince.get(a) ?? p.now),
      );
      const status: AnnouncementStatus = {
        node: self,
        interfaces: [...new Set(mine.flatMap((a) => p.interfacesOf(a)))].sort(),
        addresses: mine,
        since: rfc3339(since),
        ...(conflicted.length > 0 ? { conditions: [conflictCondition(p, conflicted)] } : {}),
      };
      if (p.forwarding) {
        const previous = byKey.get(key)?.status?.conditions?.find((c) => c.type === FORWARDING_CONDITION);
        status.conditions = [
          ...(status.conditions ?? []),
          forwardingCondition(key, p.forwarding, previous, rfc3339(p.now)),
        ];
      }
      desired.set(key, { svc: h.service, status });
      if (mine.length > 0) announced.add(key);
      if (mine.length > 0 && !p.announcedBefore.has(key))
        events.push({
          svc: h.service,
          type: "Normal",
          reason: "nodeAssigned",
          message: `announcing ${mine.join(", ")} from node ${self}`,
        });
    } else if (p.elections.get(key)?.owner === undefined) {
      // Nobody may announce it (no endpoints, no advertisement, no eligible node): drop the claim.
      desired.set(key, { remove: true });
    }
  }
  // Claims of this node for Services no longer handled (type changed, address released).
  for (const [key, sann] of byKey)
    if (sann.status?.node === self && !inputs.services.has(key)) desired.set(key, { remove: true });
  const warned = forwardingEvents(p, events);
  return {
    forwarding: forwardingState(inputs, self, new Set([...owned, ...(p.probing ?? [])]), p.elections),
    announcements: desired,
    events,
    announced,
    warned,
  };
}

/** A Warning event for each forwarding problem of a Service when it first shows. */
function forwardingEvents(p: PlanInput, events: PlannedEvent[]): Set<string> {
  const report = p.forwarding;
  const now = new Set<string>();
  if (!report) return new Set(p.warnedBefore);
  for (const key of new Set([...report.refused.keys(), ...report.problems.map((x) => x.service)])) {
    const h = p.inputs.services.get(key);
    if (!h) continue;
    for (const w of forwardingWarnings(key, report)) {
      const sig = `${key}|${w.reason}|${w.message}`;
      now.add(sig);
      if (!p.warnedBefore.has(sig))
        events.push({ svc: h.service, type: "Warning", reason: w.reason, message: w.message });
    }
  }
  return now;
}

function conflictCondition(p: PlanInput, addresses: readonly string[]): AnnouncementCondition {
  const since = Math.min(...addresses.map((a) => p.heldSince.get(a) ?? p.now));
  const each = addresses.map((a) => `${a} is in use by a host with MAC ${p.heldBack.get(a)?.mac}`).join("; ");
  return {
    type: ADDRESS_CONFLICT,
    status: "True",
    reason: "AddressInUse",
    message: `${each}; node ${p.self} does not announce it and probes again with backoff`,
    lastTransitionTime: rfc3339(since),
  };
}

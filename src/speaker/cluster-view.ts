// What the speaker last read from the cluster, for the drivers that ask about it while they run:
// the links (is this MAC a speaker's, and whose?), the handover (every speaker's MACs, the TCP
// ports behind an address) and the layer-2 half (was this address announced before?). The
// Speaker updates it on every change; the drivers only read it, so they need no Speaker.
import type { V1Service } from "@kubernetes/client-node";
import type { ServiceAnnouncement } from "./announcements.js";
import type { SpeakerInputs } from "./inputs.js";

export interface AnnouncementLookup {
  get(key: string): ServiceAnnouncement | undefined;
}

export class ClusterView {
  private current: SpeakerInputs | undefined;

  /** `announcements`: the ServiceAnnouncements as the API shows them (an informer's cache). */
  constructor(private readonly announcements: AnnouncementLookup) {}

  set(inputs: SpeakerInputs): void {
    this.current = inputs;
  }

  get inputs(): SpeakerInputs | undefined {
    return this.current;
  }

  /** MACs of speakers (from their Leases). */
  isSpeakerMac(mac: string): boolean {
    return this.current?.speakerMacs.has(mac.toLowerCase()) ?? false;
  }

  /** The node whose speaker uses this MAC, if any. */
  nodeOfMac(mac: string): string | undefined {
    return this.current?.speakerMacs.get(mac.toLowerCase());
  }

  /** MACs of every speaker's links, from their Leases. */
  speakerMacList(): string[] {
    return [...(this.current?.speakerMacs.keys() ?? [])];
  }

  /** The TCP ports of the Services on this address (what a handover passes on). */
  tcpPortsOf(address: string): number[] {
    const ports = new Set<number>();
    for (const h of this.current?.services.values() ?? [])
      if (h.addresses.includes(address))
        for (const p of h.service.spec?.ports ?? []) if ((p.protocol ?? "TCP") === "TCP") ports.add(p.port);
    return [...ports].sort((a, b) => a - b);
  }

  /** No speaker has announced this address yet (no ServiceAnnouncement holds it): probe first. */
  isFirstAnnouncement(address: string): boolean {
    for (const [key, h] of this.current?.services ?? []) {
      if (!h.addresses.includes(address)) continue;
      if (this.announcements.get(key)?.status?.addresses?.includes(address)) return false;
    }
    return true;
  }

  /** The Service an address belongs to. */
  serviceOf(address: string): V1Service | undefined {
    for (const h of this.current?.services.values() ?? [])
      if (h.addresses.includes(address)) return h.service;
    return undefined;
  }
}

// Tells the link that this node now holds an address: gratuitous ARP (IPv4) or an unsolicited
// neighbour advertisement with Override (IPv6), sent at once and repeated on a schedule so that
// hosts and switches that missed one still learn it, optionally refreshed afterwards.
//
// Before the first announcement ever made for an address (the caller knows: no speaker has held
// it), it probes in the manner of RFC 5227 / RFC 4862 DAD: a few probes, then a short wait. A
// foreign host that claims the address, or probes for it at the same time, is a conflict: the
// result says so and nothing is announced. Takeovers from another speaker skip the probe, which
// would cost the sub-second failover. Timings are shorter than RFC 5227's (1-2 s per probe)
// because a probe only guards against a misconfigured pool, not against DHCP races.

import type { Clock } from "../../clock.js";
import { arpAnnouncement, arpProbe, encodeArp } from "./arp.js";
import { ipv6ToBytes, macToBytes, macToString } from "./link-address.js";
import { dadProbe, encodeNdp, multicastMac, solicitedNodeAddress, unsolicitedAdvertisement } from "./ndp.js";
import type { PacketSocket } from "./packet-socket.js";
import type { Claim } from "./responder.js";

export interface AnnouncerOptions {
  /** Offsets in ms after takeover at which announcements go out (default 0, 250, 1000, 2000, 4000). */
  schedule?: readonly number[];
  /** Re-announce this often after the schedule, for switches that age entries out; 0 = never. */
  refreshIntervalMs?: number;
  probeCount?: number;
  probeIntervalMs?: number;
  /** Wait after the last probe before the address counts as free. */
  probeWaitMs?: number;
  /** MACs of other speakers: their claims are takeovers in progress, not conflicts. */
  isSpeakerMac?: (mac: string) => boolean;
  /** A foreign host claims an address this node announces (after the probe). */
  onConflict?: (ip: string, mac: string) => void;
}

export type AnnounceOutcome =
  | { outcome: "announced" }
  | { outcome: "conflict"; mac: string }
  | { outcome: "withdrawn" };

interface Entry {
  timers: unknown[];
  refresh?: unknown;
  probing?: { resolve: (o: AnnounceOutcome) => void; group?: Uint8Array };
}

export interface AnnouncerStats {
  gratuitous: { arp: number; ndp: number };
  probes: number;
  conflicts: number;
  sendErrors: number;
}

export class Announcer {
  private readonly mac: string;
  private readonly entries = new Map<string, Entry>();
  private readonly counts: AnnouncerStats = {
    gratuitous: { arp: 0, ndp: 0 },
    probes: 0,
    conflicts: 0,
    sendErrors: 0,
  };
  private readonly schedule: readonly number[];
  private readonly refresh: number;
  private readonly probeCount: number;
  private readonly probeInterval: number;
  private readonly probeWait: number;

  constructor(
    private readonly socket: PacketSocket,
    private readonly clock: Clock,
    private readonly options: AnnouncerOptions = {},
  ) {
    this.mac = macToString(socket.mac);
    this.schedule = options.schedule ?? [0, 250, 1000, 2000, 4000];
    this.refresh = options.refreshIntervalMs ?? 0;
    this.probeCount = options.probeCount ?? 3;
    this.probeInterval = options.probeIntervalMs ?? 200;
    this.probeWait = options.probeWaitMs ?? 300;
  }

  /** Starts announcing `ip` (canonical text); with `probe`, only if no foreign host holds it. */
  announce(ip: string, opts: { probe: boolean }): Promise<AnnounceOutcome> {
    this.withdraw(ip);
    const entry: Entry = { timers: [] };
    this.entries.set(ip, entry);
    if (!opts.probe) {
      this.startAnnouncing(ip, entry);
      return Promise.resolve({ outcome: "announced" });
    }
    return new Promise((resolve) => {
      entry.probing = { resolve };
      const v6 = ipv6ToBytes(ip);
      if (v6) {
        // Hear other hosts' DAD probes for the same address, sent to its solicited-node group.
        const group = macToBytes(multicastMac(solicitedNodeAddress(v6))) as Uint8Array;
        if (this.trySend(() => this.socket.joinMulticast(group))) entry.probing.group = group;
      }
      for (let i = 0; i < this.probeCount; i++) {
        entry.timers.push(this.clock.setTimeout(() => this.sendProbe(ip), i * this.probeInterval));
      }
      const decideAt = (this.probeCount - 1) * this.probeInterval + this.probeWait;
      entry.timers.push(
        this.clock.setTimeout(() => {
          if (this.entries.get(ip) !== entry || !entry.probing) return;
          this.endProbe(entry, { outcome: "announced" });
          this.startAnnouncing(ip, entry);
        }, decideAt),
      );
    });
  }

  /** Stops announcing (and probing) `ip`. */
  withdraw(ip: string): void {
    const entry = this.entries.get(ip);
    if (!entry) return;
    for (const t of entry.timers) this.clock.clearTimeout(t);
    if (entry.refresh !== undefined) this.clock.clearTimeout(entry.refresh);
    this.entries.delete(ip);
    this.endProbe(entry, { outcome: "withdrawn" });
  }

  /** One more announcement of `ip`, outside its schedule; nothing for an address not (yet) announced. */
  repeat(ip: string): void {
    const entry = this.entries.get(ip);
    if (entry && !entry.probing) this.sendAnnouncement(ip);
  }

  announcing(): string[] {
    return [...this.entries.keys()].filter((ip) => !this.entries.get(ip)?.probing).sort();
  }

  /** Claims seen on the link (from the Responder): conflicts for probed or announced addresses. */
  observe(claim: Claim): void {
    const entry = this.entries.get(claim.ip);
    if (!entry || claim.mac === this.mac) return;
    if (this.options.isSpeakerMac?.(claim.mac)) return;
    if (entry.probing) {
      this.counts.conflicts++;
      for (const t of entry.timers) this.clock.clearTimeout(t);
      this.entries.delete(claim.ip);
      this.endProbe(entry, { outcome: "conflict", mac: claim.mac });
      return;
    }
    if (claim.kind === "claim") {
      this.counts.conflicts++;
      this.options.onConflict?.(claim.ip, claim.mac);
    }
  }

  stats(): AnnouncerStats {
    return structuredClone(this.counts);
  }

  stop(): void {
    for (const ip of [...this.entries.keys()]) this.withdraw(ip);
  }

  private endProbe(entry: Entry, outcome: AnnounceOutcome): void {
    const probing = entry.probing;
    if (!probing) return;
    entry.probing = undefined;
    const group = probing.group;
    if (group) this.trySend(() => this.socket.leaveMulticast(group));
    probing.resolve(outcome);
  }

  private startAnnouncing(ip: string, entry: Entry): void {
    entry.timers = this.schedule.map((at) => this.clock.setTimeout(() => this.sendAnnouncement(ip), at));
    if (this.refresh > 0) {
      const last = this.schedule.length ? Math.max(...this.schedule) : 0;
      const tick = () => {
        if (this.entries.get(ip) !== entry) return;
        this.sendAnnouncement(ip);
        entry.refresh = this.clock.setTimeout(tick, this.refresh);
      };
      entry.refresh = this.clock.setTimeout(tick, last + this.refresh);
    }
  }

  private sendAnnouncement(ip: string): void {
    const v6 = ip.includes(":");
    const frame = v6
      ? encodeNdp(unsolicitedAdvertisement(this.mac, ip))
      : encodeArp(arpAnnouncement(this.mac, ip));
    if (this.trySend(() => this.socket.send(frame))) this.counts.gratuitous[v6 ? "ndp" : "arp"]++;
  }

  private sendProbe(ip: string): void {
    const frame = ip.includes(":") ? encodeNdp(dadProbe(this.mac, ip)) : encodeArp(arpProbe(this.mac, ip));
    if (this.trySend(() => this.socket.send(frame))) this.counts.probes++;
  }

  private trySend(fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch {
      this.counts.sendErrors++;
      return false;
    }
  }
}

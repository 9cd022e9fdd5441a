// The speaker's Prometheus metrics. Counters that the layer-2 parts keep themselves (requests,
// replies, drops, gratuitous sends, heartbeats) are read at scrape time.
import { Counter, Gauge, type Registry } from "prom-client";
import type { AnnouncerStats } from "./l2/announcer.js";
import type { HeartbeatsStats } from "./l2/heartbeats.js";
import type { PacketSocketStats } from "./l2/packet-socket.js";
import type { ResponderStats } from "./l2/responder.js";

export interface SpeakerSources {
  owned(): number;
  livePeers(): number;
  responders(): { iface: string; stats: ResponderStats }[];
  announcers(): { iface: string; stats: AnnouncerStats }[];
  heartbeats(): HeartbeatsStats;
  /** Services whose nftables rules the kernel refused, left out of the table. */
  refusedServices?(): number;
  /** Whether the heartbeat socket is bound (peers can be heard and told). */
  heartbeatSocketUp?(): boolean;
  /** The packet sockets' own counters, totals per interface (socket-counters.ts). */
  packetSockets?(): { iface: string; stats: PacketSocketStats }[];
}

export interface SpeakerMetrics {
  failovers: Counter;
  conflicts: Counter;
  nftSyncs: Counter<"mode" | "result">;
  nftRefusals: Counter;
  refused: Counter<"reason">;
}

/** Sets a counter to absolute values read from elsewhere (they only grow). */
function absolute<L extends string>(c: Counter<L>, values: [Partial<Record<L, string>>, number][]): void {
  c.reset();
  for (const [labels, v] of values) if (v > 0) c.inc(labels, v);
}

export function speakerMetrics(registry: Registry, src: SpeakerSources): SpeakerMetrics {
  const registers = [registry];
  new Gauge({
    name: "herald_speaker_owned_addresses",
    help: "Addresses this node answers ARP/NDP for",
    registers,
    collect() {
      this.set(src.owned());
    },
  });
  new Gauge({
    name: "herald_speaker_live_peers",
    help: "Other speakers this node hears heartbeats from",
    registers,
    collect() {
      this.set(src.livePeers());
    },
  });
  const perInterface = <T>(
    name: string,
    help: string,
    label: "protocol" | "reason" | "outcome",
    rows: () => { iface: string; stats: T }[],
    values: (stats: T) => [string, number][],
  ) =>
    new Counter({
      name,
      help,
      labelNames: ["interface", label],
      registers,
      collect() {
        absolute(
          this,
          rows().flatMap((r) =>
            values(r.stats).map(
              ([l, n]) => [{ interface: r.iface, [label]: l }, n] as [Record<string, string>, number],
            ),
          ),
        );
      },
    });
  const byProtocol = (c: Record<"arp" | "ndp", number>): [string, number][] => [
    ["arp", c.arp],
    ["ndp", c.ndp],
  ];
  perInterface(
    "herald_l2_requests_total",
    "ARP requests and neighbour solicitations received, by interface and protocol",
    "protocol",
    src.responders,
    (s) => byProtocol(s.requests),
  );
  perInterface(
    "herald_l2_replies_total",
    "ARP replies and neighbour advertisements sent in answer, by interface and protocol",
    "protocol",
    src.responders,
    (s) => byProtocol(s.replies),
  );
  perInterface(
    "herald_l2_drops_total",
    "Received frames not answered, by interface and reason",
    "reason",
    src.responders,
    (s) => Object.entries(s.drops),
  );
  perInterface(
    "herald_gratuitous_sent_total",
    "Gratuitous ARP and unsolicited neighbour advertisements sent, by interface and protocol",
    "protocol",
    src.announcers,
    (s) => byProtocol(s.gratuitous),
  );
  new Counter({
    name: "herald_heartbeats_total",
    help: "Heartbeats sent, accepted, replayed and dropped",
    labelNames: ["outcome"],
    registers,
    collect() {
      const s = src.heartbeats();
      absolute(this, [
        [{ outcome: "sent" }, s.sent],
        [{ outcome: "sendError" }, s.sendErrors],
        [{ outcome: "accepted" }, s.accepted],
        [{ outcome: "replayed" }, s.replayed],
        [{ outcome: "notSentNoPeerKey" }, s.unkeyed],
        ...Object.entries(s.dropped).map(
          ([k, v]) => [{ outcome: k }, v ?? 0] as [Record<"outcome", string>, number],
        ),
      ]);
    },
  });
  new Counter({
    name: "herald_heartbeat_late_ticks_total",
    help: "Heartbeat ticks that ran more than a tick late (this speaker's event loop stalled), so that declaring peers dead waited for the next tick",
    registers,
    collect() {
      absolute(this, [[{}, src.heartbeats().lateTicks]]);
    },
  });
  new Gauge({
    name: "herald_heartbeat_socket_up",
    help: "1 while the heartbeat socket is bound; 0 while it cannot bind (retried every second; the speaker is not ready meanwhile)",
    registers,
    collect() {
      this.set(src.heartbeatSocketUp?.() === false ? 0 : 1);
    },
  });
  perInterface(
    "herald_packet_socket_frames_total",
    "Frames the packet sockets' kernel filter passed (outcome=received), the kernel dropped for a full queue (outcome=kernelDropped), and whose handling threw (outcome=handlerError), by interface",
    "outcome",
    () => src.packetSockets?.() ?? [],
    (s) => [
      ["received", s.packets],
      ["kernelDropped", s.drops],
      ["handlerError", s.handlerErrors],
    ],
  );
  new Gauge({
    name: "herald_nftables_refused_services",
    help: "Services whose nftables rules the kernel refused on this node; left out, retried with backoff",
    registers,
    collect() {
      this.set(src.refusedServices?.() ?? 0);
    },
  });
  new Counter({
    name: "herald_input_rate_limited_total",
    help: "ARP/NDP frames and heartbeats dropped unread: their source (reason=source) or all sources together (reason=global) over the input limit",
    labelNames: ["input", "reason"],
    registers,
    collect() {
      const rows: [Record<"input" | "reason", string>, number][] = [];
      for (const reason of ["source", "global"] as const) {
        for (const input of ["arp", "ndp"] as const) {
          const n = src.responders().reduce((sum, r) => sum + r.stats.rateLimited[reason][input], 0);
          rows.push([{ input, reason }, n]);
        }
        rows.push([{ input: "heartbeat", reason }, src.heartbeats().rateLimited[reason]]);
      }
      absolute(this, rows);
    },
  });
  return {
    nftRefusals: new Counter({
      name: "herald_nftables_service_refusals_total",
      help: "Times the kernel refused one Service's nftables rules (found with nft -c and left out)",
      registers,
    }),
    failovers: new Counter({
      name: "herald_failovers_total",
      help: "Addresses this node took over from another node",
      registers,
    }),
    conflicts: new Counter({
      name: "herald_conflicts_total",
      help: "Addresses found in use by a foreign host (probe answered, or a claim while announcing)",
      registers,
    }),
    nftSyncs: new Counter({
      name: "herald_nftables_syncs_total",
      help: "nftables transactions by mode (full, update) and result",
      labelNames: ["mode", "result"],
      registers,
    }),
    refused: new Counter({
      name: "herald_speaker_refused_total",
      help: "Values from the API not acted on (addresses no valid pool assigned, malformed addresses), each counted once, by reason",
      labelNames: ["reason"],
      registers,
    }),
  };
}

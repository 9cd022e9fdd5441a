// The speaker's Prometheus metrics. Counters that the layer-2 parts keep themselves (requests,
// replies, drops, gratuitous sends, heartbeats) are read at scrape time.
import { Counter, Gauge, type Registry } from "prom-client";
import type { AnnouncerStats } from "./l2/announcer.js";
import type { HeartbeatsStats } from "./l2/heartbeats.js";
import type { ResponderStats } from "./l2/responder.js";

export interface SpeakerSources {
  owned(): number;
  livePeers(): number;
  responders(): { iface: string; stats: ResponderStats }[];
  announcers(): { iface: string; stats: AnnouncerStats }[];
  heartbeats(): HeartbeatsStats;
}

export interface SpeakerMetrics {
  failovers: Counter;
  conflicts: Counter;
  nftSyncs: Counter<"mode" | "result">;
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
    label: "protocol" | "reason",
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
  return {
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
  };
}

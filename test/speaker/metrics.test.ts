import { expect, test } from "@jest/globals";
import { Registry } from "prom-client";
import { SocketCounters } from "../../src/speaker/l2/socket-counters.js";
import { speakerMetrics } from "../../src/speaker/metrics.js";

/** A speaker with nothing owned, no peers, no links and no heartbeats yet. */
const idle = {
  owned: () => 0,
  livePeers: () => 0,
  responders: () => [],
  announcers: () => [],
  heartbeats: () => ({
    sent: 0,
    sendErrors: 0,
    accepted: 0,
    replayed: 0,
    dropped: {},
    rateLimited: { source: 0, global: 0 },
    lateTicks: 0,
    unkeyed: 0,
  }),
};

test("scrapes show the layer-2 counters per interface as the parts count them", async () => {
  const registry = new Registry();
  let replies = 3;
  speakerMetrics(registry, {
    owned: () => 2,
    livePeers: () => 1,
    responders: () => [
      {
        iface: "eth0",
        stats: {
          requests: { arp: 5, ndp: 1 },
          replies: { arp: replies, ndp: 1 },
          drops: { notOwned: 2 },
          rateLimited: { source: { arp: 6, ndp: 0 }, global: { arp: 0, ndp: 1 } },
        },
      },
    ],
    announcers: () => [
      { iface: "eth0", stats: { gratuitous: { arp: 4, ndp: 0 }, probes: 3, conflicts: 0, sendErrors: 0 } },
    ],
    heartbeats: () => ({
      sent: 10,
      sendErrors: 0,
      accepted: 9,
      replayed: 1,
      unkeyed: 4,
      dropped: { badMagic: 2, outsideWindow: 3 },
      rateLimited: { source: 8, global: 0 },
      lateTicks: 2,
    }),
  });
  const text = await registry.metrics();
  expect(text).toContain('herald_l2_requests_total{interface="eth0",protocol="arp"} 5');
  expect(text).toContain('herald_l2_replies_total{interface="eth0",protocol="arp"} 3');
  expect(text).toContain('herald_l2_drops_total{interface="eth0",reason="notOwned"} 2');
  expect(text).toContain('herald_gratuitous_sent_total{interface="eth0",protocol="arp"} 4');
  expect(text).toContain('herald_heartbeats_total{outcome="badMagic"} 2');
  expect(text).toContain('herald_heartbeats_total{outcome="outsideWindow"} 3');
  expect(text).toContain('herald_heartbeats_total{outcome="notSentNoPeerKey"} 4');
  expect(text).toContain("herald_heartbeat_late_ticks_total 2");
  expect(text).toContain("herald_speaker_owned_addresses 2");
  expect(text).toContain('herald_input_rate_limited_total{input="arp",reason="source"} 6');
  expect(text).toContain('herald_input_rate_limited_total{input="ndp",reason="global"} 1');
  expect(text).toContain('herald_input_rate_limited_total{input="heartbeat",reason="source"} 8');
  replies = 7;
  expect(await registry.metrics()).toContain('herald_l2_replies_total{interface="eth0",protocol="arp"} 7');
});

test("Services whose nftables rules were refused show as a gauge", async () => {
  const registry = new Registry();
  let refused = 0;
  speakerMetrics(registry, {
    ...idle,
    refusedServices: () => refused,
  });
  expect(await registry.metrics()).toContain("herald_nftables_refused_services 0");
  refused = 2;
  expect(await registry.metrics()).toContain("herald_nftables_refused_services 2");
});

test("packet-socket drops and handler errors add up across reads and reopened sockets; a heartbeat socket that cannot bind shows", async () => {
  const registry = new Registry();
  const counters = new SocketCounters();
  let up = true;
  const socket = (packets: number, drops: number, handlerErrors: number) => ({
    stats: () => ({ packets, drops, handlerErrors }),
  });
  speakerMetrics(registry, {
    ...idle,
    heartbeatSocketUp: () => up,
    packetSockets: () => counters.current(),
  });
  counters.read("eth0", socket(10, 2, 1));
  // The socket failed and was reopened: the new one counts from zero.
  counters.read("eth0", socket(5, 3, 0));
  const text = await registry.metrics();
  expect(text).toContain('herald_packet_socket_frames_total{interface="eth0",outcome="received"} 15');
  expect(text).toContain('herald_packet_socket_frames_total{interface="eth0",outcome="kernelDropped"} 5');
  expect(text).toContain('herald_packet_socket_frames_total{interface="eth0",outcome="handlerError"} 1');
  expect(text).toContain("herald_heartbeat_socket_up 1");
  up = false;
  expect(await registry.metrics()).toContain("herald_heartbeat_socket_up 0");
});

import { expect, test } from "@jest/globals";
import { Registry } from "prom-client";
import { speakerMetrics } from "../../src/speaker/metrics.js";

test("scrapes show the layer-2 counters per interface as the parts count them", async () => {
  const registry = new Registry();
  let replies = 3;
  speakerMetrics(registry, {
    owned: () => 2,
    livePeers: () => 1,
    responders: () => [
      {
        iface: "eth0",
        stats: { requests: { arp: 5, ndp: 1 }, replies: { arp: replies, ndp: 1 }, drops: { notOwned: 2 } },
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
  expect(text).toContain("herald_speaker_owned_addresses 2");
  replies = 7;
  expect(await registry.metrics()).toContain('herald_l2_replies_total{interface="eth0",protocol="arp"} 7');
});

import { expect, test } from "@jest/globals";
import type { V1Service } from "@kubernetes/client-node";
import pino from "pino";
import { MemoryAuditSink } from "../../src/audit/sink.js";
import { type Election, electOwner } from "../../src/domain/election.js";
import { EventRecorder } from "../../src/k8s/events.js";
import type { Desired, ServiceAnnouncement } from "../../src/speaker/announcements.js";
import type { ForwardingState } from "../../src/speaker/forward/state.js";
import type { ClusterObjects } from "../../src/speaker/inputs.js";
import type { ClusterState } from "../../src/speaker/l2/l2-interface.js";
import { type LayerTwo, Speaker, type SpeakerDeps } from "../../src/speaker/speaker.js";
import { FakeClock } from "../clock.js";
import { FakeEventsApi } from "../k8s/fake-events-api.js";
import { node, web } from "./cluster-fixtures.js";

/** A layer-2 half that elects with the real election over a settable set of live nodes. */
class FakeL2 implements LayerTwo {
  live = new Set(["n1", "n2"]);
  owned: string[] = [];
  probed: string[] = [];
  held = new Map<string, { mac: string }>();
  private state: ClusterState | undefined;
  setState(state: ClusterState): void {
    this.state = state;
  }
  currentElections(): ReadonlyMap<string, Election> {
    const s = this.state;
    return s ? electOwner({ nodes: s.nodes, live: this.live, services: s.services }) : new Map();
  }
  ownedAddresses(): string[] {
    return this.owned;
  }
  probing(): string[] {
    return this.probed;
  }
  interfacesOf(): string[] {
    return ["eth0"];
  }
  heldBack(): ReadonlyMap<string, { mac: string }> {
    return this.held;
  }
}

/** A fake clock whose wall clock reads `at`. */
function clockAt(at: string): FakeClock {
  const clock = new FakeClock();
  clock.stepWall(Date.parse(at) - FakeClock.EPOCH);
  return clock;
}

function setup(self = "n1", extra: Partial<SpeakerDeps> = {}) {
  const l2 = new FakeL2();
  const audit = new MemoryAuditSink();
  const forwarded: ForwardingState[] = [];
  const written: Map<string, Desired>[] = [];
  const events: string[] = [];
  const sanns = new Map<string, ServiceAnnouncement>();
  const refused: string[] = [];
  const objects: ClusterObjects = {
    services: [web],
    slices: [],
    nodes: [node("n1", "192.0.2.11"), node("n2", "192.0.2.12")],
    pools: [{ metadata: { name: "lan" }, spec: { addresses: ["192.0.2.200/29"] } }],
    advertisements: [{ metadata: { name: "all" }, spec: {} }],
    leases: [],
  };
  const speaker = new Speaker({
    self,
    objects: () => objects,
    announcements: { get: (k) => sanns.get(k), list: () => [...sanns.values()] },
    l2,
    forwarding: { update: (s) => forwarded.push(s) },
    writer: { set: (d) => written.push(d) },
    events: {
      event: (svc, type, reason, message) =>
        events.push(`${svc.metadata?.name} ${type} ${reason}: ${message}`),
    },
    audit,
    log: pino({ level: "silent" }),
    clock: clockAt("2026-03-01T10:00:00.123Z"),
    ...extra,
    onRefused: (reason) => refused.push(reason),
  });
  return { speaker, l2, audit, forwarded, written, events, sanns, objects, refused };
}

test("while the caches still fill nothing is computed: a Service listed before its pool is not warned about", () => {
  let listed = false;
  const t = setup("n1", { listed: () => listed });
  const pools = t.objects.pools;
  t.objects.pools = [];
  t.speaker.clusterChanged();
  expect([t.events, t.refused, t.forwarded.length]).toEqual([[], [], 0]);
  t.objects.pools = pools;
  listed = true;
  t.speaker.clusterChanged();
  expect([t.events, t.refused, t.forwarded.length]).toEqual([[], [], 1]);
  // Without the wait, the same start warned on the Service.
  const eager = setup();
  eager.objects.pools = [];
  eager.speaker.clusterChanged();
  expect(eager.refused).toEqual(["AllocatedPoolNotFound"]);
});

test("owning an address: forwarding for it, a ServiceAnnouncement, one nodeAssigned event, an audit announce", async () => {
  const t = setup();
  t.speaker.clusterChanged();
  t.l2.owned = ["192.0.2.200"];
  t.speaker.ownershipChanged({ address: "192.0.2.200", owned: true });
  t.speaker.clusterChanged();
  expect(t.forwarded.at(-1)?.services.map((s) => [s.name, s.addresses])).toEqual([
    ["shop/web", ["192.0.2.200"]],
  ]);
  expect(t.written.at(-1)?.get("shop/web")).toEqual({
    svc: web,
    status: { node: "n1", interfaces: ["eth0"], addresses: ["192.0.2.200"], since: "2026-03-01T10:00:00Z" },
  });
  expect(t.events).toEqual(["web Normal nodeAssigned: announcing 192.0.2.200 from node n1"]);
  expect(t.audit.events.map((e) => [e.kind, e.service?.name, e.addresses])).toEqual([
    ["announce", "web", ["192.0.2.200"]],
  ]);
});

test("a successor that dies while this node keeps its address: Cluster traffic stops going to its NodePort", () => {
  const t = setup();
  t.objects.nodes = [...t.objects.nodes, node("n3", "192.0.2.13")];
  t.objects.slices = [
    {
      metadata: { name: "web-abc", namespace: "shop", labels: { "kubernetes.io/service-name": "web" } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.244.1.5"], conditions: { ready: true }, nodeName: "n1" }],
    },
  ];
  t.l2.live = new Set(["n1", "n2", "n3"]);
  t.l2.owned = ["192.0.2.200"];
  t.speaker.clusterChanged();
  const successors = () => t.forwarded.at(-1)?.services.map((s) => s.remoteNodes.toSorted());
  expect(successors()).toEqual([["192.0.2.12", "192.0.2.13"]]);
  const others =
    t.l2
      .currentElections()
      .get("shop/web")
      ?.candidates.filter((n) => n !== "n1") ?? [];
  expect(others).toHaveLength(2);
  // The first successor's heartbeats stop: the layer-2 half elects again, and n1 stays the owner.
  t.l2.live.delete(others[0] as string);
  t.speaker.electionsChanged();
  expect(successors()).toEqual([[others[1] === "n2" ? "192.0.2.12" : "192.0.2.13"]]);
  expect(t.audit.events).toEqual([]);
});

test("an address probed before its first announcement is forwarded already, but not claimed or audited", () => {
  const t = setup();
  t.speaker.clusterChanged();
  expect(t.forwarded.at(-1)?.services).toEqual([]);
  t.l2.probed = ["192.0.2.200"];
  t.speaker.probingChanged();
  expect(t.forwarded.at(-1)?.services.map((s) => [s.name, s.addresses])).toEqual([
    ["shop/web", ["192.0.2.200"]],
  ]);
  expect(t.written.at(-1)?.get("shop/web")).toBeUndefined();
  expect([t.events, t.audit.events]).toEqual([[], []]);
  // The probe found a foreign host: the address is held back, and no longer forwarded.
  t.l2.probed = [];
  t.l2.held.set("192.0.2.200", { mac: "02:00:00:00:00:99" });
  t.speaker.heldBackChanged();
  expect(t.forwarded.at(-1)?.services).toEqual([]);
});

test("taking an address another node announced is a takeover, from that node", () => {
  const t = setup();
  t.sanns.set("shop/web", {
    metadata: { name: "web", namespace: "shop" },
    status: { node: "n2", interfaces: [], addresses: ["192.0.2.200"], since: "2026-01-01T00:00:00Z" },
  });
  t.speaker.clusterChanged();
  expect(t.speaker.view.isFirstAnnouncement("192.0.2.200")).toBe(false);
  t.l2.owned = ["192.0.2.200"];
  t.speaker.ownershipChanged({ address: "192.0.2.200", owned: true });
  expect(t.audit.events.map((e) => [e.kind, e.fromNode, e.toNode])).toEqual([["takeover", "n2", "n1"]]);
});

test("an address nobody announced yet is probed first", () => {
  const t = setup();
  t.speaker.clusterChanged();
  expect(t.speaker.view.isFirstAnnouncement("192.0.2.200")).toBe(true);
});

test("losing the address to another node: withdraw audited, forwarding drops it, the claim is left to the new owner", () => {
  const t = setup();
  t.speaker.clusterChanged();
  t.l2.owned = [];
  t.speaker.ownershipChanged({ address: "192.0.2.200", owned: false });
  expect(t.forwarded.at(-1)?.services).toEqual([]);
  expect(t.written.at(-1)?.has("shop/web")).toBe(false);
  expect(t.audit.events.at(-1)).toMatchObject({ kind: "withdraw", reason: "NotOwner" });
});

test("no eligible node at all: the claim naming this node is removed", () => {
  const t = setup();
  t.l2.live = new Set();
  t.speaker.clusterChanged();
  expect(t.written.at(-1)?.get("shop/web")).toEqual({ remove: true });
});

test("a conflict is audited and a Warning event on the Service", () => {
  const t = setup();
  t.speaker.clusterChanged();
  t.speaker.conflict("192.0.2.200", "02:00:00:00:00:99");
  expect(t.audit.events.at(-1)).toMatchObject({ kind: "conflict-detected", reason: "AddressInUse" });
  expect(t.events.at(-1)).toMatch(
    /^web Warning AddressConflict: address 192.0.2.200 is in use by a host with MAC 02:00:00:00:00:99/,
  );
});

test("SIGTERM: forwarding keeps only the addresses no other node took", () => {
  const t = setup();
  t.speaker.clusterChanged();
  t.l2.live = new Set(); // leaving: this node is out, and n2 is gone too
  t.speaker.leave(["192.0.2.200"]);
  expect(t.forwarded.at(-1)?.services.map((s) => s.addresses)).toEqual([["192.0.2.200"]]);
  t.l2.live = new Set(["n2"]);
  t.speaker.leave(["192.0.2.200"]);
  expect(t.forwarded.at(-1)?.services).toEqual([]);
});

test("a Service whose rules nftables refused: Forwarding=False on its ServiceAnnouncement and one Warning event", () => {
  const t = setup();
  t.l2.owned = ["192.0.2.200"];
  t.speaker.clusterChanged();
  t.events.length = 0;
  const nft = "/dev/stdin:52:4-42: Error: Could not process rule: File exists\n  ^^^^";
  const refused = { refused: new Map([["shop/web", { message: nft }]]), problems: [] };
  t.speaker.forwardingReported(refused);
  t.speaker.forwardingReported(refused);
  t.speaker.clusterChanged();
  const status = t.written.at(-1)?.get("shop/web");
  expect(status && "status" in status && status.status.conditions).toEqual([
    {
      type: "Forwarding",
      status: "False",
      reason: "RulesRefused",
      message: "nftables refused the rules: /dev/stdin:52:4-42: Error: Could not process rule: File exists",
      lastTransitionTime: "2026-03-01T10:00:00Z",
    },
  ]);
  expect(t.events).toEqual([
    expect.stringMatching(/^web Warning ForwardingRefused: nftables refused .*File exists$/),
  ]);
  // Back in the table: the condition says so; a planner problem is a Warning of its own.
  t.speaker.forwardingReported({
    refused: new Map(),
    problems: [
      { service: "shop/web", reason: "sourceRangeHostBits", message: '"203.0.113.7/24" as 203.0.113.0/24' },
    ],
  });
  const after = t.written.at(-1)?.get("shop/web");
  expect(after && "status" in after && after.status.conditions?.[0]).toMatchObject({
    status: "True",
    reason: "InputIgnored",
  });
  expect(t.events.at(-1)).toBe(
    'web Warning ForwardingProblem: sourceRangeHostBits: "203.0.113.7/24" as 203.0.113.0/24',
  );
  expect(t.events).toHaveLength(2);
});

/** A speaker whose events go through the real recorder to a fake API, and whose log is kept. */
function conflictSetup() {
  const api = new FakeEventsApi();
  const clock = clockAt("2026-03-01T10:00:00Z");
  const now = () => new Date(clock.wall());
  const recorder = new EventRecorder({ rest: api, component: "speaker", instance: "n1", now, timers: clock });
  const lines: { msg: string; address?: string; suppressed?: number }[] = [];
  const log = pino({ level: "info" }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const t = setup("n1", {
    log,
    clock,
    events: {
      event: (svc, type, reason, message) =>
        void recorder.event(
          {
            kind: "Service",
            apiVersion: "v1",
            namespace: svc.metadata?.namespace,
            name: svc.metadata?.name ?? "",
          },
          type,
          reason,
          message,
        ),
    },
  });
  t.speaker.clusterChanged();
  const conflictLines = () => lines.filter((l) => l.msg === "address conflict");
  const conflictRows = () => t.audit.events.filter((e) => e.kind === "conflict-detected");
  return { ...t, api, clock, conflictLines, conflictRows };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

test("1000 identical conflict frames: one Event with count 1000, one log line, one audit row", async () => {
  const t = conflictSetup();
  for (let i = 0; i < 1000; i++) {
    t.clock.advance(20);
    t.speaker.conflict("192.0.2.200", "02:00:00:00:00:99");
  }
  await settle();
  expect(t.api.list()).toEqual([
    expect.objectContaining({
      reason: "AddressConflict",
      count: 1000,
      lastTimestamp: "2026-03-01T10:00:20Z",
    }),
  ]);
  expect(t.api.requests.length).toBeLessThanOrEqual(25);
  expect(t.conflictLines()).toHaveLength(1);
  expect(t.conflictRows()).toHaveLength(1);
  // After the window the conflict is said again, with what was held back.
  t.clock.advance(60_000);
  t.speaker.conflict("192.0.2.200", "02:00:00:00:00:99");
  expect(t.conflictLines().map((l) => l.suppressed)).toEqual([undefined, 999]);
  expect(t.conflictRows().at(-1)?.message).toContain("(999 more conflicts on it since the last report)");
});

test("a host rotating MACs gets a few audit rows and log lines per address, not one per MAC", async () => {
  const t = conflictSetup();
  for (let i = 0; i < 5000; i++) {
    const mac = `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
    t.clock.advance(10);
    t.speaker.conflict("192.0.2.200", mac);
  }
  await settle();
  // 50 s of it: the bucket's 5 reports at once, then none until the next minute.
  expect(t.conflictRows()).toHaveLength(5);
  expect(t.conflictLines()).toHaveLength(5);
  // Events: ten distinct ones, then one combined Event that counts the rest.
  expect(t.api.list()).toHaveLength(11);
  expect(t.api.requests.length).toBeLessThanOrEqual(25);
});

test("a held-back address: an AddressConflict condition on the ServiceAnnouncement until it is announced", () => {
  const clock = clockAt("2026-03-01T10:00:00Z");
  const t = setup("n1", { clock });
  t.speaker.clusterChanged();
  expect(t.written.at(-1)?.has("shop/web")).toBe(false);
  t.l2.held.set("192.0.2.200", { mac: "02:00:00:00:00:99" });
  t.speaker.conflict("192.0.2.200", "02:00:00:00:00:99");
  const condition = {
    type: "AddressConflict",
    status: "True",
    reason: "AddressInUse",
    message:
      "192.0.2.200 is in use by a host with MAC 02:00:00:00:00:99; node n1 does not announce it and probes again with backoff",
    lastTransitionTime: "2026-03-01T10:00:00Z",
  };
  expect(t.written.at(-1)?.get("shop/web")).toEqual({
    svc: web,
    status: {
      node: "n1",
      interfaces: [],
      addresses: [],
      since: "2026-03-01T10:00:00Z",
      conditions: [condition],
    },
  });
  // Probed again and found in use again: the condition stays as it was (no write).
  clock.advance(8000);
  const writes = t.written.length;
  t.speaker.conflict("192.0.2.200", "02:00:00:00:00:99");
  expect(t.written).toHaveLength(writes);
  t.speaker.clusterChanged();
  expect(t.written.at(-1)?.get("shop/web")).toEqual({
    svc: web,
    status: expect.objectContaining({ conditions: [condition] }),
  });
  expect(t.events.filter((e) => e.includes("nodeAssigned"))).toEqual([]);
  // The host is gone, the probe passes: announced, and the condition is cleared.
  clock.advance(16_000);
  t.l2.held.clear();
  t.l2.owned = ["192.0.2.200"];
  t.speaker.ownershipChanged({ address: "192.0.2.200", owned: true });
  expect(t.written.at(-1)?.get("shop/web")).toEqual({
    svc: web,
    status: { node: "n1", interfaces: ["eth0"], addresses: ["192.0.2.200"], since: "2026-03-01T10:00:24Z" },
  });
  expect(t.events.filter((e) => e.includes("nodeAssigned"))).toHaveLength(1);
});

test("an address no valid pool assigned is reported once (Warning event, metric) and neither announced nor forwarded", () => {
  const t = setup();
  const forged: V1Service = {
    ...web,
    metadata: { ...web.metadata, name: "forged", uid: "u2" },
    status: { loadBalancer: { ingress: [{ ip: "192.0.2.1" }] } },
  };
  t.objects.services = [web, forged];
  t.l2.owned = ["192.0.2.200", "192.0.2.1"];
  t.speaker.clusterChanged();
  t.speaker.clusterChanged();
  const warning =
    "forged Warning AddressOutsideAllocatedPool: 192.0.2.1 is not announced: it lies outside its pool lan";
  expect(t.events.filter((e) => e.includes("Warning"))).toEqual([warning]);
  expect(t.refused).toEqual(["AddressOutsideAllocatedPool"]);
  expect(t.forwarded.at(-1)?.services.map((s) => s.addresses)).toEqual([["192.0.2.200"]]);
  expect([...(t.written.at(-1)?.keys() ?? [])]).toEqual(["shop/web"]);
  // Fixed, then broken again: a new refusal, told again.
  t.objects.services = [web];
  t.speaker.clusterChanged();
  t.objects.services = [web, forged];
  t.speaker.clusterChanged();
  expect(t.events.filter((e) => e.includes("Warning"))).toEqual([warning, warning]);
  expect(t.refused).toHaveLength(2);
});

test("a handover passes on only the TCP ports of the Services on the address; speakers' MACs come from their Leases", () => {
  const t = setup();
  const dns: V1Service = {
    ...web,
    metadata: { ...web.metadata, name: "dns", uid: "u3" },
    spec: {
      type: "LoadBalancer",
      ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 853 },
      ],
    },
  };
  t.objects.services = [web, dns];
  t.objects.leases = [
    {
      metadata: {
        name: "herald-speaker-n2",
        annotations: { "herald.dev/speaker-macs": "AA:BB:CC:00:00:02" },
      },
      spec: { holderIdentity: "n2" },
    },
  ];
  t.speaker.clusterChanged();
  expect(t.speaker.view.tcpPortsOf("192.0.2.200")).toEqual([80, 853]);
  expect(t.speaker.view.tcpPortsOf("192.0.2.201")).toEqual([]);
  expect(t.speaker.view.speakerMacList()).toEqual(["aa:bb:cc:00:00:02"]);
});

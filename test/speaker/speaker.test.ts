import { expect, test } from "@jest/globals";
import type { V1Node, V1Service } from "@kubernetes/client-node";
import pino from "pino";
import { MemoryAuditSink } from "../../src/audit/sink.js";
import { type Election, electOwner } from "../../src/domain/election.js";
import type { Desired, ServiceAnnouncement } from "../../src/speaker/announcements.js";
import type { ForwardingState } from "../../src/speaker/forward/state.js";
import type { ClusterObjects } from "../../src/speaker/inputs.js";
import type { ClusterState } from "../../src/speaker/l2/l2-speaker.js";
import { type LayerTwo, Speaker } from "../../src/speaker/speaker.js";

const node = (name: string, ip: string): V1Node => ({
  metadata: { name, labels: {} },
  status: {
    addresses: [{ type: "InternalIP", address: ip }],
    conditions: [{ type: "Ready", status: "True" }],
  },
});
const web: V1Service = {
  metadata: {
    name: "web",
    namespace: "shop",
    uid: "u1",
    annotations: { "herald.dev/allocated-from-pool": "lan" },
  },
  spec: { type: "LoadBalancer", ports: [{ protocol: "TCP", port: 80, nodePort: 30080 }] },
  status: { loadBalancer: { ingress: [{ ip: "192.0.2.200" }] } },
};

/** A layer-2 half that elects with the real election over a settable set of live nodes. */
class FakeL2 implements LayerTwo {
  live = new Set(["n1", "n2"]);
  owned: string[] = [];
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
  interfacesOf(): string[] {
    return ["eth0"];
  }
}

function setup(self = "n1") {
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
    now: () => new Date("2026-03-01T10:00:00.123Z"),
    onRefused: (reason) => refused.push(reason),
  });
  return { speaker, l2, audit, forwarded, written, events, sanns, objects, refused };
}

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

test("taking an address another node announced is a takeover, from that node", () => {
  const t = setup();
  t.sanns.set("shop/web", {
    metadata: { name: "web", namespace: "shop" },
    status: { node: "n2", interfaces: [], addresses: ["192.0.2.200"], since: "2026-01-01T00:00:00Z" },
  });
  t.speaker.clusterChanged();
  expect(t.speaker.isFirstAnnouncement("192.0.2.200")).toBe(false);
  t.l2.owned = ["192.0.2.200"];
  t.speaker.ownershipChanged({ address: "192.0.2.200", owned: true });
  expect(t.audit.events.map((e) => [e.kind, e.fromNode, e.toNode])).toEqual([["takeover", "n2", "n1"]]);
});

test("an address nobody announced yet is probed first", () => {
  const t = setup();
  t.speaker.clusterChanged();
  expect(t.speaker.isFirstAnnouncement("192.0.2.200")).toBe(true);
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
    },
  ];
  t.speaker.clusterChanged();
  expect(t.speaker.tcpPortsOf("192.0.2.200")).toEqual([80, 853]);
  expect(t.speaker.tcpPortsOf("192.0.2.201")).toEqual([]);
  expect(t.speaker.speakerMacList()).toEqual(["aa:bb:cc:00:00:02"]);
});

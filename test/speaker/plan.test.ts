import { expect, test } from "@jest/globals";
import { electOwner } from "../../src/domain/election.js";
import { speakerInputs } from "../../src/speaker/inputs.js";
import { type PlanInput, planSpeaker } from "../../src/speaker/plan.js";
import { node, web } from "./cluster-fixtures.js";

const NOW = Date.parse("2026-03-01T10:00:00Z");

function input(extra: Partial<PlanInput> = {}): PlanInput {
  const inputs = speakerInputs(
    {
      services: [web],
      slices: [],
      nodes: [node("n1", "192.0.2.11"), node("n2", "192.0.2.12")],
      pools: [{ metadata: { name: "lan" }, spec: { addresses: ["192.0.2.200/29"] } }],
      advertisements: [{ metadata: { name: "all" }, spec: {} }],
      leases: [],
    },
    "n1",
  );
  const elections = electOwner({
    nodes: inputs.cluster.nodes,
    live: new Set(["n1", "n2"]),
    services: inputs.cluster.services,
  });
  return {
    self: "n1",
    inputs,
    owned: new Set(),
    elections,
    heldBack: new Map(),
    interfacesOf: () => ["eth0"],
    since: new Map(),
    heldSince: new Map(),
    forwarding: undefined,
    announcements: [],
    announcedBefore: new Set(),
    warnedBefore: new Set(),
    now: NOW,
    ...extra,
  };
}

test("an owned address plans its forwarding, its ServiceAnnouncement and one nodeAssigned event, from inputs alone", () => {
  const owned = input({ owned: new Set(["192.0.2.200"]), since: new Map([["192.0.2.200", NOW - 5000]]) });
  const plan = planSpeaker(owned);
  expect(plan.forwarding.services.map((s) => [s.name, s.addresses])).toEqual([["shop/web", ["192.0.2.200"]]]);
  expect(plan.announcements.get("shop/web")).toEqual({
    svc: web,
    status: { node: "n1", interfaces: ["eth0"], addresses: ["192.0.2.200"], since: "2026-03-01T09:59:55Z" },
  });
  expect(plan.events.map((e) => `${e.type} ${e.reason}: ${e.message}`)).toEqual([
    "Normal nodeAssigned: announcing 192.0.2.200 from node n1",
  ]);
  // Planned again from the same inputs and what was announced: the same plan, and no second event.
  const again = planSpeaker({ ...owned, announcedBefore: plan.announced });
  expect(again.announcements).toEqual(plan.announcements);
  expect(again.events).toEqual([]);
});

test("an address this node does not own plans no forwarding and leaves the ServiceAnnouncement to its owner", () => {
  const plan = planSpeaker(input());
  expect(plan.forwarding.services.flatMap((s) => s.addresses)).toEqual([]);
  expect(plan.announcements.has("shop/web")).toBe(false);
  expect(plan.events).toEqual([]);
});

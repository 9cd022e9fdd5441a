import type { ElectionNode, ElectionService } from "../../../src/domain/election.js";
import type { ClusterState } from "../../../src/speaker/l2/l2-interface.js";
import { answeredPerLink, planHolding } from "../../../src/speaker/l2/l2-plan.js";

const node = (name: string): ElectionNode => ({ name, labels: {}, ready: true, networkUnavailable: false });

const service = (key: string, addresses: string[]): ElectionService => ({
  key,
  addresses,
  advertisements: [{}],
  trafficPolicy: "Cluster",
  endpointNodes: [],
});

const services = Array.from({ length: 12 }, (_, i) => service(`default/web-${i}`, [`192.0.2.${10 + i}`]));
const state: ClusterState = {
  nodes: [node("a"), node("b"), node("c")],
  services,
  peers: new Map([
    ["a", "192.0.2.201"],
    ["b", "192.0.2.202"],
    ["c", "192.0.2.203"],
  ]),
};
const all = new Set(["a", "b", "c"]);

describe("planHolding", () => {
  it("gives each address to exactly one live node, and every address to someone", () => {
    const held = ["a", "b", "c"].map(
      (self) => planHolding({ self, state, live: all, previous: new Map() }).wanted,
    );
    const counts = new Map<string, number>();
    for (const wanted of held) for (const a of wanted.keys()) counts.set(a, (counts.get(a) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(services.flatMap((s) => s.addresses).sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it("names the previous owner of an address this node takes over", () => {
    const before = planHolding({ self: "a", state, live: all, previous: new Map() });
    const lost = [...before.elections].find(([, e]) => e.owner === "b");
    expect(lost).toBeDefined();
    const [key] = lost ?? [];
    const address = services.find((s) => s.key === key)?.addresses[0] ?? "";
    const successor = before.elections.get(key ?? "")?.candidates[1] ?? "";

    const after = planHolding({
      self: successor,
      state,
      live: new Set(["a", "c"]),
      previous: before.elections,
    });

    expect(after.wanted.get(address)).toBe("b");
  });

  it("holds nothing while this node is not among the live ones (not settled, or leaving)", () => {
    const plan = planHolding({ self: "a", state, live: new Set(["b", "c"]), previous: new Map() });
    expect(plan.wanted.size).toBe(0);
    expect([...plan.elections.values()].every((e) => e.owner !== "a")).toBe(true);
  });

  it("sends heartbeats to every peer", () => {
    const plan = planHolding({ self: "a", state, live: all, previous: new Map() });
    expect([...plan.heartbeats.keys()].sort()).toEqual(["b", "c"]);
  });
});

describe("answeredPerLink", () => {
  const restricted: ClusterState = {
    ...state,
    interfaces: new Map([
      ["192.0.2.10", ["eth1"]],
      ["192.0.2.11", ["vlan*"]],
    ]),
  };

  it("answers an address only on the interfaces its advertisement allows, and others everywhere", () => {
    const answered = answeredPerLink(
      restricted,
      ["eth0", "eth1", "vlan20"],
      ["192.0.2.12", "192.0.2.11", "192.0.2.10"],
    );
    expect(Object.fromEntries(answered)).toEqual({
      eth0: ["192.0.2.12"],
      eth1: ["192.0.2.10", "192.0.2.12"],
      vlan20: ["192.0.2.11", "192.0.2.12"],
    });
  });

  it("lists a link that answers nothing, so that it stops answering", () => {
    const answered = answeredPerLink(restricted, ["eth0"], ["192.0.2.10"]);
    expect(answered.get("eth0")).toEqual([]);
  });
});

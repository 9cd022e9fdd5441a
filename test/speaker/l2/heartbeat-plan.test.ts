import type { Election } from "../../../src/domain/election.js";
import { forwardTargets, planHeartbeats, planRate } from "../../../src/speaker/l2/heartbeat-plan.js";

function election(...candidates: string[]): Election {
  return { owner: candidates[0], reason: "", candidates, groupKey: "k" };
}

test("the owner beats fast to its next two candidates and slowly to everyone else", () => {
  const plan = planHeartbeats("a", ["a", "b", "c", "d", "e"], [election("a", "c", "d", "b", "e")]);
  expect(Object.fromEntries(plan)).toEqual({ b: 1000, c: 100, d: 100, e: 1000 });
});

test("the first successor beats fast to the second, so a double failure is also noticed fast", () => {
  const plan = planHeartbeats("c", ["a", "b", "c", "d"], [election("a", "c", "d", "b")]);
  expect(plan.get("d")).toBe(100);
  expect(plan.get("b")).toBe(1000);
});

test("both successors beat fast to the owner, which forwards Cluster traffic to them", () => {
  // A cut cable on a successor: the owner counted it alive for 3 s on slow heartbeats and sent
  // it every other new connection meanwhile (a soak run's outages 1-2.5 s after each cut).
  const e = election("a", "c", "d", "b");
  expect(planHeartbeats("c", ["a", "b", "c", "d"], [e]).get("a")).toBe(100);
  expect(planHeartbeats("d", ["a", "b", "c", "d"], [e]).get("a")).toBe(100);
  expect(planHeartbeats("b", ["a", "b", "c", "d"], [e]).get("a")).toBe(1000);
});

test("every node a forwarding node sends traffic to beats fast to it", () => {
  const nodes = ["a", "b", "c", "d", "e", "f"];
  const elections = [
    election("a", "b", "c", "e"),
    election("d", "a", "f", "b"),
    election("f", "e", "d", "c"),
  ];
  const plans = new Map(nodes.map((n) => [n, planHeartbeats(n, nodes, elections)]));
  for (const e of elections) {
    const owner = e.candidates[0] as string;
    const targets = forwardTargets(e, owner);
    expect(targets).toEqual(e.candidates.slice(1, 3));
    for (const t of targets) expect(plans.get(t)?.get(owner)).toBe(100);
  }
});

test("forward targets: the first two candidates other than this node, none without an election", () => {
  expect(forwardTargets(election("a", "b", "c", "d"), "b")).toEqual(["a", "c"]);
  expect(forwardTargets(election("a"), "a")).toEqual([]);
  expect(forwardTargets(undefined, "a")).toEqual([]);
});

test("a node far down every ranking sends only slow heartbeats", () => {
  const plan = planHeartbeats("e", ["a", "b", "c", "d", "e"], [election("a", "b", "c", "e", "d")]);
  expect(planRate(plan)).toBe(4);
});

test("every node a successor relies on sends it fast heartbeats (the plans agree with the election)", () => {
  const nodes = ["a", "b", "c", "d", "e", "f"];
  const elections = [election("a", "b", "c"), election("d", "a", "f", "b"), election("f", "e", "d")];
  const plans = new Map(nodes.map((n) => [n, planHeartbeats(n, nodes, elections)]));
  for (const e of elections) {
    const [owner, first, second] = e.candidates as [string, string, string];
    expect(plans.get(owner)?.get(first)).toBe(100);
    expect(plans.get(owner)?.get(second)).toBe(100);
    expect(plans.get(first)?.get(second)).toBe(100);
  }
});

test("a full mesh at 100 ms is what a plan with everyone as successor costs", () => {
  const nodes = ["a", "b", "c"];
  expect(planRate(planHeartbeats("a", nodes, [election("a", "b", "c")]))).toBe(20);
});

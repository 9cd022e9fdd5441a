import { expect, test } from "@jest/globals";
import { maxSourceRanges, sourceRanges } from "../../../src/speaker/forward/source-ranges.js";
import { planForwarding } from "../../../src/speaker/forward/state.js";
import { service, state } from "./fixtures.js";

test.each([
  ["a /25 inside a /24", ["203.0.113.0/24", "203.0.113.0/25"], ["203.0.113.0/24"], []],
  ["the same range twice", ["203.0.113.0/24", "203.0.113.0/24"], ["203.0.113.0/24"], []],
  ["an address inside a range", ["198.51.100.2", "198.51.100.0/30"], ["198.51.100.0/30"], []],
  ["two adjacent /25s", ["203.0.113.128/25", "203.0.113.0/25"], ["203.0.113.0/24"], []],
  [
    "overlapping, not aligned: cut again into aligned prefixes",
    ["192.0.2.0/26", "192.0.2.32/27", "192.0.2.64/28", "192.0.2.80/32"],
    ["192.0.2.0/26", "192.0.2.64/28", "192.0.2.80/32"],
    [],
  ],
  ["everything swallows the rest", ["0.0.0.0/0", "203.0.113.0/24"], ["0.0.0.0/0"], []],
  ["IPv6 inside IPv6", ["2001:db8::/32", "2001:DB8:1::/48"], [], ["2001:db8::/32"]],
  ["IPv6 adjacent", ["2001:db8:8000::/33", "2001:db8::/33"], [], ["2001:db8::/32"]],
  [
    "families kept apart",
    ["2001:db8::1", "192.0.2.1", "2001:db8::/127"],
    ["192.0.2.1/32"],
    ["2001:db8::/127"],
  ],
])("%s", (_name, input, want4, want6) => {
  const r = sourceRanges(input);
  expect([r[4], r[6]]).toEqual([want4, want6]);
  expect(r.problems).toEqual([]);
});

test("a range with host bits counts as its network and is reported", () => {
  const r = sourceRanges(["203.0.113.77/24", "2001:db8::1/64"]);
  expect(r[4]).toEqual(["203.0.113.0/24"]);
  expect(r[6]).toEqual(["2001:db8::/64"]);
  expect(r.problems).toEqual([expect.objectContaining({ reason: "sourceRangeHostBits" })]);
  expect(r.problems[0]?.message).toContain("203.0.113.0/24");
});

test.each([
  "203.0.113.0/33",
  "203.0.113.0/-1",
  "2001:db8::/129",
  "not-a-cidr",
  "203.0.113.0/24/8",
  "fe80::1%eth0/64",
  "",
])("%j is refused with a problem, never thrown", (bad) => {
  const r = sourceRanges([bad, "192.0.2.0/24"]);
  expect(r[4]).toEqual(["192.0.2.0/24"]);
  expect(r.problems.map((p) => p.reason)).toEqual(["badSourceRange"]);
});

test("thousands of bad ranges are one problem, not thousands", () => {
  const r = sourceRanges(Array.from({ length: 5000 }, (_, i) => `bad-${i}`));
  expect(r.problems).toHaveLength(1);
  expect(r.problems[0]?.message).toContain("and 4997 more");
});

test("more ranges than the limit after merging: nobody of that family gets in, reported", () => {
  const many = Array.from({ length: maxSourceRanges + 1 }, (_, i) => `10.0.${i >> 7}.${(i & 127) * 2}`);
  const r = sourceRanges([...many, "2001:db8::/32"]);
  expect(r[4]).toEqual([]);
  expect(r[6]).toEqual(["2001:db8::/32"]);
  expect(r.problems.map((p) => p.reason)).toEqual(["tooManySourceRanges"]);
  // Adjacent /32s merge first, so a long list of neighbours is fine.
  const neighbours = Array.from({ length: 4096 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  expect(sourceRanges(neighbours)[4]).toEqual(["10.1.0.0/20"]);
});

test("the plan's frontends carry the merged ranges, so the allowed set has no overlapping elements", () => {
  const plan = planForwarding(
    state(
      service({
        addresses: ["192.0.2.10", "2001:db8::10"],
        loadBalancerSourceRanges: [
          "203.0.113.0/24",
          "203.0.113.0/25",
          "2001:db8:1::/48",
          "2001:db8:1:2::/64",
        ],
        localEndpoints: ["198.51.100.1", "2001:db8:2::1"],
      }),
    ),
  );
  expect(plan.frontends.map((f) => [f.address, f.sourceRanges])).toEqual([
    ["192.0.2.10", ["203.0.113.0/24"]],
    ["2001:db8::10", ["2001:db8:1::/48"]],
  ]);
  expect(plan.problems).toEqual([]);
});

test("a range with host bits is reported for that Service", () => {
  const plan = planForwarding(
    state(service({ loadBalancerSourceRanges: ["203.0.113.77/24"], localEndpoints: ["198.51.100.1"] })),
  );
  expect(plan.problems).toEqual([
    expect.objectContaining({ service: "default/web", reason: "sourceRangeHostBits" }),
  ]);
});

test("ranges times ports over the bound: that Service lets nobody in and says why; others are untouched", () => {
  const ranges = Array.from({ length: 500 }, (_, i) => `10.0.${i >> 7}.${(i & 127) * 2}`);
  const ports = Array.from({ length: 10 }, (_, i) => ({
    protocol: "TCP" as const,
    port: 8000 + i,
    nodePort: 30000 + i,
    targetPort: 8080,
  }));
  const plan = planForwarding(
    state(
      service({
        name: "evil/wide",
        ports,
        loadBalancerSourceRanges: ranges,
        localEndpoints: ["198.51.100.1"],
      }),
      service({
        name: "shop/web",
        addresses: ["192.0.2.11"],
        loadBalancerSourceRanges: ["203.0.113.0/24"],
        localEndpoints: ["198.51.100.2"],
      }),
    ),
  );
  const wide = plan.frontends.filter((f) => f.service === "evil/wide");
  expect(wide).toHaveLength(10);
  expect(wide.every((f) => f.sourceRanges?.length === 0)).toBe(true);
  expect(plan.frontends.find((f) => f.service === "shop/web")?.sourceRanges).toEqual(["203.0.113.0/24"]);
  expect(plan.problems).toEqual([
    expect.objectContaining({ service: "evil/wide", reason: "tooManySourceRanges" }),
  ]);
});

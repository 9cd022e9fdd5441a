import { expect, test } from "@jest/globals";
import { canonicalCidr, planForwarding } from "../../../src/speaker/forward/state.js";
import { service, state } from "./fixtures.js";

test("two Services claiming one address and port: the first by name wins, the other is reported", () => {
  const plan = planForwarding(
    state(
      service({ name: "b/two", localEndpoints: ["198.51.100.2"] }),
      service({ name: "a/one", localEndpoints: ["198.51.100.1"] }),
    ),
  );
  expect(plan.frontends.map((f) => [f.service, f.targets[0]?.address])).toEqual([["a/one", "198.51.100.1"]]);
  expect(plan.problems).toEqual([expect.objectContaining({ service: "b/two", reason: "portConflict" })]);
});

test("Services sharing an address on different ports both forward", () => {
  const plan = planForwarding(
    state(
      service({ name: "a/one", localEndpoints: ["198.51.100.1"] }),
      service({
        name: "a/two",
        ports: [{ protocol: "TCP", port: 443, nodePort: 30443, targetPort: 443 }],
        localEndpoints: ["198.51.100.2"],
      }),
    ),
  );
  expect(plan.frontends.map((f) => f.id)).toEqual(["192.0.2.10-tcp-443", "192.0.2.10-tcp-80"]);
  expect(plan.problems).toEqual([]);
});

test("bad input is reported and skipped, the rest still forwards", () => {
  const plan = planForwarding(
    state(
      service({
        addresses: ["192.0.2.10", "not-an-ip"],
        ports: [
          { protocol: "TCP", port: 80, nodePort: 30080, targetPort: 8080 },
          { protocol: "TCP", port: 70000, nodePort: 30081, targetPort: 8080 },
        ],
        loadBalancerSourceRanges: ["203.0.113.0/33", "203.0.113.0/24"],
        sessionAffinity: { timeoutSeconds: 0 },
        localEndpoints: ["198.51.100.1", "bogus"],
      }),
    ),
  );
  expect(plan.problems.map((p) => p.reason).sort()).toEqual([
    "badAddress",
    "badAddress",
    "badAffinityTimeout",
    "badPort",
    "badSourceRange",
  ]);
  expect(plan.frontends).toHaveLength(1);
  expect(plan.frontends[0]).toMatchObject({
    sourceRanges: ["203.0.113.0/24"],
    affinityTimeoutSeconds: 10_800,
  });
});

test("source ranges of the other family only: nobody of this family is let in", () => {
  const plan = planForwarding(
    state(service({ loadBalancerSourceRanges: ["2001:db8::/32"], localEndpoints: ["198.51.100.1"] })),
  );
  expect(plan.frontends[0]?.sourceRanges).toEqual([]);
});

test("Cluster without a NodePort uses local pods only and says why", () => {
  const plan = planForwarding(
    state(
      service({
        ports: [{ protocol: "TCP", port: 80, nodePort: null, targetPort: 8080 }],
        localEndpoints: ["198.51.100.1"],
        remoteNodes: ["192.0.2.12"],
      }),
    ),
  );
  expect(plan.frontends[0]?.targets.map((t) => t.address)).toEqual(["198.51.100.1"]);
  expect(plan.problems[0]?.reason).toBe("noNodePort");
});

test.each([
  ["203.0.113.77/24", "203.0.113.0/24"],
  ["198.51.100.7", "198.51.100.7/32"],
  ["2001:DB8:0:0:1::5/64", "2001:db8::/64"],
  ["2001:db8::1", "2001:db8::1/128"],
])("CIDR %s is written as %s", (input, want) => {
  expect(canonicalCidr(input)?.cidr).toBe(want);
});

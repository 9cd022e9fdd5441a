import { describe, expect, test } from "@jest/globals";
import { buildRuleset } from "../../../src/speaker/forward/ruleset.js";
import { planForwarding } from "../../../src/speaker/forward/state.js";
import { type DynamicSets, type Packet, trace, traceAll } from "../../../src/speaker/forward/tracer.js";
import { service, state } from "./fixtures.js";

const ruleset = (...s: Parameters<typeof state>) => buildRuleset(planForwarding(state(...s)));
const tcp = (dst: string, dport: number, src = "203.0.113.50"): Packet => ({
  src,
  dst,
  protocol: "tcp",
  dport,
});
const udp = (dst: string, dport: number, src = "203.0.113.50"): Packet => ({
  src,
  dst,
  protocol: "udp",
  dport,
});
const outcomes = (rs: ReturnType<typeof ruleset>, p: Packet) =>
  traceAll(rs, p)
    .map(({ probability, ...v }) => ({ ...v, probability: Math.round(probability * 1000) / 1000 }))
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

describe("externalTrafficPolicy Cluster", () => {
  const rs = ruleset(
    service({ localEndpoints: ["198.51.100.5"], remoteNodes: ["192.0.2.12", "192.0.2.13"] }),
  );

  test("spreads new connections evenly over the local pod and the other nodes' NodePorts", () => {
    expect(outcomes(rs, tcp("192.0.2.10", 80))).toEqual([
      { verdict: "dnat", address: "192.0.2.12", port: 30080, masquerade: true, probability: 0.333 },
      { verdict: "dnat", address: "192.0.2.13", port: 30080, masquerade: true, probability: 0.333 },
      { verdict: "dnat", address: "198.51.100.5", port: 8080, masquerade: false, probability: 0.333 },
    ]);
  });

  test("reaches the owner's own pods directly, never through a NodePort (first DNAT wins over kube-proxy)", () => {
    const onlyLocal = ruleset(service({ localEndpoints: ["198.51.100.5", "198.51.100.6"] }));
    expect(
      outcomes(onlyLocal, tcp("192.0.2.10", 80)).map((v) => v.verdict === "dnat" && `${v.address}:${v.port}`),
    ).toEqual(["198.51.100.5:8080", "198.51.100.6:8080"]);
  });

  test("a pod that reaches itself through the address is masqueraded (hairpin)", () => {
    const v = traceAll(rs, tcp("192.0.2.10", 80, "198.51.100.5")).find(
      (x) => x.verdict === "dnat" && x.address === "198.51.100.5",
    );
    expect(v).toMatchObject({ masquerade: true });
  });
});

test("Local sends only to pods on this node and keeps the client address", () => {
  const rs = ruleset(
    service({
      externalTrafficPolicy: "Local",
      localEndpoints: ["198.51.100.5", "198.51.100.6"],
      remoteNodes: ["192.0.2.12"],
    }),
  );
  expect(outcomes(rs, tcp("192.0.2.10", 80))).toEqual([
    { verdict: "dnat", address: "198.51.100.5", port: 8080, masquerade: false, probability: 0.5 },
    { verdict: "dnat", address: "198.51.100.6", port: 8080, masquerade: false, probability: 0.5 },
  ]);
});

test("sessionAffinity ClientIP: 15 requests from one client reach one endpoint, until the timeout", () => {
  const endpoints = { localEndpoints: ["198.51.100.5", "198.51.100.6", "198.51.100.7"] };
  const sticky = ruleset(service({ sessionAffinity: { timeoutSeconds: 60 }, ...endpoints }));
  const plain = ruleset(service(endpoints));
  const fifteen = (rs: typeof sticky, dynamic: DynamicSets) => {
    let draws = 0;
    // Draws that pick a different endpoint from one connection to the next.
    const draw = (m: number) => draws++ % m;
    const seen = new Set<string>();
    for (let i = 0; i < 15; i++)
      seen.add(JSON.stringify(trace(rs, tcp("192.0.2.10", 80), { dynamic, draw, now: i })));
    return seen;
  };
  expect(fifteen(plain, new Map()).size).toBeGreaterThan(1);
  const dynamic: DynamicSets = new Map();
  const seen = fifteen(sticky, dynamic);
  expect(seen.size).toBe(1);
  expect([...seen][0]).toContain("198.51.100.5");
  const afterTimeout = trace(sticky, tcp("192.0.2.10", 80), { dynamic, draw: (m) => m - 1, now: 14 + 61 });
  expect(afterTimeout).toEqual({ verdict: "dnat", address: "198.51.100.7", port: 8080, masquerade: false });
});

test("loadBalancerSourceRanges: listed sources pass, others are dropped", () => {
  const rs = ruleset(
    service({
      loadBalancerSourceRanges: ["203.0.113.0/28", "198.51.100.77/32"],
      localEndpoints: ["198.51.100.5"],
    }),
  );
  expect(trace(rs, tcp("192.0.2.10", 80, "203.0.113.9")).verdict).toBe("dnat");
  expect(trace(rs, tcp("192.0.2.10", 80, "198.51.100.77")).verdict).toBe("dnat");
  expect(trace(rs, tcp("192.0.2.10", 80, "203.0.113.16")).verdict).toBe("drop");
  expect(trace(rs, tcp("192.0.2.10", 80, "198.51.100.78")).verdict).toBe("drop");
});

test("no ready endpoint anywhere rejects at once: TCP reset, ICMP port unreachable for UDP", () => {
  const rs = ruleset(
    service({
      ports: [
        { protocol: "TCP", port: 53, nodePort: 30053, targetPort: 53 },
        { protocol: "UDP", port: 53, nodePort: 30053, targetPort: 53 },
      ],
    }),
  );
  expect(trace(rs, tcp("192.0.2.10", 53))).toEqual({ verdict: "reject", with: "tcp reset" });
  expect(trace(rs, udp("192.0.2.10", 53))).toEqual({ verdict: "reject", with: "icmpx port-unreachable" });
});

test("TCP and UDP on one address go to their own target ports; other ports are refused", () => {
  const rs = ruleset(
    service({
      ports: [
        { protocol: "TCP", port: 53, nodePort: 30053, targetPort: 5353 },
        { protocol: "UDP", port: 53, nodePort: 30054, targetPort: 5354 },
      ],
      localEndpoints: ["198.51.100.5"],
    }),
  );
  expect(trace(rs, tcp("192.0.2.10", 53))).toMatchObject({ verdict: "dnat", port: 5353 });
  expect(trace(rs, udp("192.0.2.10", 53))).toMatchObject({ verdict: "dnat", port: 5354 });
  expect(trace(rs, tcp("192.0.2.10", 54))).toEqual({ verdict: "reject", with: "tcp reset" });
  expect(trace(rs, tcp("192.0.2.99", 53))).toEqual({ verdict: "accept" });
});

test("a port change moves the frontend: the new port forwards, the old one is refused", () => {
  const before = ruleset(service({ localEndpoints: ["198.51.100.5"] }));
  const after = ruleset(
    service({
      localEndpoints: ["198.51.100.5"],
      ports: [{ protocol: "TCP", port: 81, nodePort: 30080, targetPort: 8080 }],
    }),
  );
  expect(trace(before, tcp("192.0.2.10", 80)).verdict).toBe("dnat");
  expect(trace(after, tcp("192.0.2.10", 81)).verdict).toBe("dnat");
  expect(trace(after, tcp("192.0.2.10", 80)).verdict).toBe("reject");
});

test("IPv6 addresses forward to IPv6 targets only", () => {
  const rs = ruleset(
    service({
      addresses: ["192.0.2.10", "2001:DB8::10"],
      localEndpoints: ["198.51.100.5", "2001:db8:2::5"],
      remoteNodes: ["192.0.2.12", "2001:db8::12"],
    }),
  );
  expect(outcomes(rs, tcp("2001:db8::10", 80, "2001:db8:9::1"))).toEqual([
    { verdict: "dnat", address: "2001:db8:2::5", port: 8080, masquerade: false, probability: 0.5 },
    { verdict: "dnat", address: "2001:db8::12", port: 30080, masquerade: true, probability: 0.5 },
  ]);
});

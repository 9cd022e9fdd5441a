// Invariants of the allocator under random sequences of assign, release and
// pool edits (fast-check shrinks any failure to the shortest sequence).
import fc from "fast-check";
import { parseAddress } from "../../src/domain/address.js";
import { Allocator } from "../../src/domain/allocator.js";
import { type ElectionService, electOwner } from "../../src/domain/election.js";
import { type Pool, poolContains, poolRefuses, poolSize } from "../../src/domain/pool.js";
import type { ServiceRequest } from "../../src/domain/service.js";
import { pool, svc } from "./fixtures.js";

const POOL_CHOICES: Pool[] = [
  pool("a", ["192.0.2.0/29"]),
  pool("a", ["192.0.2.0/30"]), // a shrunk
  pool("b", ["192.0.2.16/30", "2001:db8::/126"], { allocation: { priority: 1 } }),
  pool("b", ["192.0.2.16/29", "2001:db8::/125"], { avoidBuggyIPs: true }),
  // b opting in to sharing across namespaces (and out again with the others).
  pool("b", ["192.0.2.16/30", "2001:db8::/126"], {
    allocation: { priority: 1, allowSharingAcrossNamespaces: true },
  }),
  pool("c", ["198.51.100.0/30"], { allocation: { namespaces: ["t1"] } }),
  pool("d", ["203.0.113.0/30", "2001:db8:1::/126"], { autoAssign: false }),
  pool("e", ["203.0.113.8/30"], { disabled: true }),
  pool("w", ["198.51.100.8/30", "2001:db8:2::/126"], {
    allocation: { priority: 0, serviceSelector: { matchLabels: { tier: "web" } } },
  }),
];

const REQUESTABLE = [
  "198.51.100.9",
  "192.0.2.1",
  "192.0.2.17",
  "2001:db8::2",
  "198.51.100.1",
  "203.0.113.1",
  "203.0.113.9",
];

const arbRequest: fc.Arbitrary<ServiceRequest> = fc
  .record({
    n: fc.integer({ min: 0, max: 4 }),
    ns: fc.constantFrom("t1", "t2"),
    families: fc.constantFrom(["IPv4"], ["IPv6"], ["IPv4", "IPv6"], ["IPv6", "IPv4"]),
    policy: fc.constantFrom("SingleStack", "PreferDualStack", "RequireDualStack"),
    requested: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.subarray(REQUESTABLE, { minLength: 1, maxLength: 2 }) },
    ),
    requestedPool: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom("a", "b", "d", "w", "zz") },
    ),
    sharingKey: fc.constantFrom(undefined, "k1", "k2"),
    ports: fc.subarray([80, 443, 53], { minLength: 1 }),
    local: fc.boolean(),
    web: fc.boolean(),
  })
  .map(
    (r): ServiceRequest =>
      svc(`${r.ns}/s${r.n}`, {
        families: r.families as ServiceRequest["families"],
        familyPolicy: r.policy as ServiceRequest["familyPolicy"],
        requestedAddresses: r.requested,
        requestedPool: r.requestedPool,
        sharingKey: r.sharingKey,
        ports: r.ports.map((port) => ({ protocol: "TCP", port })),
        backendKey: r.local ? "app=x" : "",
        labels: r.web ? { tier: "web" } : {},
      }),
  );

type Op =
  | { kind: "assign"; req: ServiceRequest }
  | { kind: "release"; key: string }
  | { kind: "pools"; pools: Pool[] };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: arbRequest.map((req): Op => ({ kind: "assign", req })) },
  { weight: 2, arbitrary: arbRequest.map((req): Op => ({ kind: "release", key: req.key })) },
  {
    weight: 1,
    arbitrary: fc
      .subarray(POOL_CHOICES)
      .map((ps): Op => ({ kind: "pools", pools: [...new Map(ps.map((p) => [p.name, p])).values()] })),
  },
);

interface World {
  a: Allocator;
  pools: Pool[];
  requests: Map<string, ServiceRequest>;
}

/**
 * Runs ops the way the controller does (after a pool edit, displaced Services
 * are assigned again) and checks the invariant after every step.
 */
function run(ops: Op[], check: (w: World) => void = () => {}): World {
  const a = new Allocator();
  let pools = POOL_CHOICES.slice(0, 1);
  a.setPools(pools);
  const requests = new Map<string, ServiceRequest>();
  for (const op of ops) {
    if (op.kind === "assign") {
      requests.set(op.req.key, op.req);
      // Later holders the change displaced are assigned again, as the controller queues them.
      const queue = [...(a.assign(op.req).displaced ?? [])];
      for (let i = 0; i < queue.length && i < 100; i++) {
        const req = requests.get(queue[i] ?? "");
        if (req) queue.push(...(a.assign(req).displaced ?? []));
      }
    } else if (op.kind === "release") {
      requests.delete(op.key);
      a.release(op.key);
    } else {
      pools = op.pools;
      for (const key of a.setPools(pools)) {
        const req = requests.get(key);
        if (req) a.assign(req);
      }
    }
    check({ a, pools, requests });
  }
  return { a, pools, requests };
}

const runs = { numRuns: 300 };

test("no address is held by two Services that may not share it", () => {
  fc.assert(
    fc.property(fc.array(arbOp, { minLength: 5, maxLength: 60, size: "max" }), (ops) => {
      run(ops, checkSharing);
    }),
    runs,
  );
});

function checkSharing({ a, pools, requests }: World): void {
  for (const h of a.allHoldings()) {
    if (h.holders.length < 2) continue;
    const reqs = h.holders.map((k) => requests.get(k));
    const first = reqs[0];
    const across = pools.find((p) => p.name === h.pool)?.allowSharingAcrossNamespaces === true;
    for (const r of reqs) {
      expect(r?.sharingKey).toBeDefined();
      expect(r?.sharingKey).toBe(first?.sharingKey);
      expect(r?.backendKey).toBe(first?.backendKey);
      // Another namespace only where the pool opts in, and never for Local (other Pods).
      if (!across || r?.backendKey !== "") expect(r?.namespace).toBe(first?.namespace);
    }
    const ports = reqs.flatMap((r) => r?.ports.map((p) => `${p.protocol}/${p.port}`) ?? []);
    expect(new Set(ports).size).toBe(ports.length);
  }
}

test("an earlier holder of an address is never moved by another Service's change", () => {
  fc.assert(
    fc.property(fc.array(arbOp, { minLength: 5, maxLength: 60, size: "max" }), (ops) => {
      const w = run(ops.slice(0, -1));
      const last = ops.at(-1);
      if (last?.kind !== "assign") return;
      const before = new Map([...w.requests.keys()].map((k) => [k, w.a.assignmentOf(k)]));
      // Who joined after last.req on one of its addresses: only they may be moved by it.
      const later = new Set<string>();
      for (const h of w.a.allHoldings()) {
        const i = h.holders.indexOf(last.req.key);
        if (i >= 0) for (const k of h.holders.slice(i + 1)) later.add(k);
      }
      const after = run(ops);
      for (const [key, was] of before) {
        if (key === last.req.key || later.has(key)) continue;
        expect([key, after.a.assignmentOf(key)]).toEqual([key, was]);
      }
    }),
    runs,
  );
});

test("the first holder of a shared address keeps it when it changes its ports; later holders move", () => {
  fc.assert(
    fc.property(
      fc.array(arbOp, { minLength: 5, maxLength: 60, size: "max" }),
      fc.subarray([80, 443, 53], { minLength: 1 }),
      (ops, ports) => {
        const { a, requests } = run(ops);
        for (const h of [...a.allHoldings()]) {
          const first = requests.get(h.holders[0] ?? "");
          if (h.holders.length < 2 || first === undefined) continue;
          const changed = { ...first, ports: ports.map((port) => ({ protocol: "TCP", port })) };
          a.assign(changed);
          requests.set(changed.key, changed);
          expect([changed.key, a.assignmentOf(changed.key)?.addresses]).toEqual([
            changed.key,
            expect.arrayContaining([h.address]),
          ]);
          return;
        }
      },
    ),
    // Shared addresses are a minority of random worlds: more runs to meet enough of them.
    { numRuns: 1000 },
  );
});

test("Services sharing an address have one owner, and one exists whenever each alone would have one", () => {
  // Endpoints follow (namespace, selector), as Pods do: t1's app=x Pods run on n1, t2's on n2.
  const endpointNodes = (r: ServiceRequest) =>
    r.backendKey === "" ? [] : r.namespace === "t1" ? ["n1"] : ["n2"];
  const nodes = ["n1", "n2", "n3"].map((name) => ({
    name,
    labels: {},
    ready: true,
    networkUnavailable: false,
  }));
  const live = new Set(["n1", "n2", "n3"]);
  const election = (r: ServiceRequest, addresses: readonly string[]): ElectionService => ({
    key: r.key,
    addresses,
    advertisements: [{}],
    trafficPolicy: r.backendKey === "" ? "Cluster" : "Local",
    endpointNodes: endpointNodes(r),
  });
  fc.assert(
    fc.property(fc.array(arbOp, { minLength: 5, maxLength: 60, size: "max" }), (ops) => {
      const { a, requests } = run(ops);
      const services = [...requests.values()].flatMap((r) => {
        const got = a.assignmentOf(r.key);
        return got ? [election(r, got.addresses)] : [];
      });
      const elected = electOwner({ nodes, live, services });
      for (const h of a.allHoldings()) {
        const owners = new Set(h.holders.map((k) => elected.get(k)?.owner));
        expect(owners.size).toBe(1);
        const alone = h.holders.every((k) => {
          const s = services.find((x) => x.key === k);
          return s !== undefined && electOwner({ nodes, live, services: [s] }).get(k)?.owner !== undefined;
        });
        if (alone) expect([...owners][0]).toBeDefined();
      }
    }),
    runs,
  );
});

test("counts always equal what is held", () => {
  fc.assert(
    fc.property(fc.array(arbOp, { minLength: 5, maxLength: 60, size: "max" }), (ops) => {
      run(ops, checkCounts);
    }),
    runs,
  );
});

function checkCounts({ a, pools }: World): void {
  const held = new Map<string, bigint>();
  for (const h of a.allHoldings()) {
    const k = `${h.pool}/${h.address.includes(":") ? "IPv6" : "IPv4"}`;
    held.set(k, (held.get(k) ?? 0n) + 1n);
  }
  for (const p of pools) {
    for (const family of ["IPv4", "IPv6"] as const) {
      const n = held.get(`${p.name}/${family}`) ?? 0n;
      expect(a.counts(p.name)?.[family]).toEqual({
        total: poolSize(p, family),
        assigned: n,
        available: poolSize(p, family) - n,
      });
    }
  }
}

test("every held address lies in a pool its Service may use, after any pool edits", () => {
  fc.assert(
    fc.property(fc.array(arbOp, { minLength: 5, maxLength: 60, size: "max" }), (ops) => {
      run(ops, checkHomes);
    }),
    runs,
  );
});

function checkHomes({ a, pools, requests }: World): void {
  for (const [key, req] of requests) {
    const got = a.assignmentOf(key);
    if (got === undefined) continue;
    const home = pools.find((p) => p.name === got.pool);
    expect(home).toBeDefined();
    if (home === undefined) continue;
    expect(poolRefuses(home, req)).toBe("");
    for (const text of got.addresses) {
      const parsed = parseAddress(text);
      expect(parsed.ok && poolContains(home, parsed.value.family, parsed.value.value)).toBe(true);
    }
    if (req.requestedAddresses.length > 0)
      expect([...got.addresses].sort()).toEqual([...req.requestedAddresses].sort());
  }
}

test("release then assign gives the same addresses back", () => {
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 40, size: "max" }), arbRequest, (ops, req) => {
      const { a } = run(ops);
      a.release(req.key);
      const first = a.assign(req).assignment;
      a.release(req.key);
      expect(a.assign(req).assignment).toEqual(first);
      expect(a.assign(req).changed).toBe(false);
    }),
    runs,
  );
});

import fc from "fast-check";
import {
  type ElectionInput,
  type ElectionNode,
  type ElectionService,
  EXCLUDE_LABEL,
  electOwner,
  rendezvousScore,
  shouldAnnounce,
} from "../../src/domain/election.js";

function node(name: string, extra: Partial<ElectionNode> = {}): ElectionNode {
  return {
    name,
    labels: { "kubernetes.io/hostname": name },
    ready: true,
    networkUnavailable: false,
    ...extra,
  };
}

function svc(key: string, addresses: string[], extra: Partial<ElectionService> = {}): ElectionService {
  return { key, addresses, advertisements: [{}], trafficPolicy: "Cluster", endpointNodes: [], ...extra };
}

const nodes = ["n1", "n2", "n3"].map((n) => node(n));
const allLive = new Set(["n1", "n2", "n3"]);

function ownerOf(input: ElectionInput, key: string) {
  return electOwner(input).get(key)?.owner;
}

/** The owner that rendezvous hashing picks among `names` for `key`, computed independently. */
function expectedOwner(names: string[], key: string): string {
  return [...names].sort((a, b) =>
    rendezvousScore(b, key).localeCompare(rendezvousScore(a, key)),
  )[0] as string;
}

test("the owner is the eligible node with the highest hash of (node, first address)", () => {
  const input = { nodes, live: allLive, services: [svc("ns/web", ["192.0.2.10"])] };
  expect(ownerOf(input, "ns/web")).toBe(expectedOwner(["n1", "n2", "n3"], "192.0.2.10"));
  expect(electOwner(input).get("ns/web")?.candidates).toHaveLength(3);
});

test("addresses spread over nodes instead of piling on one", () => {
  const services = Array.from({ length: 300 }, (_, i) =>
    svc(`ns/s${i}`, [`192.0.2.${i % 250}`, `2001:db8::${i.toString(16)}`]),
  );
  const counts = new Map<string, number>();
  for (const e of electOwner({ nodes, live: allLive, services }).values()) {
    counts.set(e.owner as string, (counts.get(e.owner as string) ?? 0) + 1);
  }
  expect([...counts.keys()].sort()).toEqual(["n1", "n2", "n3"]);
  for (const c of counts.values()) expect(c).toBeGreaterThan(50);
});

// Each row: which nodes exist in which state, and who must (not) own ns/web at 192.0.2.10.
const web = "192.0.2.10";
const best = expectedOwner(["n1", "n2", "n3"], web);
const others = ["n1", "n2", "n3"].filter((n) => n !== best);

test.each<[string, Partial<ElectionInput>, Partial<ElectionService>, string | undefined, string]>([
  ["all healthy", {}, {}, best, ""],
  ["owner not live", { live: new Set(others) }, {}, expectedOwner(others, web), ""],
  [
    "owner NotReady",
    { nodes: nodes.map((n) => (n.name === best ? { ...n, ready: false } : n)) },
    {},
    expectedOwner(others, web),
    "",
  ],
  [
    "owner NetworkUnavailable",
    { nodes: nodes.map((n) => (n.name === best ? { ...n, networkUnavailable: true } : n)) },
    {},
    expectedOwner(others, web),
    "",
  ],
  [
    "owner labelled excluded",
    { nodes: nodes.map((n) => (n.name === best ? { ...n, labels: { [EXCLUDE_LABEL]: "" } } : n)) },
    {},
    expectedOwner(others, web),
    "",
  ],
  [
    "nodeSelector picks one node",
    {},
    { advertisements: [{ matchLabels: { "kubernetes.io/hostname": "n2" } }] },
    "n2",
    "",
  ],
  [
    "two advertisements, either selects",
    {},
    {
      advertisements: [
        { matchLabels: { "kubernetes.io/hostname": "n2" } },
        { matchLabels: { "kubernetes.io/hostname": "n3" } },
      ],
    },
    expectedOwner(["n2", "n3"], web),
    "",
  ],
  ["no advertisement covers the pool", {}, { advertisements: [] }, undefined, "noAdvertisement"],
  [
    "selector matches nobody",
    {},
    { advertisements: [{ matchLabels: { zone: "mars" } }] },
    undefined,
    "noEligibleNode",
  ],
  [
    "Local: only nodes with a ready endpoint",
    {},
    { trafficPolicy: "Local", endpointNodes: ["n3"] },
    "n3",
    "",
  ],
  [
    "Local: endpoint on a dead node",
    { live: new Set(["n1", "n2"]) },
    { trafficPolicy: "Local", endpointNodes: ["n3"] },
    undefined,
    "noEndpoints",
  ],
  ["Local: no endpoints", {}, { trafficPolicy: "Local", endpointNodes: [] }, undefined, "noEndpoints"],
  ["Cluster ignores endpoints", {}, { endpointNodes: ["n3"] }, best, ""],
  ["no live node at all", { live: new Set() }, {}, undefined, "noEligibleNode"],
  ["no addresses yet", {}, { addresses: [] }, undefined, "noAddresses"],
])("%s", (_name, inputChange, serviceChange, owner, reason) => {
  const input: ElectionInput = {
    nodes,
    live: allLive,
    services: [svc("ns/web", [web], serviceChange)],
    ...inputChange,
  };
  const e = electOwner(input).get("ns/web");
  expect(e?.owner).toBe(owner);
  expect(e?.reason).toBe(reason);
});

test("both addresses of a dual-stack Service land on its one owner, keyed by the first", () => {
  const input = { nodes, live: allLive, services: [svc("ns/dual", ["192.0.2.20", "2001:db8::20"])] };
  expect(ownerOf(input, "ns/dual")).toBe(expectedOwner(["n1", "n2", "n3"], "192.0.2.20"));
});

test("Services sharing an address share the owner, even when chained through a second address", () => {
  // a and b share 192.0.2.30; b and c share 2001:db8::30: one group keyed by the smallest first address.
  const services = [
    svc("ns/a", ["192.0.2.31", "2001:db8::31"]),
    svc("ns/b", ["192.0.2.30", "2001:db8::30"]),
    svc("ns/c", ["192.0.2.32", "2001:db8::30"]),
    svc("ns/d", ["192.0.2.31"]),
  ];
  const result = electOwner({ nodes, live: allLive, services });
  const owners = new Set(["ns/a", "ns/b", "ns/c", "ns/d"].map((k) => result.get(k)?.owner));
  // a and d share .31; b and c share ::30; a/d and b/c are separate groups.
  expect(result.get("ns/a")?.owner).toBe(result.get("ns/d")?.owner);
  expect(result.get("ns/b")?.owner).toBe(result.get("ns/c")?.owner);
  expect(result.get("ns/b")?.groupKey).toBe("192.0.2.30");
  expect(owners.size).toBeLessThanOrEqual(2);
});

test("a shared address is announced only from a node eligible for every sharing Service", () => {
  const services = [
    svc("ns/x", ["192.0.2.40"], { trafficPolicy: "Local", endpointNodes: ["n1", "n2"] }),
    svc("ns/y", ["192.0.2.40"], { trafficPolicy: "Local", endpointNodes: ["n2", "n3"] }),
  ];
  const result = electOwner({ nodes, live: allLive, services });
  expect(result.get("ns/x")?.owner).toBe("n2");
  expect(result.get("ns/y")?.owner).toBe("n2");
});

test("shouldAnnounce answers with reasons", () => {
  const result = electOwner({
    nodes,
    live: allLive,
    services: [svc("ns/web", [web]), svc("ns/none", [web.replace("10", "11")], { advertisements: [] })],
  });
  expect(shouldAnnounce(best, result.get("ns/web"))).toBe("");
  expect(shouldAnnounce(others[0] as string, result.get("ns/web"))).toBe("notOwner");
  expect(shouldAnnounce(best, result.get("ns/none"))).toBe("noAdvertisement");
  expect(shouldAnnounce(best, result.get("ns/missing"))).toBe("noAddresses");
});

// --- Split brain: several speakers, each with its own view -------------------------------

function announcers(
  views: Record<string, ReadonlySet<string>>,
  services: ElectionService[],
  key: string,
): string[] {
  return Object.entries(views)
    .filter(([self, live]) => shouldAnnounce(self, electOwner({ nodes, live, services }).get(key)) === "")
    .map(([self]) => self)
    .sort();
}

test("with the same view, exactly one speaker announces each address", () => {
  const services = Array.from({ length: 50 }, (_, i) => svc(`ns/s${i}`, [`192.0.2.${i + 1}`]));
  const views = { n1: allLive, n2: allLive, n3: allLive };
  for (const s of services) expect(announcers(views, services, s.key)).toHaveLength(1);
});

test("a partitioned owner and the rest both claim while the views differ, and agree once they heal", () => {
  const services = [svc("ns/web", [web])];
  // The owner lost the others' heartbeats and they lost its: both sides see themselves alone.
  const apart = {
    [best]: new Set([best]),
    [others[0] as string]: new Set(others),
    [others[1] as string]: new Set(others),
  };
  expect(announcers(apart, services, "ns/web")).toEqual([best, expectedOwner(others, web)].sort());
  const healed = { n1: allLive, n2: allLive, n3: allLive };
  expect(announcers(healed, services, "ns/web")).toEqual([best]);
});

test("a one-way loss (others still hear the owner, the owner hears nobody) never adds a claimant", () => {
  const services = [svc("ns/web", [web])];
  const views = { [best]: new Set([best]), [others[0] as string]: allLive, [others[1] as string]: allLive };
  expect(announcers(views, services, "ns/web")).toEqual([best]);
});

test("whatever each speaker sees of the others, at least one claims the address (no silent gap)", () => {
  fc.assert(
    fc.property(fc.array(fc.subarray(["n1", "n2", "n3"]), { minLength: 3, maxLength: 3 }), (seen) => {
      // Each speaker sees itself plus some of the others.
      const views = Object.fromEntries(
        ["n1", "n2", "n3"].map((n, i) => [n, new Set([n, ...(seen[i] ?? [])])]),
      );
      const claim = announcers(views, [svc("ns/web", [web])], "ns/web");
      expect(claim.length).toBeGreaterThanOrEqual(1);
    }),
  );
});

// --- Event order ----------------------------------------------------------------------

type Event =
  | { kind: "node"; node: ElectionNode }
  | { kind: "live"; node: string }
  | { kind: "service"; service: ElectionService }
  | { kind: "endpoints"; key: string; nodes: string[] };

/** What an informer-fed cache holds after a list of events: last write per object wins. */
function apply(events: Event[]): ElectionInput {
  const ns = new Map<string, ElectionNode>();
  const live = new Set<string>();
  const ss = new Map<string, ElectionService>();
  const eps = new Map<string, string[]>();
  for (const e of events) {
    if (e.kind === "node") ns.set(e.node.name, e.node);
    else if (e.kind === "live") live.add(e.node);
    else if (e.kind === "service") ss.set(e.service.key, e.service);
    else eps.set(e.key, e.nodes);
  }
  const services = [...ss.values()].map((s) => ({ ...s, endpointNodes: eps.get(s.key) ?? [] }));
  return { nodes: [...ns.values()], live, services };
}

const events: Event[] = [
  { kind: "node", node: node("n1") },
  { kind: "node", node: node("n2", { labels: { zone: "b" } }) },
  { kind: "node", node: node("n3") },
  { kind: "node", node: node("n4", { ready: false }) },
  { kind: "live", node: "n1" },
  { kind: "live", node: "n2" },
  { kind: "live", node: "n4" },
  { kind: "service", service: svc("ns/a", ["192.0.2.50"]) },
  { kind: "service", service: svc("ns/b", ["192.0.2.50", "2001:db8::50"]) },
  { kind: "service", service: svc("ns/c", ["192.0.2.51"], { trafficPolicy: "Local" }) },
  {
    kind: "service",
    service: svc("ns/d", ["2001:db8::52"], { advertisements: [{ matchLabels: { zone: "b" } }] }),
  },
  { kind: "endpoints", key: "ns/c", nodes: ["n1", "n3"] },
];

test("every ordering of the same events gives the same owners", () => {
  const reference = electOwner(apply(events));
  fc.assert(
    fc.property(
      fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
      (order) => {
        expect(electOwner(apply(order))).toEqual(reference);
      },
    ),
    { numRuns: 500 },
  );
  expect(reference.get("ns/c")?.owner).toBe("n1");
  expect(reference.get("ns/d")?.owner).toBe("n2");
  expect(reference.get("ns/a")?.owner).toBe(reference.get("ns/b")?.owner);
});

test("a node leaving moves only the addresses it owned, and its return moves only those back", () => {
  const services = Array.from({ length: 200 }, (_, i) => svc(`ns/s${i}`, [`192.0.2.${i}`]));
  const before = electOwner({ nodes, live: allLive, services });
  const after = electOwner({ nodes, live: new Set(["n1", "n2"]), services });
  for (const s of services) {
    const was = before.get(s.key)?.owner;
    if (was !== "n3") expect(after.get(s.key)?.owner).toBe(was);
    else expect(after.get(s.key)?.owner).toBe(before.get(s.key)?.candidates[1]);
  }
  expect(electOwner({ nodes, live: allLive, services })).toEqual(before);
});

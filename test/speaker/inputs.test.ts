import { describe, expect, test } from "@jest/globals";
import type { V1Node, V1Service } from "@kubernetes/client-node";
import { validatePools } from "../../src/api/ipaddresspool.js";
import { electOwner } from "../../src/domain/election.js";
import { planForwarding } from "../../src/speaker/forward/state.js";
import {
  type ClusterObjects,
  type EndpointSliceObject,
  forwardingState,
  serviceEndpoints,
  speakerInputs,
} from "../../src/speaker/inputs.js";

function node(
  name: string,
  ip: string,
  extra: { labels?: Record<string, string>; conditions?: Record<string, string> } = {},
): V1Node {
  const conditions = Object.entries({ Ready: "True", ...extra.conditions }).map(([type, status]) => ({
    type,
    status,
  }));
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...extra.labels } },
    status: {
      addresses: [
        { type: "InternalIP", address: `2001:db8::${ip.split(".")[3]}` },
        { type: "InternalIP", address: ip },
      ],
      conditions,
    },
  };
}

/** A LoadBalancer Service whose status the controller wrote (from pool `lan`, unless told otherwise). */
function service(
  name: string,
  ips: string[],
  spec: V1Service["spec"] = {},
  ns = "shop",
  pool: string | null = "lan",
): V1Service {
  return {
    metadata: {
      name,
      namespace: ns,
      uid: `uid-${name}`,
      ...(pool === null ? {} : { annotations: { "herald.dev/allocated-from-pool": pool } }),
    },
    spec: {
      type: "LoadBalancer",
      ports: [
        { name: "http", protocol: "TCP", port: 80, targetPort: "web" as unknown as object, nodePort: 30080 },
      ],
      ...spec,
    } as V1Service["spec"],
    status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
  };
}

/** A v1 slice (nodeName) or a v1beta1 one (topology hostname). */
function slice(
  svc: string,
  endpoints: { ip: string; node: string; ready?: boolean; terminating?: boolean }[],
  version: "v1" | "v1beta1" = "v1",
  ns = "shop",
): EndpointSliceObject {
  return {
    metadata: { name: `${svc}-abc`, namespace: ns, labels: { "kubernetes.io/service-name": svc } },
    addressType: "IPv4",
    ports: [{ name: "http", protocol: "TCP", port: 8080 }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, terminating: e.terminating ?? false },
      ...(version === "v1" ? { nodeName: e.node } : { topology: { "kubernetes.io/hostname": e.node } }),
    })),
  };
}

const nodes = [node("n1", "192.0.2.11"), node("n2", "192.0.2.12"), node("n3", "192.0.2.13")];
const pool = {
  metadata: { name: "lan", labels: { tier: "front" } },
  spec: { addresses: ["192.0.2.200-192.0.2.209"] },
};
const other = { metadata: { name: "dmz" }, spec: { addresses: ["198.51.100.128/25"] } };
const adv = (spec: object, name = "lan") => ({ metadata: { name }, spec });

function objects(extra: Partial<ClusterObjects> = {}): ClusterObjects {
  return {
    services: [service("web", ["192.0.2.200"])],
    slices: [
      slice("web", [
        { ip: "198.51.100.1", node: "n1" },
        { ip: "198.51.100.2", node: "n2" },
      ]),
    ],
    nodes,
    pools: [pool, other],
    advertisements: [adv({})],
    leases: [],
    ...extra,
  };
}

test.each([
  ["no L2Advertisement: allocated but not announced", { advertisements: [] }, 0],
  ["an advertisement for another pool only", { advertisements: [adv({ ipAddressPools: ["dmz"] })] }, 0],
  ["an advertisement naming the pool", { advertisements: [adv({ ipAddressPools: ["lan"] })] }, 1],
  [
    "an advertisement selecting the pool by label",
    { advertisements: [adv({ ipAddressPoolSelector: { matchLabels: { tier: "front" } } })] },
    1,
  ],
  [
    "two advertisements covering the pool",
    { advertisements: [adv({}), adv({ nodeSelector: { matchLabels: { rack: "a" } } }, "b")] },
    2,
  ],
])("%s", (_what, extra, count) => {
  const svc = speakerInputs(objects(extra), "n1").cluster.services[0];
  expect(svc?.advertisements).toHaveLength(count);
});

test.each([
  ["Ready", {}, { ready: true, networkUnavailable: false }],
  ["not Ready", { conditions: { Ready: "False" } }, { ready: false, networkUnavailable: false }],
  [
    "Ready condition unknown",
    { conditions: { Ready: "Unknown" } },
    { ready: false, networkUnavailable: false },
  ],
  [
    "NetworkUnavailable",
    { conditions: { NetworkUnavailable: "True" } },
    { ready: true, networkUnavailable: true },
  ],
])("node %s", (_what, extra, want) => {
  const inputs = speakerInputs(objects({ nodes: [node("n9", "192.0.2.19", extra)] }), "n9");
  expect(inputs.cluster.nodes[0]).toMatchObject(want);
});

test("the election sees nodeSelector, exclusion label and node conditions through the inputs", () => {
  const labelled = [
    node("n1", "192.0.2.11", { labels: { rack: "a" } }),
    node("n2", "192.0.2.12", {
      labels: { rack: "a", "node.kubernetes.io/exclude-from-external-load-balancers": "" },
    }),
    node("n3", "192.0.2.13", { labels: { rack: "b" } }),
    node("n4", "192.0.2.14", { labels: { rack: "a" }, conditions: { NetworkUnavailable: "True" } }),
  ];
  const inputs = speakerInputs(
    objects({ nodes: labelled, advertisements: [adv({ nodeSelector: { matchLabels: { rack: "a" } } })] }),
    "n1",
  );
  const live = new Set(["n1", "n2", "n3", "n4"]);
  const e = electOwner({ nodes: inputs.cluster.nodes, live, services: inputs.cluster.services });
  expect(e.get("shop/web")?.candidates).toEqual(["n1"]);
});

test("Local: only nodes with a ready, not terminating endpoint, from v1 or v1beta1 slices alike", () => {
  for (const version of ["v1", "v1beta1"] as const) {
    const inputs = speakerInputs(
      objects({
        services: [service("web", ["192.0.2.200"], { externalTrafficPolicy: "Local" })],
        slices: [
          slice(
            "web",
            [
              { ip: "198.51.100.1", node: "n1", ready: false },
              { ip: "198.51.100.2", node: "n2" },
              { ip: "198.51.100.3", node: "n3", terminating: true },
            ],
            version,
          ),
        ],
      }),
      "n1",
    );
    expect(inputs.cluster.services[0]).toMatchObject({ trafficPolicy: "Local", endpointNodes: ["n2"] });
  }
});

test("v1beta1 endpoints name the node by its hostname label, which may differ from its name", () => {
  const odd = [node("worker-a", "192.0.2.11", { labels: { "kubernetes.io/hostname": "host-a" } })];
  const eps = serviceEndpoints([slice("web", [{ ip: "198.51.100.1", node: "host-a" }], "v1beta1")], odd);
  expect([...(eps.get("shop/web")?.byNode.keys() ?? [])]).toEqual(["worker-a"]);
});

test("Services not handled are left out: other types, other classes, no address yet", () => {
  const inputs = speakerInputs(
    objects({
      services: [
        service("web", ["192.0.2.200"]),
        service("np", ["192.0.2.201"], { type: "NodePort" }),
        service("classy", ["192.0.2.202"], { loadBalancerClass: "other.io/lb" }),
        service("pending", []),
      ],
    }),
    "n1",
  );
  expect(inputs.cluster.services.map((s) => s.key)).toEqual(["shop/web"]);
});

const KEY_N2 = `x25519:${"A".repeat(43)}`;
const speakerLease = (name: string, holder: string | undefined, address: string, mac: string) => ({
  metadata: {
    name,
    annotations: {
      "herald.dev/heartbeat-address": address,
      "herald.dev/speaker-macs": mac,
      "herald.dev/heartbeat-public-key": KEY_N2,
    },
  },
  spec: holder === undefined ? {} : { holderIdentity: holder },
});

test("peers: heartbeat address and key from the speaker Lease, else the node's first IPv4 InternalIP; MACs from Leases", () => {
  const inputs = speakerInputs(
    objects({
      leases: [
        speakerLease("herald-speaker-n2", "n2", "192.0.2.112", "AA:BB:CC:00:00:02"),
        { metadata: { name: "kube-controller-manager" } },
      ],
    }),
    "n1",
  );
  expect(Object.fromEntries(inputs.cluster.peers)).toEqual({
    n1: "192.0.2.11",
    n2: "192.0.2.112",
    n3: "192.0.2.13",
  });
  expect(Object.fromEntries(inputs.cluster.peerKeys ?? [])).toEqual({ n2: KEY_N2 });
  expect([...inputs.speakerMacs.keys()]).toEqual(["aa:bb:cc:00:00:02"]);
  expect(inputs.problems).toEqual([]);
});

test.each([
  ["held by another node", "n3"],
  ["held by nobody", undefined],
])("a speaker Lease %s is ignored: no address, key or MACs from it", (_what, holder) => {
  const inputs = speakerInputs(
    objects({ leases: [speakerLease("herald-speaker-n2", holder, "192.0.2.99", "aa:bb:cc:00:00:99")] }),
    "n1",
  );
  expect(inputs.cluster.peers.get("n2")).toBe("192.0.2.12");
  expect(inputs.cluster.peerKeys?.size).toBe(0);
  expect(inputs.speakerMacs.size).toBe(0);
  expect(inputs.problems).toEqual([expect.stringContaining("Lease herald-speaker-n2: held by")]);
});

test.each([
  ["no interfaces listed: every link", [adv({})], []],
  [
    "listed interfaces of advertisements selecting this node",
    [
      adv({ interfaces: ["eth1", "bond*"] }),
      adv({ interfaces: ["eth9"], nodeSelector: { matchLabels: { rack: "z" } } }, "z"),
    ],
    ["eth1", "bond*"],
  ],
  ["one advertisement without a list allows every link", [adv({ interfaces: ["eth1"] }), adv({}, "all")], []],
])("interfaces per address: %s", (_what, advertisements, want) => {
  const inputs = speakerInputs(objects({ advertisements }), "n1");
  expect(inputs.cluster.interfaces?.get("192.0.2.200")).toEqual(want);
});

test("a malformed L2Advertisement is reported and ignored, the others still apply", () => {
  const inputs = speakerInputs(
    objects({ advertisements: [adv({ interfaces: "eth0" }, "bad"), adv({})] }),
    "n1",
  );
  expect(inputs.problems).toEqual([expect.stringContaining("L2Advertisement bad: spec.interfaces")]);
  expect(inputs.cluster.services[0]?.advertisements).toHaveLength(1);
});

function owned(o: ClusterObjects, self: string, addresses: string[]) {
  const inputs = speakerInputs(o, self);
  const elections = electOwner({
    nodes: inputs.cluster.nodes,
    live: new Set(["n1", "n2", "n3"]),
    services: inputs.cluster.services,
  });
  return forwardingState(inputs, self, new Set(addresses), elections);
}

test("forwarding: the owner forwards to its local endpoints and other eligible nodes' NodePorts", () => {
  const state = owned(objects(), "n1", ["192.0.2.200"]);
  expect(state.services).toEqual([
    {
      name: "shop/web",
      addresses: ["192.0.2.200"],
      ports: [{ protocol: "TCP", port: 80, nodePort: 30080, targetPort: 8080 }],
      externalTrafficPolicy: "Cluster",
      sessionAffinity: null,
      loadBalancerSourceRanges: [],
      remoteNodes: expect.arrayContaining(["192.0.2.12", "192.0.2.13", "2001:db8::12", "2001:db8::13"]),
      localEndpoints: ["198.51.100.1"],
    },
  ]);
});

test("forwarding: Cluster traffic goes to the next two candidates only, the nodes that heartbeat the owner fast", () => {
  // Five eligible nodes: the other three would be heard once a second, so a dead one would get
  // connections for seconds; their kube-proxy would spread no further than the two do.
  const nodes = ["n1", "n2", "n3", "n4", "n5"];
  const o = objects({ nodes: nodes.map((n, i) => node(n, `192.0.2.${11 + i}`)) });
  const cluster = speakerInputs(o, "n1").cluster;
  const elections = electOwner({ nodes: cluster.nodes, live: new Set(nodes), services: cluster.services });
  const e = elections.get("shop/web");
  const owner = e?.owner as string;
  const state = forwardingState(speakerInputs(o, owner), owner, new Set(["192.0.2.200"]), elections);
  const next = (e?.candidates ?? [])
    .slice(1, 3)
    .flatMap((n) => [`192.0.2.${11 + nodes.indexOf(n)}`, `2001:db8::${11 + nodes.indexOf(n)}`]);
  expect(state.services[0]?.remoteNodes.sort()).toEqual(next.sort());
});

test("forwarding: a node that is the only candidate sends Cluster traffic to the nodes with a ready endpoint", () => {
  // Its peers unheard (heartbeats lost), or an advertisement that selects it alone: before,
  // no remote node and no local endpoint made a reject.
  const inputs = speakerInputs(
    objects({ slices: [slice("web", [{ ip: "198.51.100.2", node: "n2", ready: true }])] }),
    "n1",
  );
  const alone = electOwner({
    nodes: inputs.cluster.nodes,
    live: new Set(["n1"]),
    services: inputs.cluster.services,
  });
  const state = forwardingState(inputs, "n1", new Set(["192.0.2.200"]), alone);
  expect(state.services[0]).toMatchObject({
    remoteNodes: ["192.0.2.12", "2001:db8::12"],
    localEndpoints: [],
  });
});

test("forwarding: nothing for addresses this node does not answer for", () => {
  expect(owned(objects(), "n1", []).services).toEqual([]);
});

test("forwarding: no ready endpoint anywhere sends nowhere (a fast reject)", () => {
  const state = owned(
    objects({ slices: [slice("web", [{ ip: "198.51.100.1", node: "n1", ready: false }])] }),
    "n1",
    ["192.0.2.200"],
  );
  expect(state.services[0]).toMatchObject({ remoteNodes: [], localEndpoints: [] });
});

test("forwarding: affinity, source ranges, Local and a numeric targetPort without slices", () => {
  const svc = service("web", ["192.0.2.200"], {
    externalTrafficPolicy: "Local",
    sessionAffinity: "ClientIP",
    sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
    loadBalancerSourceRanges: ["192.0.2.100/32"],
    ports: [
      { protocol: "UDP", port: 53, targetPort: 5353 as unknown as object, nodePort: 30053 },
      { protocol: "SCTP", port: 99 },
    ],
  } as V1Service["spec"]);
  const state = owned(objects({ services: [svc], slices: [] }), "n1", ["192.0.2.200"]);
  expect(state.services[0]).toMatchObject({
    externalTrafficPolicy: "Local",
    sessionAffinity: { timeoutSeconds: 60 },
    loadBalancerSourceRanges: ["192.0.2.100/32"],
    ports: [{ protocol: "UDP", port: 53, nodePort: 30053, targetPort: 5353 }],
    remoteNodes: [],
  });
});

test("conflicts are ignored for addresses of pools that say so and of Services annotated so", () => {
  const objects: ClusterObjects = {
    services: [
      service("plain", ["192.0.2.200"]),
      {
        ...service("annotated", ["192.0.2.201"]),
        metadata: {
          name: "annotated",
          namespace: "shop",
          annotations: {
            "herald.dev/allocated-from-pool": "lan",
            "herald.dev/ignore-address-conflicts": "true",
          },
        },
      },
      {
        ...service("misspelt", ["192.0.2.202"]),
        metadata: {
          name: "misspelt",
          namespace: "shop",
          annotations: {
            "herald.dev/allocated-from-pool": "lan",
            "herald.dev/ignore-address-conflicts": "yes",
          },
        },
      },
      service("migrating", ["198.51.100.200"], {}, "shop", "old"),
    ],
    slices: [],
    nodes: [node("n1", "192.0.2.11")],
    pools: [
      { metadata: { name: "lan" }, spec: { addresses: ["192.0.2.200/29"] } },
      { metadata: { name: "old" }, spec: { addresses: ["198.51.100.200/30"], ignoreAddressConflicts: true } },
    ],
    advertisements: [{ metadata: { name: "all" }, spec: {} }],
    leases: [],
  };
  expect([...(speakerInputs(objects, "n1").cluster.ignoreConflicts ?? [])].sort()).toEqual([
    "192.0.2.201",
    "198.51.100.200",
  ]);
});

describe("only addresses the controller assigned from a valid pool are announced and forwarded", () => {
  const gateway = service("gw", ["192.0.2.1"]);
  const shadow = { metadata: { name: "shadow" }, spec: { addresses: ["192.0.2.205-192.0.2.220"] } };
  /** What node n1 would announce and forward (owning everything), and what it refused. */
  function outcome(o: ClusterObjects) {
    const inputs = speakerInputs(o, "n1");
    const announced = inputs.cluster.services.flatMap((s) => s.addresses);
    const forwarded = owned(o, "n1", ["192.0.2.1", "192.0.2.200", "192.0.2.215"]).services.flatMap(
      (s) => s.addresses,
    );
    return { announced, forwarded, refused: inputs.refused.map((r) => [r.value, r.reason]) };
  }

  test.each([
    [
      "an address outside every pool (the gateway's), beside one inside",
      { services: [service("web", ["192.0.2.200", "192.0.2.1"]), gateway] },
      ["192.0.2.200"],
      [
        ["192.0.2.1", "AddressOutsideAllocatedPool"],
        ["192.0.2.1", "AddressOutsideAllocatedPool"],
      ],
    ],
    [
      "addresses in pools made invalid by an overlap",
      {
        pools: [pool, other, shadow],
        services: [service("web", ["192.0.2.200"]), service("sh", ["192.0.2.215"], {}, "shop", "shadow")],
      },
      [],
      [
        ["192.0.2.200", "AllocatedPoolInvalid"],
        ["192.0.2.215", "AllocatedPoolInvalid"],
      ],
    ],
    [
      "an annotation naming another pool than the one holding the address",
      { services: [service("web", ["192.0.2.200"], {}, "shop", "dmz")] },
      [],
      [["192.0.2.200", "AddressOutsideAllocatedPool"]],
    ],
    [
      "no annotation at all (the controller did not assign it)",
      { services: [service("web", ["192.0.2.200"], {}, "shop", null)] },
      [],
      [["192.0.2.200", "AddressNotAllocated"]],
    ],
    [
      "an annotation naming a pool that does not exist",
      { services: [service("web", ["192.0.2.200"], {}, "shop", "gone")] },
      [],
      [["192.0.2.200", "AllocatedPoolNotFound"]],
    ],
  ])("%s", (_what, extra, want, refused) => {
    const got = outcome(objects(extra));
    expect(got.announced).toEqual(want);
    expect(got.forwarded).toEqual(want);
    expect(got.refused).toEqual(refused);
  });

  test("the refusal names the Service, so it can be told on it", () => {
    const [r] = speakerInputs(objects({ services: [gateway] }), "n1").refused;
    expect(r).toMatchObject({ object: "Service shop/gw", service: gateway, value: "192.0.2.1" });
    expect(r?.message).toContain("outside its pool lan");
  });
});

describe("the pool named by herald.dev/allocated-from-pool decides the L2Advertisement", () => {
  const forLan = adv({ ipAddressPools: ["lan"], interfaces: ["eth1"] }, "for-lan");
  const forDmz = adv(
    { ipAddressPools: ["dmz"], interfaces: ["eth2"], nodeSelector: { matchLabels: { rack: "b" } } },
    "for-dmz",
  );

  test("each address is announced as its own pool's advertisement says, and no other", () => {
    const o = objects({
      advertisements: [forLan, forDmz],
      services: [service("web", ["192.0.2.200"]), service("api", ["198.51.100.130"], {}, "shop", "dmz")],
    });
    const inputs = speakerInputs(o, "n1");
    expect(inputs.cluster.interfaces?.get("192.0.2.200")).toEqual(["eth1"]);
    // for-dmz selects only rack b: n1 has no interfaces for the dmz address, and only rack b is eligible.
    expect(inputs.cluster.interfaces?.has("198.51.100.130")).toBe(false);
    const api = inputs.cluster.services.find((s) => s.key === "shop/api");
    expect(api?.advertisements).toEqual([{ matchLabels: { rack: "b" }, matchExpressions: [] }]);
  });

  test("overlapping pools: both invalid, as the controller sees them; no advertisement announces either", () => {
    const wide = { metadata: { name: "wide" }, spec: { addresses: ["192.0.2.0/24"] } };
    const o = objects({
      pools: [pool, wide],
      advertisements: [forLan, adv({ ipAddressPools: ["wide"], interfaces: ["eth3"] }, "for-wide")],
      services: [service("web", ["192.0.2.200"]), service("wide", ["192.0.2.201"], {}, "shop", "wide")],
    });
    expect(validatePools(o.pools).map((p) => [p.name, p.ok])).toEqual([
      ["lan", false],
      ["wide", false],
    ]);
    const inputs = speakerInputs(o, "n1");
    expect(inputs.cluster.services).toEqual([]);
    expect(inputs.cluster.interfaces?.size).toBe(0);
    expect(inputs.refused.map((r) => [r.value, r.reason])).toEqual([
      ["192.0.2.200", "AllocatedPoolInvalid"],
      ["192.0.2.201", "AllocatedPoolInvalid"],
    ]);
  });
});

describe("malformed addresses from the API are skipped and reported, the rest goes on", () => {
  const withIPs = (name: string, ips: string[]): V1Node => ({
    metadata: { name, labels: { "kubernetes.io/hostname": name } },
    status: {
      addresses: ips.map((address) => ({ type: "InternalIP", address })),
      conditions: [{ type: "Ready", status: "True" }],
    },
  });
  const odd = [
    node("n1", "192.0.2.11"),
    withIPs("n2", ["fe80::1%eth0", "192.0.2.12"]),
    withIPs("n3", ["not-an-ip", "192.0.2.13", "2001:db8::13"]),
    withIPs("n4", ["fe80::4%eth0"]),
  ];

  test("zoned and garbage InternalIPs: forwarding to the other nodes is still built and planned", () => {
    const o = objects({ nodes: odd });
    const state = owned(o, "n1", ["192.0.2.200"]);
    expect(state.services[0]?.remoteNodes.sort()).toEqual(["192.0.2.12", "192.0.2.13", "2001:db8::13"]);
    const plan = planForwarding(state);
    expect(plan.frontends[0]?.targets.map((t) => `${t.address}:${t.port}`)).toEqual(
      expect.arrayContaining(["192.0.2.12:30080", "192.0.2.13:30080", "198.51.100.1:8080"]),
    );
    expect(speakerInputs(o, "n1").refused.map((r) => [r.object, r.value, r.reason])).toEqual([
      ["Node n2", "fe80::1%eth0", "InvalidNodeAddress"],
      ["Node n3", "not-an-ip", "InvalidNodeAddress"],
      ["Node n4", "fe80::4%eth0", "InvalidNodeAddress"],
    ]);
  });

  test("a zoned InternalIP is never a heartbeat peer: the node's next address is", () => {
    const peers = speakerInputs(objects({ nodes: odd }), "n1").cluster.peers;
    expect(Object.fromEntries(peers)).toEqual({ n1: "192.0.2.11", n2: "192.0.2.12", n3: "192.0.2.13" });
  });

  test("zoned endpoint and ingress addresses are refused; the good ones are used", () => {
    const bad = slice("web", [
      { ip: "fe80::5%eth0", node: "n1" },
      { ip: "198.51.100.2", node: "n2" },
    ]);
    const o = objects({
      slices: [bad],
      services: [service("web", ["fe80::1%eth0", "192.0.2.200", "2001:db8::1%2"])],
    });
    const inputs = speakerInputs(o, "n1");
    expect(inputs.cluster.services.map((s) => s.addresses)).toEqual([["192.0.2.200"]]);
    expect(inputs.cluster.services[0]?.endpointNodes).toEqual(["n2"]);
    expect(inputs.refused.map((r) => [r.value, r.reason])).toEqual([
      ["fe80::5%eth0", "InvalidEndpointAddress"],
      ["fe80::1%eth0", "InvalidIngressAddress"],
      ["2001:db8::1%2", "InvalidIngressAddress"],
    ]);
  });
});

test("forwarding: every node lists the TCP NodePorts of Cluster Services with their ready endpoints, owned or not", () => {
  const o = objects({
    services: [
      service("web", ["192.0.2.200"]),
      service("local", ["192.0.2.201"], {
        externalTrafficPolicy: "Local",
        ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30081 }],
      }),
      service("dns", ["192.0.2.202"], {
        ports: [{ name: "dns", protocol: "UDP", port: 53, nodePort: 30053 }],
      }),
    ],
    slices: [
      slice("web", [
        { ip: "198.51.100.1", node: "n1" },
        { ip: "198.51.100.2", node: "n2" },
        { ip: "198.51.100.3", node: "n3", ready: false },
      ]),
      slice("local", [{ ip: "198.51.100.4", node: "n3" }]),
      slice("dns", [{ ip: "198.51.100.5", node: "n3" }]),
    ],
  });
  // n3 owns nothing here; an owner sends web's traffic to its NodePort all the same. Local
  // traffic goes to the owner's own Pods, and UDP's stale flows are the owner's to forget.
  expect(owned(o, "n3", []).nodePortEndpoints).toEqual([
    { nodePort: 30080, address: "198.51.100.1" },
    { nodePort: 30080, address: "198.51.100.2" },
  ]);
});

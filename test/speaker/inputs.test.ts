import { expect, test } from "@jest/globals";
import type { V1Node, V1Service } from "@kubernetes/client-node";
import { electOwner } from "../../src/domain/election.js";
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

function service(name: string, ips: string[], spec: V1Service["spec"] = {}, ns = "shop"): V1Service {
  return {
    metadata: { name, namespace: ns, uid: `uid-${name}` },
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

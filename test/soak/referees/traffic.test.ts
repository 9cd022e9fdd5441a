import type { Op } from "../model.js";
import {
  FAILOVER_BUDGET_MS,
  HEARTBEAT_BLOCK_SETTLE_MS,
  OP_BUDGET_MS,
  PROBE_IN_FLIGHT_MS,
  SETTLE_MS,
} from "./index.js";
import { fault, op, outage, record, snap, steady, svc } from "./record-builder.js";
import { chargeOutages, judgeTraffic, SPEAKER_SETTLE_MS } from "./traffic.js";

const X = "192.0.2.1";
const Y = "192.0.2.2";
const pods = [
  { name: "pa", node: "node-3", app: "a", ready: true },
  { name: "pb", node: "node-3", app: "b", ready: true },
];
const snapshots = [snap(0, [svc({ addresses: [X] }), svc({ name: "b", addresses: [Y] })], { pods })];
const wire = [...steady(X, "node-1", 0, 10_000), ...steady(Y, "node-2", 0, 10_000)];
const kill = fault("speakerKill", 10_000, 20_000, { node: "node-1" });

const judge = (parts: Parameters<typeof record>[0]) => judgeTraffic(record({ snapshots, wire, ...parts }));

describe("a node fault explains outages of the addresses its node answered", () => {
  test.each([
    [10_000 + FAILOVER_BUDGET_MS, true],
    [10_000 + FAILOVER_BUDGET_MS + 1, false],
  ])("after the fault goes in, an outage until %i ms: pass=%s", (to, pass) => {
    const v = judge({ faults: [kill], outages: [outage(X, 10_010, to)] });
    expect(v.pass).toBe(pass);
    if (!pass) {
      expect(v.violations[0]?.message).toContain(`${X}:80 failed`);
      expect(v.violations[0]?.message).toContain(
        "1 ms longer than the budget of fault speakerKill of node-1 at 10.000 s",
      );
    }
  });

  test("and again when it is taken back", () => {
    expect(judge({ faults: [kill], outages: [outage(X, 20_000, 21_000)] }).pass).toBe(true);
    expect(judge({ faults: [kill], outages: [outage(X, 20_000, 21_001)] }).pass).toBe(false);
  });

  test("but not in between", () => {
    const v = judge({ faults: [kill], outages: [outage(X, 15_000, 15_500)] });
    expect(v.violations[0]?.message).toContain("500 ms longer than the budget");
  });

  test.each([
    [10_000 - PROBE_IN_FLIGHT_MS, true],
    [10_000 - PROBE_IN_FLIGHT_MS - 1, false],
  ])("a probe in flight when the fault went in, started at %i ms: pass=%s", (from, pass) => {
    expect(judge({ faults: [kill], outages: [outage(X, from, 10_500)] }).pass).toBe(pass);
  });

  test("a node fault does not explain another node's Local address without a Pod on it", () => {
    const local = [
      snap(0, [svc({ addresses: [X] }), svc({ name: "b", addresses: [Y], policy: "Local" })], { pods }),
    ];
    const v = judgeTraffic(
      record({ snapshots: local, wire, faults: [kill], outages: [outage(Y, 10_010, 10_500)] }),
    );
    expect(v.pass).toBe(false);
    expect(v.violations[0]?.message).toContain(`${Y}:80 failed`);
    expect(v.violations[0]?.message).toContain(
      "no fault or operation that could affect this address explains it",
    );
  });

  test("another node's Cluster address loses the connections sent through the failed node, within the budget", () => {
    expect(judge({ faults: [kill], outages: [outage(Y, 10_010, 10_000 + FAILOVER_BUDGET_MS)] }).pass).toBe(
      true,
    );
    const v = judge({ faults: [kill], outages: [outage(Y, 10_010, 10_000 + FAILOVER_BUDGET_MS + 1)] });
    expect(v.violations[0]?.message).toContain("1 ms longer than the budget of fault speakerKill of node-1");
  });

  test("the node seen answering during the outage counts too", () => {
    const moved = [...wire, ...steady(Y, "node-1", 10_100, 10_400, 100)];
    expect(judge({ wire: moved, faults: [kill], outages: [outage(Y, 10_010, 10_500)] }).pass).toBe(true);
  });

  test.each([
    [10_700 + FAILOVER_BUDGET_MS, true],
    [10_700 + FAILOVER_BUDGET_MS + 1, false],
  ])(
    "a fault put in by a command: from when it was sent, the budget from when it returned, until %i ms: pass=%s",
    (to, pass) => {
      const cut = fault("linkCut", 10_000, 20_000, { node: "node-1", appliedMs: 10_700 });
      expect(judge({ faults: [cut], outages: [outage(X, 10_100, to)] }).pass).toBe(pass);
    },
  );

  test("a skipped fault explains nothing", () => {
    const skipped = { ...kill, skipped: "no speaker Pod" };
    expect(judge({ faults: [skipped], outages: [outage(X, 10_010, 10_500)] }).pass).toBe(false);
  });
});

describe("a node fault while the only other node that could answer is down itself", () => {
  // node-1 is left out by the L2Advertisement; node-2's speaker comes back at 10,000 ms and
  // listens for the settle time; node-3, the owner, fails just after. The Pod runs on node-1.
  const onNode1 = [{ name: "pa", node: "node-1", app: "a", ready: true }];
  const only = [snap(0, [svc({ addresses: [X] })], { pods: onNode1, l2Excluded: ["node-1"] })];
  const wire3 = steady(X, "node-3", 0, 10_000);
  const faults = [
    fault("speakerKill", 5_000, 10_000, { node: "node-2" }),
    fault("linkCut", 10_002, 20_000, { node: "node-3" }),
  ];
  const standby = 10_000 + SPEAKER_SETTLE_MS;
  test.each([
    [standby + FAILOVER_BUDGET_MS, true],
    [standby + FAILOVER_BUDGET_MS + 1, false],
  ])("the failover waits for it to come back and settle: an outage until %i ms: pass=%s", (to, pass) => {
    const v = judge({ snapshots: only, wire: wire3, faults, outages: [outage(X, 10_010, to)] });
    expect(v.pass).toBe(pass);
  });

  test("with a node that was there all along, only the failover budget applies", () => {
    const both = [snap(0, [svc({ addresses: [X] })], { pods: onNode1 })];
    const v = judge({ snapshots: both, wire: wire3, faults, outages: [outage(X, 10_010, standby)] });
    expect(v.pass).toBe(false);
    expect(v.violations[0]?.message).toContain("longer than the budget of fault linkCut of node-3");
  });
});

describe("a Local Service served only from the faulted node may be down for the whole fault", () => {
  const local = [
    snap(0, [svc({ addresses: [X], policy: "Local" })], {
      pods: [
        { name: "p1", node: "node-2", app: "a", ready: true },
        { name: "p2", node: "node-3", app: "a", ready: false },
      ],
    }),
  ];
  const cut = fault("linkCut", 10_000, 20_000, { node: "node-2" });
  // Back from the cut, its speaker listens for the settle time before it answers again.
  test.each([
    [20_000 + SPEAKER_SETTLE_MS + FAILOVER_BUDGET_MS, true],
    [20_000 + SPEAKER_SETTLE_MS + FAILOVER_BUDGET_MS + 1, false],
  ])("an outage until %i ms: pass=%s", (to, pass) => {
    expect(judge({ snapshots: local, faults: [cut], outages: [outage(X, 10_000, to)] }).pass).toBe(pass);
  });

  test("also a Service created during the fault, whose only Ready Pod is on the faulted node", () => {
    const term = fault("speakerTerm", 10_000, 20_000, { node: "node-2" });
    const later = [
      snap(0, [], { pods: local[0]?.pods ?? [] }),
      { ...(local[0] as (typeof local)[0]), t: 12_000 },
    ];
    const to = 20_000 + SPEAKER_SETTLE_MS + FAILOVER_BUDGET_MS;
    expect(judge({ snapshots: later, faults: [term], outages: [outage(X, 12_500, to)] }).pass).toBe(true);
    expect(judge({ snapshots: later, faults: [term], outages: [outage(X, 12_500, to + 1)] }).pass).toBe(
      false,
    );
  });

  test("a Ready Pod on a node the L2Advertisement leaves out is not elsewhere", () => {
    const excluded = [
      snap(0, [svc({ addresses: [X], policy: "Local" })], {
        pods: [
          { name: "p1", node: "node-2", app: "a", ready: true },
          { name: "p2", node: "node-3", app: "a", ready: true },
        ],
        l2Excluded: ["node-3"],
      }),
    ];
    const to = 20_000 + SPEAKER_SETTLE_MS + FAILOVER_BUDGET_MS;
    expect(judge({ snapshots: excluded, faults: [cut], outages: [outage(X, 10_000, to)] }).pass).toBe(true);
  });

  test("a heartbeat block's contention may cost connections for as long as the wire may show two answerers", () => {
    const block = fault("heartbeatBlock", 10_000, 20_000, { node: "node-1" });
    const at = (from: number) => judge({ faults: [block], outages: [outage(X, from, from + 10)] }).pass;
    expect(at(10_000 + HEARTBEAT_BLOCK_SETTLE_MS - 10)).toBe(true);
    expect(at(10_000 + HEARTBEAT_BLOCK_SETTLE_MS + 10)).toBe(false);
  });

  test("a heartbeat block has no settle time: the node never stopped answering", () => {
    const block = fault("heartbeatBlock", 10_000, 20_000, { node: "node-2" });
    const to = 20_000 + FAILOVER_BUDGET_MS;
    expect(judge({ snapshots: local, faults: [block], outages: [outage(X, 10_000, to)] }).pass).toBe(true);
    expect(judge({ snapshots: local, faults: [block], outages: [outage(X, 10_000, to + 1)] }).pass).toBe(
      false,
    );
  });

  test("with a Ready Pod elsewhere only the failover budget applies", () => {
    const both = [
      snap(0, [svc({ addresses: [X], policy: "Local" })], {
        pods: [
          { name: "p1", node: "node-2", app: "a", ready: true },
          { name: "p2", node: "node-3", app: "a", ready: true },
        ],
      }),
    ];
    expect(judge({ snapshots: both, faults: [cut], outages: [outage(X, 10_000, 15_000)] }).pass).toBe(false);
    expect(judge({ snapshots: both, faults: [cut], outages: [outage(X, 10_000, 10_900)] }).pass).toBe(true);
  });
});

describe("a cut cable cuts off the Pods on its node: a Cluster Service with one there may lose connections for the whole cut", () => {
  const cluster = (ready: boolean) => [
    snap(0, [svc({ addresses: [X] })], {
      pods: [
        { name: "p1", node: "node-2", app: "a", ready },
        { name: "p2", node: "node-3", app: "a", ready: true },
      ],
    }),
  ];
  const cut = fault("linkCut", 10_000, 20_000, { node: "node-2" });
  test.each([
    [20_000 + FAILOVER_BUDGET_MS, true],
    [20_000 + FAILOVER_BUDGET_MS + 1, false],
  ])("single connections failing at 15 s, until %i ms: pass=%s", (to, pass) => {
    const outages = [outage(X, 15_000, 15_010), outage(X, to - 10, to)];
    expect(judge({ snapshots: cluster(true), faults: [cut], outages }).pass).toBe(pass);
  });

  test("without a Ready Pod on the cut node only the failover budget applies", () => {
    const v = judge({ snapshots: cluster(false), faults: [cut], outages: [outage(X, 15_000, 15_010)] });
    expect(v.violations[0]?.message).toContain("10 ms longer than the budget of fault linkCut of node-2");
  });

  test("a killed speaker is not a cut cable: its Pods still serve, so the failover budget applies", () => {
    const killed = fault("speakerKill", 10_000, 20_000, { node: "node-2" });
    expect(
      judge({ snapshots: cluster(true), faults: [killed], outages: [outage(X, 15_000, 15_010)] }).pass,
    ).toBe(false);
  });

  test("only the Service serving the failed port counts", () => {
    const other = [
      snap(0, [svc({ addresses: [X], ports: [{ protocol: "TCP", port: 81 }] })], {
        pods: [{ name: "p1", node: "node-2", app: "a", ready: true }],
      }),
    ];
    expect(judge({ snapshots: other, faults: [cut], outages: [outage(X, 15_000, 15_010)] }).pass).toBe(false);
  });
});

describe("EndpointSlices still naming a Pod that is gone explain lost connections to that Service", () => {
  const withSlices = (endpoints: NonNullable<Parameters<typeof snap>[2]>["endpoints"]) => [
    snap(0, [svc({ addresses: [X] }), svc({ name: "b", addresses: [Y] })], { pods, endpoints }),
    snap(20_000, [svc({ addresses: [X] }), svc({ name: "b", addresses: [Y] })], {
      pods,
      endpoints: [{ service: "a", pod: "pa", ready: true }],
    }),
  ];
  const gone = withSlices([
    { service: "a", pod: "pa", ready: true },
    { service: "a", pod: "p-gone", ready: true },
  ]);
  test.each([
    [20_000 + OP_BUDGET_MS, true],
    [20_000 + OP_BUDGET_MS + 1, false],
  ])("single connections failing until %i ms: pass=%s", (to, pass) => {
    const outages = [outage(X, 5_000, 5_010), outage(X, to - 10, to)];
    const v = judge({ snapshots: gone, outages });
    expect(v.pass).toBe(pass);
    if (pass) expect(v.checked.chargedToStaleEndpoints).toBe(2);
  });

  test("an endpoint the slice calls not ready, or a Pod that is there and Ready, explains nothing", () => {
    for (const endpoints of [
      [{ service: "a", pod: "p-gone", ready: false }],
      [{ service: "a", pod: "pa", ready: true }],
    ]) {
      expect(judge({ snapshots: withSlices(endpoints), outages: [outage(X, 5_000, 5_010)] }).pass).toBe(
        false,
      );
    }
  });

  test("another Service's stale slice explains nothing", () => {
    const v = judge({ snapshots: gone, outages: [outage(Y, 5_000, 5_010)] });
    expect(v.violations[0]?.message).toContain(
      "no fault or operation that could affect this address explains it",
    );
  });
});

describe("control-plane and disk faults cost no traffic", () => {
  test.each(["apiServerStop", "controllerKill", "controllerStop", "diskFull"] as const)("%s", (kind) => {
    const v = judge({ faults: [fault(kind, 10_000, 20_000)], outages: [outage(X, 10_010, 10_050)] });
    expect(v.pass).toBe(false);
    expect(v.violations[0]?.message).toContain(`during ${kind}, which must cost no traffic`);
  });
});

describe("a foreign claim explains only its own address, for the claim plus SETTLE_MS", () => {
  const claim = fault("foreignClaim", 10_000, 15_000, { address: X });
  test.each([
    [15_000 + SETTLE_MS, true],
    [15_000 + SETTLE_MS + 1, false],
  ])("until %i ms: pass=%s", (to, pass) => {
    expect(judge({ faults: [claim], outages: [outage(X, 10_000, to)] }).pass).toBe(pass);
  });

  test("not another address", () => {
    expect(judge({ faults: [claim], outages: [outage(Y, 10_000, 10_100)] }).pass).toBe(false);
  });
});

describe("operations explain outages within OP_BUDGET_MS of their answer", () => {
  const change = op({ kind: "changePorts", name: "a", ports: [81] }, 5000, 5100);
  test.each([
    [5100 + OP_BUDGET_MS, true],
    [5100 + OP_BUDGET_MS + 1, false],
  ])("their own Service's address until %i ms: pass=%s", (to, pass) => {
    const v = judge({ ops: [change], outages: [outage(X, 5000, to)] });
    expect(v.pass).toBe(pass);
    if (!pass) expect(v.violations[0]?.message).toContain("operation changePorts of Service a at 5.000 s");
  });

  test("not another Service's address", () => {
    expect(judge({ ops: [change], outages: [outage(Y, 5000, 5200)] }).pass).toBe(false);
  });

  test("one the controller answers waits for a stopped controller; a port change does not", () => {
    const stopped = fault("controllerStop", 1000, 20_000);
    const request = op({ kind: "changeRequest", name: "a", request: [X] }, 5000, 5100);
    expect(judge({ faults: [stopped], ops: [request], outages: [outage(X, 21_000, 23_000)] }).pass).toBe(
      true,
    );
    expect(judge({ faults: [stopped], ops: [change], outages: [outage(X, 21_000, 23_000)] }).pass).toBe(
      false,
    );
  });

  test("a refused operation changed nothing and explains nothing", () => {
    const refused = { ...change, ok: false, error: "503 ServiceUnavailable" };
    expect(judge({ ops: [refused], outages: [outage(X, 5000, 5200)] }).pass).toBe(false);
  });

  test.each([
    [20_000 + OP_BUDGET_MS, true],
    [20_000 + OP_BUDGET_MS + 1, false],
  ])(
    "made while the API server is away, until OP_BUDGET_MS after it is back: to %i ms, pass=%s",
    (to, pass) => {
      const away = fault("apiServerStop", 1000, 20_000);
      expect(judge({ faults: [away], ops: [change], outages: [outage(X, 21_000, to)] }).pass).toBe(pass);
    },
  );

  test("a Service created during the op is mapped through the view after it", () => {
    const create = op(
      {
        kind: "createService",
        name: "c",
        shape: { dualStack: false, policy: "Cluster", ports: [80], app: "c" },
      },
      5000,
      5100,
    );
    const views = [
      ...snapshots,
      snap(5300, [...(snapshots[0]?.services ?? []), svc({ name: "c", addresses: ["192.0.2.3"] })], {
        pods: [...pods, { name: "pc", node: "node-3", app: "c", ready: true }],
      }),
    ];
    expect(judge({ snapshots: views, ops: [create], outages: [outage("192.0.2.3", 5400, 6000)] }).pass).toBe(
      true,
    );
  });

  test.each<Op>([
    { kind: "createPod", name: "p", node: "node-1", app: "b" },
    { kind: "deletePod", name: "pb" },
  ])("$kind explains the addresses of the Services selecting the Pod", (o) => {
    expect(judge({ ops: [op(o, 5000, 5100)], outages: [outage(Y, 5050, 8000)] }).pass).toBe(true);
  });

  test.each<Op>([
    { kind: "createPod", name: "p", node: "node-1", app: "a" },
    { kind: "deletePod", name: "pa" },
  ])("$kind explains no other Service's address", (o) => {
    const v = judge({ ops: [op(o, 5000, 5100)], outages: [outage(Y, 5050, 5200)] });
    expect(v.pass).toBe(false);
    expect(v.violations[0]?.message).toContain("no fault or operation");
  });

  test("a Pod deleted by name is found through the operation that created it", () => {
    const ops = [
      op({ kind: "createPod", name: "p", node: "node-1", app: "b" }, 1000, 1100),
      op({ kind: "deletePod", name: "p" }, 20_000, 20_100),
    ];
    expect(judge({ ops, outages: [outage(Y, 20_050, 21_000)] }).pass).toBe(true);
    expect(judge({ ops, outages: [outage(X, 20_050, 21_000)] }).pass).toBe(false);
  });

  test.each<Op>([
    { kind: "setPoolRanges", ranges: ["192.0.2.0/28"] },
    { kind: "setPoolDisabled", disabled: true },
    { kind: "setL2Exclusion", node: "node-2" },
  ])("$kind explains every address", (o) => {
    expect(judge({ ops: [op(o, 5000, 5100)], outages: [outage(Y, 5050, 8000)] }).pass).toBe(true);
  });
});

describe("a Service without a Ready Pod has nothing to serve", () => {
  const idle = [
    snap(0, [svc({ addresses: [X] })], { pods: [{ name: "pa", node: "node-1", app: "a", ready: false }] }),
    snap(10_000, [svc({ addresses: [X] })], {
      pods: [{ name: "pa", node: "node-1", app: "a", ready: true }],
    }),
  ];
  test.each([
    [10_000 + OP_BUDGET_MS, true],
    [10_000 + OP_BUDGET_MS + 1, false],
  ])("until its Pod is Ready at 10 s, an outage until %i ms: pass=%s", (to, pass) => {
    const v = judge({ snapshots: idle, outages: [outage(X, 2000, to)] });
    expect(v.pass).toBe(pass);
    if (!pass) expect(v.violations[0]?.message).toContain("budget of no Ready Pod from 0.000 s");
  });

  test("a Local Service whose Ready Pods all run on a node the L2Advertisement leaves out has none", () => {
    const pods = [{ name: "pa", node: "node-1", app: "a", ready: true }];
    const local = (l2Excluded: string[]) => [
      snap(0, [svc({ addresses: [X], policy: "Local" })], { pods, l2Excluded }),
    ];
    expect(judge({ snapshots: local(["node-1"]), outages: [outage(X, 2000, 9000)] }).pass).toBe(true);
    // Left out elsewhere, or a Cluster Service (another node forwards to the Pod): Herald's to serve.
    expect(judge({ snapshots: local(["node-2"]), outages: [outage(X, 2000, 9000)] }).pass).toBe(false);
    const cluster = [snap(0, [svc({ addresses: [X] })], { pods, l2Excluded: ["node-1"] })];
    expect(judge({ snapshots: cluster, outages: [outage(X, 2000, 9000)] }).pass).toBe(false);
  });

  test("an outage that starts after the Pod is Ready, within the budget, is still explained", () => {
    expect(judge({ snapshots: idle, outages: [outage(X, 11_000, 12_000)] }).pass).toBe(true);
  });

  test("only the Service serving the failed port counts", () => {
    const shared = [
      snap(
        0,
        [
          svc({ addresses: [X], sharingKey: "k" }),
          svc({ name: "b", addresses: [X], sharingKey: "k", ports: [{ protocol: "TCP", port: 443 }] }),
        ],
        { pods: [{ name: "pa", node: "node-1", app: "a", ready: true }] },
      ),
    ];
    expect(judge({ snapshots: shared, outages: [outage(X, 2000, 3000, 443)] }).pass).toBe(true);
    expect(judge({ snapshots: shared, outages: [outage(X, 2000, 3000, 80)] }).pass).toBe(false);
  });
});

test("chargeOutages names the cause and the excess, for the report", () => {
  const r = record({
    snapshots,
    wire,
    faults: [kill],
    ops: [op({ kind: "deletePod", name: "pb" }, 30_000, 30_100)],
    outages: [outage(X, 10_010, 11_500), outage(Y, 30_000, 30_500), outage(Y, 50_000, 50_100)],
  });
  const charges = chargeOutages(r);
  expect(charges.map((c) => [c.chargedTo?.kind, c.chargedTo?.node, c.lengthMs, c.excessMs])).toEqual([
    ["speakerKill", "node-1", 1490, 500],
    ["deletePod", undefined, 500, 0],
    [undefined, undefined, 100, 100],
  ]);
  expect(judgeTraffic(r).checked).toMatchObject({
    outages: 3,
    chargedToFault: 1,
    chargedToOp: 1,
    unexplained: 1,
    tooLong: 1,
  });
});

test("of two causes that cover an outage whole, the later one is named", () => {
  const ops = [
    op({ kind: "changePorts", name: "a", ports: [80] }, 5000, 5100),
    op({ kind: "changePolicy", name: "a", policy: "Local" }, 6000, 6100),
  ];
  const [charge] = chargeOutages(record({ snapshots, wire, ops, outages: [outage(X, 6100, 6200)] }));
  expect(charge?.chargedTo?.kind).toBe("changePolicy");
});

test("no outages, no violations", () => {
  expect(judge({ faults: [kill] }).pass).toBe(true);
});

import { judgeAddresses } from "./addresses.js";
import { OP_SETTLE_MS } from "./index.js";
import { fault, POOL, record, snap, svc } from "./record-builder.js";

const X = "192.0.2.1";
const Y = "192.0.2.2";
const V6 = "2001:db8::1";

const judge = (snapshots: ReturnType<typeof snap>[], parts = {}) =>
  judgeAddresses(record({ snapshots, ...parts }));

test("a life of allocations, legitimate sharing and releases passes", () => {
  const a = svc({ addresses: [X, V6], sharingKey: "k" });
  const b = svc({ name: "b", addresses: [X], sharingKey: "k", ports: [{ protocol: "TCP", port: 443 }] });
  const v = judge([
    snap(0, [svc({ sharingKey: "k" })]),
    snap(100, [a]),
    snap(200, [a, b]),
    snap(300, [b]),
    snap(400, [b, svc({ name: "c", request: [Y], addresses: [Y] })]),
  ]);
  expect(v.violations).toEqual([]);
  expect(v.checked).toMatchObject({ snapshots: 5, gains: 4, losses: 2 });
});

describe("no two Services hold one address unless they share legitimately", () => {
  const a = svc({ addresses: [X], sharingKey: "k" });
  test.each([
    ["no sharing key", false, svc({ name: "b", addresses: [X], ports: [{ protocol: "TCP", port: 443 }] })],
    [
      "another key",
      false,
      svc({ name: "b", addresses: [X], sharingKey: "j", ports: [{ protocol: "TCP", port: 443 }] }),
    ],
    ["the same port", false, svc({ name: "b", addresses: [X], sharingKey: "k" })],
    [
      "the same port number over UDP",
      true,
      svc({ name: "b", addresses: [X], sharingKey: "k", ports: [{ protocol: "UDP", port: 80 }] }),
    ],
    [
      "Cluster with Local",
      false,
      svc({
        name: "b",
        addresses: [X],
        sharingKey: "k",
        policy: "Local",
        ports: [{ protocol: "TCP", port: 443 }],
      }),
    ],
  ])("%s: pass=%s", (_, pass, b) => {
    const v = judge([snap(0, [a]), snap(100, [a, b])]);
    expect(v.pass).toBe(pass);
    if (!pass) {
      expect(v.violations[0]?.message).toContain(
        `${X}: held by Service soak/a (uid u-a) and Service soak/b (uid u-b)`,
      );
      expect(v.violations[0]?.message).toContain("was given the address while the other held it");
    }
  });

  test("two Local Services share only with the same selector", () => {
    const local = (name: string, app: string, port: number) =>
      svc({
        name,
        addresses: [X],
        sharingKey: "k",
        policy: "Local",
        selector: { app },
        ports: [{ protocol: "TCP", port }],
      });
    expect(judge([snap(0, [local("a", "web", 80), local("b", "web", 443)])]).pass).toBe(true);
    expect(judge([snap(0, [local("a", "web", 80), local("b", "db", 443)])]).pass).toBe(false);
  });

  describe("a sharing broken by a spec change is resolved within the settle window", () => {
    const b = (key: string, addresses = [X]) =>
      svc({ name: "b", addresses, sharingKey: key, ports: [{ protocol: "TCP", port: 443 }] });
    const before = [snap(0, [a, b("k")]), snap(1000, [a, b("j")])];
    test.each([
      [1000 + OP_SETTLE_MS, true],
      [1000 + OP_SETTLE_MS + 1, false],
    ])("resolved at %i ms: pass=%s", (t, pass) => {
      const v = judge([...before, snap(t, [a, b("j", [Y])])]);
      expect(v.pass).toBe(pass);
      if (!pass) expect(v.violations[0]?.message).toContain("within the settle window");
    });

    test("never resolved fails at the end of the run", () => {
      expect(judge(before).pass).toBe(false);
    });

    test("a stopped controller has until SETTLE_MS after it is back", () => {
      const faults = [fault("controllerStop", 500, 8000)];
      expect(judge([...before, snap(9500, [a, b("j", [Y])])], { faults }).pass).toBe(true);
      expect(judge([...before, snap(10_500, [a, b("j", [Y])])], { faults }).pass).toBe(false);
    });
  });
});

describe("a Service keeps its address until something releases it", () => {
  const a = (parts = {}) => svc({ addresses: [X], ...parts });
  test("losing it with nothing changed fails, naming the Service and the address", () => {
    const v = judge([snap(0, [a()]), snap(1000, [a({ addresses: [] })])]);
    expect(v.pass).toBe(false);
    expect(v.violations[0]?.message).toContain(`Service soak/a (uid u-a) lost ${X} at 1.000 s`);
  });

  test("swapping it for another of the same family fails", () => {
    const v = judge([snap(0, [a()]), snap(1000, [a({ addresses: [Y] })])]);
    expect(v.violations).toHaveLength(1);
    expect(v.violations[0]?.message).toContain(`lost ${X} at 1.000 s for ${Y}`);
  });

  test("gaining a second address of a family it holds fails", () => {
    const v = judge([snap(0, [a()]), snap(1000, [a({ addresses: [X, Y] })])]);
    expect(v.violations[0]?.message).toContain(`two IPv4 addresses (${X} and ${Y})`);
  });

  test("gaining the other family is fine", () => {
    expect(judge([snap(0, [a()]), snap(1000, [a({ addresses: [X, V6] })])]).pass).toBe(true);
  });

  test.each([
    ["deleted", [] as ReturnType<typeof svc>[]],
    ["type changed", [a({ type: "ClusterIP", addresses: [] })]],
    ["request changed", [a({ request: [Y], addresses: [Y] })]],
    ["sharing key changed", [a({ sharingKey: "new", addresses: [Y] })]],
  ])("released when %s", (_, after) => {
    expect(judge([snap(0, [a()]), snap(1000, after)]).pass).toBe(true);
  });

  test("a new Service under the same name (new uid) starts afresh", () => {
    expect(judge([snap(0, [a()]), snap(1000, [a({ uid: "u-a2", addresses: [Y] })])]).pass).toBe(true);
  });

  test.each([
    ["a CIDR without it", true, ["192.0.2.8/29", "2001:db8::/124"]],
    ["a range without it", true, ["192.0.2.2-192.0.2.9"]],
    ["a single other address", true, ["192.0.2.9"]],
    ["a range with it", false, ["192.0.2.0-192.0.2.5"]],
    ["a CIDR with it", false, ["192.0.2.0/30"]],
    ["the single address itself", false, [X]],
  ])("the pool becomes %s: a loss is released=%s", (_, released, addresses) => {
    const shrunk = { ...POOL, addresses };
    const v = judge([
      snap(0, [a()]),
      snap(500, [a()], { pools: [shrunk] }),
      snap(1000, [a({ addresses: [] })], { pools: [shrunk] }),
    ]);
    expect(v.pass).toBe(released);
  });

  test("without the pool annotation, the loss is released only when no pool contains the address", () => {
    const bare = (addresses: string[]) => svc({ addresses, pool: undefined });
    expect(judge([snap(0, [bare([X])]), snap(1000, [bare([])])]).pass).toBe(false);
    const other = { ...POOL, addresses: ["198.51.100.0/24"] };
    expect(judge([snap(0, [bare([X])]), snap(1000, [bare([])], { pools: [other] })]).pass).toBe(true);
  });

  test("the pool losing an IPv6 address releases it", () => {
    const six = svc({ addresses: [V6] });
    const shrunk = { ...POOL, addresses: ["2001:db8::8/125"] };
    const gone = svc({ addresses: [] });
    expect(
      judge([snap(0, [six]), snap(500, [six], { pools: [shrunk] }), snap(1000, [gone], { pools: [shrunk] })])
        .pass,
    ).toBe(true);
    const kept = { ...POOL, addresses: ["2001:db8::0-2001:db8::3"] };
    expect(
      judge([snap(0, [six]), snap(500, [six], { pools: [kept] }), snap(1000, [gone], { pools: [kept] })])
        .pass,
    ).toBe(false);
  });

  test("a cause seen before the loss still counts (the controller writes status later)", () => {
    const v = judge([
      snap(0, [a()]),
      snap(500, [a({ request: [Y] })]),
      snap(900, [a({ request: [Y], addresses: [Y] })]),
    ]);
    expect(v.pass).toBe(true);
  });
});

describe("a requested address is exactly what the Service gets", () => {
  test("given another address than requested fails at once", () => {
    const v = judge([snap(0, [svc({ request: [Y], addresses: [X] })])]);
    expect(v.pass).toBe(false);
    expect(v.violations[0]?.message).toContain(`Service soak/a (uid u-a) requested ${Y} but held ${X}`);
  });

  test("a request of the other family does not bind this one", () => {
    expect(judge([snap(0, [svc({ request: [V6], addresses: [X] })])]).pass).toBe(true);
  });

  test.each([
    [1000 + OP_SETTLE_MS, true],
    [1000 + OP_SETTLE_MS + 1, false],
  ])("a request changed at 1 s and met at %i ms: pass=%s", (t, pass) => {
    const v = judge([
      snap(0, [svc({ addresses: [X] })]),
      snap(1000, [svc({ request: [Y], addresses: [X] })]),
      snap(t, [svc({ request: [Y], addresses: [Y] })]),
    ]);
    expect(v.pass).toBe(pass);
  });
});

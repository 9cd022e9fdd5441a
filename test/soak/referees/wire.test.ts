import { HEARTBEAT_BLOCK_SETTLE_MS, OP_SETTLE_MS, SETTLE_MS, WIRE_BUCKET_MS } from "./index.js";
import { FOREIGN_MAC, fault, MAC, op, record, seen, snap, steady, svc } from "./record-builder.js";
import { judgeWire } from "./wire.js";

const X = "192.0.2.1";
const V6 = "2001:db8::1";
const held = [snap(0, [svc({ addresses: [X, V6] })])];

function only(r: ReturnType<typeof record>) {
  const v = judgeWire(r);
  return { v, messages: v.violations.map((x) => x.message) };
}

test("one live node answering held addresses passes, v4 and v6", () => {
  const { v } = only(
    record({
      snapshots: held,
      wire: [...steady(X, "node-1", 0, 10_000), ...steady(V6, "node-1", 0, 10_000)],
    }),
  );
  expect(v.pass).toBe(true);
  expect(v.checked).toMatchObject({ sightings: 20, addresses: 2, outsideSettle: 20 });
});

describe("at most one MAC per address outside settle windows", () => {
  test.each([
    [WIRE_BUCKET_MS - 1, false],
    [WIRE_BUCKET_MS, true],
  ])("two MACs %i ms apart: pass=%s", (gap, pass) => {
    const { v, messages } = only(
      record({ snapshots: held, wire: [seen(5000, X, "node-1"), seen(5000 + gap, X, "node-2")] }),
    );
    expect(v.pass).toBe(pass);
    if (!pass) {
      expect(messages[0]).toContain(X);
      expect(messages[0]).toContain(MAC["node-1"]);
      expect(messages[0]).toContain(MAC["node-2"]);
      expect(messages[0]).toContain("5.000 s");
    }
  });

  test("a flapping pair is one violation, with a count", () => {
    const wire = [0, 1, 2, 3].flatMap((i) => [
      seen(5000 + 200 * i, X, "node-1"),
      seen(5100 + 200 * i, X, "node-2"),
    ]);
    const { v, messages } = only(record({ snapshots: held, wire }));
    expect(v.violations).toHaveLength(1);
    expect(messages[0]).toContain("7 times");
  });

  test.each([
    [5000 + SETTLE_MS - 1, true],
    [5000 + SETTLE_MS, false],
  ])("after a fault's start at 5 s, two MACs at %i ms: pass=%s", (t, pass) => {
    const faults = [fault("speakerKill", 5000, 30_000, { node: "node-3" })];
    const wire = [seen(t, X, "node-2"), seen(t + 100, X, "node-1")];
    expect(judgeWire(record({ snapshots: held, faults, wire })).pass).toBe(pass);
  });

  test.each([
    [5000 + HEARTBEAT_BLOCK_SETTLE_MS - 1, true],
    [5000 + HEARTBEAT_BLOCK_SETTLE_MS, false],
  ])(
    "after a heartbeat block at 5 s (the Lease evidence settles it), two MACs at %i ms: pass=%s",
    (t, pass) => {
      const faults = [fault("heartbeatBlock", 5000, 30_000, { node: "node-3" })];
      const wire = [seen(t, X, "node-2"), seen(t + 100, X, "node-1")];
      expect(judgeWire(record({ snapshots: held, faults, wire })).pass).toBe(pass);
    },
  );

  test("after a fault's end, two MACs inside SETTLE_MS pass, later fail", () => {
    const faults = [fault("heartbeatBlock", 1000, 20_000, { node: "node-3" })];
    const inside = [seen(20_000 + SETTLE_MS - 200, X, "node-2"), seen(20_000 + SETTLE_MS - 100, X, "node-1")];
    expect(judgeWire(record({ snapshots: held, faults, wire: inside })).pass).toBe(true);
    const after = [seen(20_000 + SETTLE_MS, X, "node-2"), seen(20_000 + SETTLE_MS + 100, X, "node-1")];
    expect(judgeWire(record({ snapshots: held, faults, wire: after })).pass).toBe(false);
  });

  test("an operation settles until OP_SETTLE_MS after its answer", () => {
    const ops = [op({ kind: "setL2Exclusion", node: "node-1" }, 5000, 5100)];
    const end = 5100 + OP_SETTLE_MS;
    const inside = [seen(end - 150, X, "node-1"), seen(end - 50, X, "node-2")];
    expect(judgeWire(record({ snapshots: held, ops, wire: inside })).pass).toBe(true);
    const after = [seen(end, X, "node-1"), seen(end + 100, X, "node-2")];
    expect(judgeWire(record({ snapshots: held, ops, wire: after })).pass).toBe(false);
  });

  test("a skipped fault opens no settle window", () => {
    const faults = [fault("linkCut", 5000, 9000, { node: "node-3", skipped: "no such link" })];
    const wire = [seen(5100, X, "node-2"), seen(5200, X, "node-1")];
    expect(judgeWire(record({ snapshots: held, faults, wire })).pass).toBe(false);
  });
});

describe("the answerer is a node's MAC", () => {
  test("a foreign host's answer outside a claim fails, naming it", () => {
    const { v, messages } = only(record({ snapshots: held, wire: [seen(3000, X, FOREIGN_MAC)] }));
    expect(v.pass).toBe(false);
    expect(messages[0]).toContain(FOREIGN_MAC);
    expect(messages[0]).toContain("foreign host");
  });

  test("an unknown MAC fails, even in a settle window", () => {
    const faults = [fault("controllerKill", 2500, 2600)];
    const { v, messages } = only(
      record({ snapshots: held, faults, wire: [seen(3000, X, "02:aa:bb:cc:dd:ee")] }),
    );
    expect(v.pass).toBe(false);
    expect(messages[0]).toContain("a MAC of no node");
  });

  test.each([
    [10_000, true],
    [20_000 + SETTLE_MS, true],
    [20_000 + SETTLE_MS + 1, false],
  ])("a foreign claim from 10 s to 20 s exempts its address at %i ms: pass=%s", (t, pass) => {
    const faults = [fault("foreignClaim", 10_000, 20_000, { address: X })];
    const wire = [seen(t, X, FOREIGN_MAC), ...(pass ? [seen(t + 10, X, "node-1")] : [])];
    expect(judgeWire(record({ snapshots: held, faults, wire })).pass).toBe(pass);
  });

  test("a foreign claim exempts only its own address", () => {
    const faults = [fault("foreignClaim", 10_000, 20_000, { address: X })];
    const wire = [seen(15_000, V6, FOREIGN_MAC)];
    expect(judgeWire(record({ snapshots: held, faults, wire })).pass).toBe(false);
  });
});

describe("the answering node is live and advertising", () => {
  test("a killed speaker's node answering after the settle window fails", () => {
    const faults = [fault("speakerKill", 1000, 20_000, { node: "node-2" })];
    const { v, messages } = only(record({ snapshots: held, faults, wire: [seen(5000, X, "node-2")] }));
    expect(v.pass).toBe(false);
    expect(messages[0]).toContain("node-2, which was down");
    expect(messages[0]).toContain("5.000 s");
  });

  test("a node whose cut was never restored stays down to the end", () => {
    const faults = [fault("linkCut", 1000, undefined, { node: "node-2" })];
    expect(judgeWire(record({ snapshots: held, faults, wire: [seen(50_000, X, "node-2")] })).pass).toBe(
      false,
    );
  });

  test("a heartbeat block leaves the node live", () => {
    const faults = [fault("heartbeatBlock", 1000, 20_000, { node: "node-2" })];
    expect(judgeWire(record({ snapshots: held, faults, wire: [seen(5000, X, "node-2")] })).pass).toBe(true);
  });

  test("a node the L2Advertisement leaves out fails", () => {
    const snapshots = [snap(0, [svc({ addresses: [X] })], { l2Excluded: ["node-1"] })];
    const { v, messages } = only(record({ snapshots, wire: [seen(5000, X, "node-1")] }));
    expect(v.pass).toBe(false);
    expect(messages[0]).toContain("node-1, which the L2Advertisement leaves out");
  });
});

describe("an address no Service holds is answered by no node", () => {
  const snapshots = [snap(0, [svc({ addresses: [X] })]), snap(5000, [svc({ addresses: [] })])];
  test.each([
    [5000 + OP_SETTLE_MS - 1, true],
    [5000 + OP_SETTLE_MS, false],
  ])("released at 5 s, answered at %i ms: pass=%s", (t, pass) => {
    const { v, messages } = only(record({ snapshots, wire: [seen(t, X, "node-1")] }));
    expect(v.pass).toBe(pass);
    if (!pass) expect(messages[0]).toContain(`${X}: answered at ${t / 1000}.000 s by node-1`);
  });

  test("an address never held is not answered", () => {
    expect(judgeWire(record({ snapshots: held, wire: [seen(5000, "192.0.2.9", "node-1")] })).pass).toBe(
      false,
    );
  });

  test("before the first view nothing is known, so nothing fails", () => {
    const late = [snap(10_000, [])];
    expect(judgeWire(record({ snapshots: late, wire: [seen(5000, X, "node-1")] })).pass).toBe(true);
  });
});

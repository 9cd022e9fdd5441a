import { fault, op, record, snap } from "./record-builder.js";
import {
  covers,
  HEARTBEAT_BLOCK_SETTLE_MS,
  liveNodes,
  macToNode,
  mergeIntervals,
  OP_SETTLE_MS,
  poolContains,
  SETTLE_MS,
  settledBy,
  settleWindows,
  uncovered,
  viewAt,
} from "./windows.js";

test.each([
  [999, ["node-1", "node-2", "node-3"]],
  [1000, ["node-1", "node-3"]],
  [4999, ["node-1", "node-3"]],
  [5000, ["node-1", "node-2", "node-3"]],
])("a node is down while its fault is in effect, startMs <= t < endMs: live at %i ms", (t, live) => {
  const r = record({ faults: [fault("speakerTerm", 1000, 5000, { node: "node-2" })] });
  expect(liveNodes(r, t)).toEqual(live);
});

test("a fault never taken back keeps the node down; heartbeat blocks and skipped faults do not", () => {
  const r = record({
    faults: [
      fault("linkCut", 1000, undefined, { node: "node-1" }),
      fault("heartbeatBlock", 0, 9000, { node: "node-2" }),
      fault("speakerKill", 0, 9000, { node: "node-3", skipped: "no Pod" }),
    ],
  });
  expect(liveNodes(r, 1_000_000)).toEqual(["node-2", "node-3"]);
});

test("settle windows: after a fault's start, after its end, and over an operation", () => {
  const r = record({
    faults: [fault("controllerKill", 1000, 10_000)],
    ops: [op({ kind: "deletePod", name: "p" }, 20_000, 20_500)],
  });
  const w = settleWindows(r);
  expect(w).toEqual([
    { from: 1000, to: 1000 + SETTLE_MS },
    { from: 10_000, to: 10_000 + SETTLE_MS },
    { from: 20_000, to: 20_500 + OP_SETTLE_MS },
  ]);
  expect([999, 1000, 2999, 3000].map((t) => covers(w, t))).toEqual([false, true, true, false]);
});

test("the view at t is the last snapshot taken at or before t", () => {
  const r = record({ snapshots: [snap(0, []), snap(1000, []), snap(2000, [])] });
  expect([-1, 0, 999, 1000, 5000].map((t) => viewAt(r, t)?.t)).toEqual([undefined, 0, 0, 1000, 2000]);
});

test("the controller's deadline moves to SETTLE_MS after a controller fault in effect meanwhile", () => {
  expect(settledBy(record(), 1000)).toBe(1000 + OP_SETTLE_MS);
  const r = record({ faults: [fault("controllerStop", 1500, 8000), fault("apiServerStop", 9000, 12_000)] });
  expect(settledBy(r, 1000)).toBe(12_000 + SETTLE_MS);
  expect(settledBy(r, 20_000)).toBe(20_000 + OP_SETTLE_MS);
  expect(settledBy(r, 1000, 3000, 500)).toBe(8500);
  expect(settledBy(r, 1000, 8000, 500)).toBe(12_500);
  expect(settledBy(r, 20_000, 3000, 500)).toBe(23_000);
});

test("MACs map to nodes whatever their case", () => {
  const r = record({ macs: { "node-1": "02:AA:00:00:00:01" } });
  expect(macToNode(r).get("02:aa:00:00:00:01")).toBe("node-1");
});

test.each([
  [["192.0.2.0/30"], "192.0.2.3", true],
  [["192.0.2.0/30"], "192.0.2.4", false],
  [["192.0.2.5-192.0.2.9"], "192.0.2.9", true],
  [["192.0.2.7"], "192.0.2.7", true],
  [["2001:db8::/126"], "2001:db8::3", true],
  [["2001:db8::10-2001:db8::20"], "2001:db8::21", false],
  [["not a range", "192.0.2.1"], "192.0.2.1", true],
])("pool %j contains %s: %s", (entries, address, inside) => {
  expect(poolContains(entries, address)).toBe(inside);
});

test("intervals merge, and what they leave uncovered is measured", () => {
  const merged = mergeIntervals([
    { from: 5, to: 10 },
    { from: 0, to: 6 },
    { from: 20, to: 30 },
  ]);
  expect(merged).toEqual([
    { from: 0, to: 10 },
    { from: 20, to: 30 },
  ]);
  expect(uncovered(merged, 8, 25)).toBe(10);
});

test("a heartbeat block settles longer after it goes in (the Lease evidence), as usual after it ends", () => {
  const r = record({ faults: [fault("heartbeatBlock", 1000, 20_000, { node: "node-3" })] });
  expect(settleWindows(r)).toEqual([
    { from: 1000, to: 1000 + HEARTBEAT_BLOCK_SETTLE_MS },
    { from: 20_000, to: 20_000 + SETTLE_MS },
  ]);
});

test("a node back while another node's heartbeats are blocked settles as long as the block", () => {
  // node-2's cable comes back 1 ms before node-1's heartbeats are blocked: node-2 never hears
  // node-1, and contends with it until the Lease evidence settles it.
  const r = record({
    faults: [
      fault("linkCut", 1000, 9000, { node: "node-2" }),
      fault("heartbeatBlock", 9001, 18_000, { node: "node-1" }),
    ],
  });
  expect(settleWindows(r)).toEqual([
    { from: 1000, to: 1000 + SETTLE_MS },
    { from: 9000, to: 9000 + SETTLE_MS + HEARTBEAT_BLOCK_SETTLE_MS },
    { from: 18_000, to: 18_000 + SETTLE_MS },
  ]);
  // Without a block nearby, or a block of the same node: the usual window after the end.
  const alone = record({
    faults: [
      fault("linkCut", 1000, 9000, { node: "node-2" }),
      fault("heartbeatBlock", 12_000, 18_000, { node: "node-1" }),
      fault("speakerKill", 40_000, 45_000, { node: "node-3" }),
      fault("heartbeatBlock", 45_001, 80_000, { node: "node-3" }),
    ],
  });
  expect(settleWindows(alone)).toEqual([
    { from: 1000, to: 1000 + SETTLE_MS },
    { from: 9000, to: 9000 + SETTLE_MS },
    { from: 12_000, to: 12_000 + HEARTBEAT_BLOCK_SETTLE_MS },
    { from: 18_000, to: 18_000 + SETTLE_MS },
    { from: 40_000, to: 40_000 + SETTLE_MS },
    { from: 45_000, to: 45_001 + HEARTBEAT_BLOCK_SETTLE_MS },
    { from: 80_000, to: 80_000 + SETTLE_MS },
  ]);
});

test("a fault put in by a command settles from when the command started to a window after it returned", () => {
  const r = record({ faults: [fault("heartbeatBlock", 1000, 20_000, { node: "node-3", appliedMs: 1700 })] });
  expect(settleWindows(r)).toEqual([
    { from: 1000, to: 1700 + HEARTBEAT_BLOCK_SETTLE_MS },
    { from: 20_000, to: 20_000 + SETTLE_MS },
  ]);
});

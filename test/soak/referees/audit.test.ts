import { judgeAudit, wireChanges } from "./audit.js";
import { AUDIT_DISK_GRACE_MS, AUDIT_WIRE_SLACK_MS } from "./index.js";
import { fault, record, row, snap, steady, svc } from "./record-builder.js";

const X = "192.0.2.1";
const Y = "192.0.2.2";
const withX = svc({ addresses: [X] });
const life = [snap(0, []), snap(1000, [withX]), snap(5000, [])];
const allocated = (t: number, seq: number, parts = {}) =>
  row(t, { seq, kind: "allocated", serviceUid: "u-a", serviceName: "a", addresses: [X], ...parts });
const released = (t: number, seq: number, parts = {}) =>
  row(t, { seq, kind: "released", serviceUid: "u-a", serviceName: "a", addresses: [X], ...parts });

const judge = (parts: Parameters<typeof record>[0]) => judgeAudit(record({ snapshots: life, ...parts }));

test("every change once, in order, passes", () => {
  const v = judge({ audit: [allocated(1010, 1), released(5010, 2)] });
  expect(v.violations).toEqual([]);
  expect(v.checked).toMatchObject({ rows: 2, dirs: 1, viewGains: 1, viewLosses: 1 });
});

describe("each directory holds every seq once, in time order", () => {
  test("a seq twice fails, naming the directory and the seq", () => {
    const v = judge({ audit: [allocated(1010, 1), released(5010, 1)] });
    expect(
      v.violations.some((x) =>
        x.message.startsWith("audit controller-0: seq 1 (released of a, at 5.010 s) appears 2 times"),
      ),
    ).toBe(true);
  });

  test("the same seq in two directories is fine", () => {
    expect(judge({ audit: [allocated(1010, 1), released(5010, 1, { dir: "controller-1" })] }).pass).toBe(
      true,
    );
  });

  test("a later seq dated earlier fails", () => {
    const v = judge({ audit: [allocated(1010, 2), released(5010, 1)] });
    expect(v.violations[0]?.message).toContain(
      "audit controller-0: seq 2 is dated 1.010 s, before seq 1 at 5.010 s",
    );
  });
});

describe("every allocation the view shows has one controller row", () => {
  test("a missing allocation fails, naming the Service and the address", () => {
    const v = judge({ audit: [released(5010, 1)] });
    expect(v.pass).toBe(false);
    expect(v.violations[0]?.message).toContain(`Service soak/a (uid u-a) gained ${X} at 1.000 s`);
  });

  test("a duplicate allocation fails", () => {
    const v = judge({
      audit: [allocated(1010, 1), allocated(1020, 2, { dir: "controller-1" }), released(5010, 3)],
    });
    expect(v.violations).toHaveLength(1);
    expect(v.violations[0]?.message).toContain(`records that it gained ${X} 2 times`);
  });

  test("a shared row counts as an allocation", () => {
    expect(judge({ audit: [allocated(1010, 1, { kind: "shared" }), released(5010, 2)] }).pass).toBe(true);
  });

  test("a row of another component does not count", () => {
    const v = judge({
      audit: [allocated(1010, 1, { component: "speaker", dir: "speaker-node-1" }), released(5010, 2)],
    });
    expect(v.pass).toBe(false);
  });

  test.each([
    [AUDIT_DISK_GRACE_MS, true],
    [AUDIT_DISK_GRACE_MS + 1, false],
  ])("a disk full until %i ms before the gain excuses a missing row: pass=%s", (gap, pass) => {
    const late = [snap(0, []), snap(9000, [withX]), snap(12_000, [])];
    const faults = [fault("diskFull", 1000, 9000 - gap)];
    const v = judgeAudit(record({ snapshots: late, faults, audit: [released(12_010, 1)] }));
    expect(v.pass).toBe(pass);
  });

  test("a disk full never excuses a duplicate", () => {
    const faults = [fault("diskFull", 0, 2000)];
    expect(judge({ faults, audit: [allocated(1010, 1), allocated(1020, 2), released(5010, 3)] }).pass).toBe(
      false,
    );
  });
});

describe("every loss the view shows has one row", () => {
  test("a missing release fails", () => {
    const v = judge({ audit: [allocated(1010, 1)] });
    expect(v.violations[0]?.message).toContain(`Service soak/a (uid u-a) lost ${X} at 5.000 s`);
  });

  test("a duplicate release fails", () => {
    const v = judge({ audit: [allocated(1010, 1), released(5010, 2), released(5020, 3)] });
    expect(v.violations[0]?.message).toContain(`records that it lost ${X} 2 times`);
  });

  test("a move records the loss of the old address and the gain of the new one", () => {
    const moved = [snap(0, []), snap(1000, [withX]), snap(3000, [svc({ addresses: [Y] })])];
    const rows = [
      allocated(1010, 1),
      row(3010, { seq: 2, kind: "moved", serviceUid: "u-a", addresses: [Y] }),
    ];
    expect(judgeAudit(record({ snapshots: moved, audit: rows })).pass).toBe(true);
    expect(judgeAudit(record({ snapshots: moved, audit: rows.slice(0, 1) })).pass).toBe(false);
  });
});

describe("every change of the answering node on the wire has the new node's row", () => {
  const wire = [...steady(X, "node-1", 0, 4000), ...steady(X, "node-2", 10_000, 15_000)];
  const speakerRow = (t: number, node: string, kind = "takeover") =>
    row(t, { seq: 1, dir: `speaker-${node}`, component: "speaker", node, kind, addresses: [X] });
  const base = [allocated(1010, 1), released(5010, 2)];

  test("the change is found between the last old and the first new sighting", () => {
    expect(wireChanges(record({ snapshots: life, wire }))).toEqual([
      { address: X, from: "node-1", to: "node-2", lastMs: 3000, firstMs: 10_000 },
    ]);
  });

  test.each([
    [3000 - AUDIT_WIRE_SLACK_MS, true],
    [3000 - AUDIT_WIRE_SLACK_MS - 1, false],
    [10_000 + AUDIT_WIRE_SLACK_MS, true],
    [10_000 + AUDIT_WIRE_SLACK_MS + 1, false],
  ])("a takeover row of node-2 at %i ms: pass=%s", (t, pass) => {
    const v = judge({ wire, audit: [...base, speakerRow(t, "node-2")] });
    expect(v.pass).toBe(pass);
    if (!pass)
      expect(v.violations[0]?.message).toContain(`${X}: the wire shows node-2 answering instead of node-1`);
  });

  test("an announce row counts; another node's row does not", () => {
    expect(judge({ wire, audit: [...base, speakerRow(9000, "node-2", "announce")] }).pass).toBe(true);
    expect(judge({ wire, audit: [...base, speakerRow(9000, "node-3")] }).pass).toBe(false);
  });

  test("a row without a node column is known by its directory's other rows", () => {
    const other = row(100, {
      seq: 0,
      dir: "speaker-node-2",
      component: "speaker",
      node: "node-2",
      kind: "withdraw",
    });
    const bare = row(9000, {
      seq: 1,
      dir: "speaker-node-2",
      component: "speaker",
      kind: "takeover",
      addresses: [X],
    });
    expect(judge({ wire, audit: [...base, other, bare] }).pass).toBe(true);
  });

  test("changes inside settle windows are not judged", () => {
    const faults = [fault("speakerKill", 3500, 9000, { node: "node-1" })];
    const flap = [...steady(X, "node-1", 0, 4000), ...steady(X, "node-2", 4000, 5000, 100)];
    expect(wireChanges(record({ snapshots: life, wire: flap, faults }))).toEqual([]);
  });

  test("a disk full during the change excuses the missing row", () => {
    const faults = [fault("diskFull", 4000, 6000)];
    expect(judge({ wire, faults, audit: base }).pass).toBe(true);
    expect(judge({ wire, audit: base }).pass).toBe(false);
  });
});

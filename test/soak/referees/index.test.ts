import { judge, MAX_VIOLATIONS } from "./index.js";
import { outage, record, seen, snap, svc } from "./record-builder.js";

test("judge gives every referee's verdict, in order; a quiet run passes them all", () => {
  const verdicts = judge(record({ snapshots: [snap(0, [svc({ addresses: ["192.0.2.1"] })])] }));
  expect(verdicts.map((v) => [v.referee, v.pass])).toEqual([
    ["wire", true],
    ["addresses", true],
    ["traffic", true],
    ["audit", false],
    ["resources", true],
  ]);
  // the view's allocation has no audit row: the one thing this record leaves out
  expect(verdicts[3]?.violations).toHaveLength(1);
});

test("a flood of violations is capped, with a count of the rest", () => {
  const outages = Array.from({ length: MAX_VIOLATIONS + 20 }, (_, i) =>
    outage("192.0.2.1", i * 1000, i * 1000 + 50),
  );
  const v = judge(record({ durationMs: 1_000_000, outages }))[2];
  expect(v?.violations).toHaveLength(MAX_VIOLATIONS + 1);
  expect(v?.violations.at(-1)?.message).toBe("... and 20 more violations like these");
  expect(v?.checked.violations).toBe(MAX_VIOLATIONS + 20);
});

test("referees read differently spelt IPv6 addresses as one", () => {
  const snapshots = [snap(0, [svc({ addresses: ["2001:DB8:0::1"] })])];
  const wire = [seen(1000, "2001:db8::1", "node-1")];
  expect(judge(record({ snapshots, wire }))[0]?.pass).toBe(true);
});

import { leaseHandlers, type SpeakerLease } from "../../src/speaker/lease-renewals.js";
import { renewalDue } from "../../src/speaker/node-lease.js";

const lease = (renewTime: string, macs = "02:00:00:00:00:0a"): SpeakerLease => ({
  metadata: { name: "herald-speaker-a", annotations: { "herald.dev/macs": macs } },
  spec: { holderIdentity: "a", renewTime },
});

function handlers() {
  const seen: string[] = [];
  const h = leaseHandlers<SpeakerLease>({
    renewed: (node) => seen.push(`renewed ${node}`),
    changed: () => seen.push("changed"),
  });
  return { h, seen };
}

test("a renewal alone is reported as one and costs no recompute", () => {
  const { h, seen } = handlers();
  h.onChange(lease("2026-12-01T21:00:02.000000Z"), lease("2026-12-01T21:00:00.000000Z"));
  expect(seen).toEqual(["renewed a"]);
});

test("a first sight is no renewal; a change of what peers read is a recompute", () => {
  const { h, seen } = handlers();
  h.onChange(lease("2026-12-01T21:00:00.000000Z"), undefined);
  h.onChange(lease("2026-12-01T21:00:00.000000Z", "02:00:00:00:00:0c"), lease("2026-12-01T21:00:00.000000Z"));
  h.onDelete(lease("2026-12-01T21:00:00.000000Z"));
  expect(seen).toEqual(["changed", "changed", "changed"]);
});

test("other Leases in the namespace are never renewals", () => {
  const { h, seen } = handlers();
  const other = (t: string): SpeakerLease => ({
    metadata: { name: "herald-controller" },
    spec: { renewTime: t },
  });
  h.onChange(other("2026-12-01T21:00:02.000000Z"), other("2026-12-01T21:00:00.000000Z"));
  expect(seen).toEqual([]);
});

test.each([
  [undefined, 0, false, true],
  [0, 9_999, false, false],
  [0, 10_000, false, true],
  [0, 1_999, true, false],
  [0, 2_000, true, true],
])("renewal due (last %p, now %p, urgent %p): %p", (last, now, urgent, due) => {
  expect(renewalDue(last, now, 10_000, 2000, urgent)).toBe(due);
});

import type { Outage } from "./model.js";
import { type Probe, TargetLedger } from "./probe-ledger.js";

function ledger(fromMs = 1000, timeoutMs = 100) {
  const outages: Outage[] = [];
  const aborted: number[] = [];
  const l = new TargetLedger("203.0.113.5", 80, fromMs, timeoutMs, (o) => outages.push(o));
  const begin = (start: number) => l.begin(start, () => aborted.push(start));
  return { l, outages, aborted, begin };
}

test("consecutive failures are one outage from the first failure's start to the next success's start", () => {
  const { l, outages, begin } = ledger();
  const [a, b, c, d, e] = [1010, 1020, 1030, 1040, 1050].map(begin) as [Probe, Probe, Probe, Probe, Probe];
  l.settle(a, 1011);
  l.settle(b, 1021, "ECONNREFUSED");
  l.settle(c, 1031, "ECONNREFUSED");
  l.settle(d, 1041, "ECONNRESET");
  expect(outages).toEqual([]);
  l.settle(e, 1051);
  expect(outages).toEqual([
    {
      address: "203.0.113.5",
      port: 80,
      fromMs: 1020,
      toMs: 1050,
      failures: 3,
      errors: { ECONNREFUSED: 2, ECONNRESET: 1 },
    },
  ]);
  expect(l.end(1060)).toMatchObject({ probes: 5, ok: 2, okPerSecond: [2], failedPerSecond: [3] });
});

test("outcomes count in start order: a success that returns before an earlier timeout does not end the outage", () => {
  const { l, outages, begin, aborted } = ledger(1000, 100);
  const hung = begin(1010);
  const fast = begin(1020);
  l.settle(fast, 1021);
  expect(outages).toEqual([]);
  l.expire(1109);
  expect(outages).toEqual([]);
  l.expire(1110);
  expect(aborted).toEqual([1010]);
  expect(outages).toEqual([
    { address: "203.0.113.5", port: 80, fromMs: 1010, toMs: 1020, failures: 1, errors: { TIMEOUT: 1 } },
  ]);
  // The aborted connection's late error changes nothing.
  l.settle(hung, 1111, "ECONNRESET");
  expect(l.end(1200)).toMatchObject({ probes: 2, ok: 1 });
});

test("a connection made later than the timeout is a TIMEOUT failure", () => {
  const { l, outages, begin } = ledger(1000, 100);
  l.settle(begin(1010), 1150);
  l.end(1200);
  expect(outages).toEqual([
    { address: "203.0.113.5", port: 80, fromMs: 1010, toMs: 1200, failures: 1, errors: { TIMEOUT: 1 } },
  ]);
});

test("at the end, open probes count neither way and an open outage closes at the end", () => {
  const { l, outages, begin, aborted } = ledger(1000, 1000);
  const failed = begin(1010);
  begin(1020);
  const later = begin(1030);
  l.settle(failed, 1011, "EHOSTUNREACH");
  l.settle(later, 1031);
  const t = l.end(1500);
  expect(aborted).toEqual([1020]);
  // The success after the open probe still counts, and ends the outage at its start.
  expect(outages).toEqual([
    { address: "203.0.113.5", port: 80, fromMs: 1010, toMs: 1030, failures: 1, errors: { EHOSTUNREACH: 1 } },
  ]);
  expect(t).toEqual({
    address: "203.0.113.5",
    port: 80,
    fromMs: 1000,
    toMs: 1500,
    probes: 2,
    ok: 1,
    okPerSecond: [1],
    failedPerSecond: [1],
  });
  l.settle(begin(1600), 1601);
  expect(l.end(1700).probes).toBe(2);
});

test("an outage still open at the end closes at the end; per-second bins cover the whole span", () => {
  const { l, outages, begin } = ledger(0, 100);
  l.settle(begin(10), 11);
  l.settle(begin(2500), 2501, "ECONNREFUSED");
  const t = l.end(3200);
  expect(outages).toEqual([
    { address: "203.0.113.5", port: 80, fromMs: 2500, toMs: 3200, failures: 1, errors: { ECONNREFUSED: 1 } },
  ]);
  expect(t.okPerSecond).toEqual([1, 0, 0, 0]);
  expect(t.failedPerSecond).toEqual([0, 0, 1, 0]);
});

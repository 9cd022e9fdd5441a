import { SilentPeers } from "../../../src/speaker/l2/silent-peers.js";

// The node's last heartbeat was accepted at 1000.
const LAST = 1000;

test("claims alone never make a silent peer alive", () => {
  const p = new SilentPeers();
  for (let t = 1500; t < 60_000; t += 10) p.claimed("a", t);
  expect(p.alive("a", 60_000, LAST)).toBe(false);
});

test("a Lease renewal alone never makes a silent peer alive", () => {
  const p = new SilentPeers();
  p.leaseRenewed("a", 5000);
  expect(p.alive("a", 5000, LAST)).toBe(false);
});

test("a renewal received within the margin after the last heartbeat (in flight at a cut) is no proof", () => {
  const p = new SilentPeers({ leaseMarginMs: 2000 });
  p.leaseRenewed("a", LAST + 1500);
  p.claimed("a", LAST + 2500);
  expect(p.alive("a", LAST + 2500, LAST)).toBe(false);
  p.leaseRenewed("a", LAST + 2100);
  expect(p.alive("a", LAST + 2500, LAST)).toBe(true);
});

test("the proof lapses with the claims, or with the renewals", () => {
  const p = new SilentPeers({ claimEvidenceMs: 3000, leaseEvidenceMs: 25_000 });
  p.leaseRenewed("a", 4000);
  p.claimed("a", 4000);
  expect(p.expiry("a")).toBe(7000);
  expect(p.alive("a", 7000, LAST)).toBe(true);
  expect(p.alive("a", 7001, LAST)).toBe(false);
  for (let t = 7000; t <= 29_000; t += 1000) p.claimed("a", t);
  expect(p.alive("a", 29_000, LAST)).toBe(true);
  expect(p.alive("a", 29_001, LAST)).toBe(false);
});

test("the records keep only the nodes of the cluster", () => {
  const p = new SilentPeers();
  p.claimed("a", 1);
  p.claimed("gone", 1);
  p.retain(new Set(["a"]));
  expect([...p.nodes()]).toEqual(["a"]);
});

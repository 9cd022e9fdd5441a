import type { Heartbeat } from "../../../src/speaker/l2/heartbeat.js";
import { Membership } from "../../../src/speaker/l2/membership.js";

function hb(node: string, sequence: number, extra: Partial<Heartbeat> = {}): Heartbeat {
  return {
    node,
    receiver: "a",
    sentAt: 0,
    incarnation: 1000,
    sequence,
    intervalMs: 100,
    leaving: false,
    ownedCount: 0,
    ownedDigest: "0".repeat(16),
    ...extra,
  };
}

test("a peer is live from its first heartbeat and dead after three missed intervals", () => {
  const m = new Membership({ self: "a" });
  expect(m.observe(hb("b", 1), 0).change).toEqual({ node: "b", from: "unknown", to: "live" });
  expect(m.liveNodes(300)).toEqual(["a", "b"]);
  expect(m.expire(300)).toEqual([]);
  expect(m.liveNodes(301)).toEqual(["a"]);
  expect(m.expire(301)).toEqual([{ node: "b", from: "live", to: "dead" }]);
  expect(m.expire(400)).toEqual([]);
});

test("regular heartbeats keep a peer live indefinitely", () => {
  const m = new Membership({ self: "a" });
  for (let t = 0, seq = 1; t <= 10_000; t += 100, seq++) {
    m.observe(hb("b", seq), t);
    expect(m.expire(t + 99)).toEqual([]);
  }
  expect(m.liveNodes(10_050)).toEqual(["a", "b"]);
});

test("the deadline follows the interval the peer announced", () => {
  const m = new Membership({ self: "a" });
  m.observe(hb("slow", 1, { intervalMs: 1000 }), 0);
  m.observe(hb("bogus", 1, { intervalMs: 0 }), 0);
  expect(m.liveNodes(2999)).toEqual(["a", "slow"]);
  expect(m.nextDeadline()).toBe(60);
  expect(
    m
      .expire(3001)
      .map((c) => c.node)
      .sort(),
  ).toEqual(["bogus", "slow"]);
});

test("replayed and reordered heartbeats do not refresh a peer", () => {
  const m = new Membership({ self: "a" });
  m.observe(hb("b", 5), 0);
  expect(m.observe(hb("b", 5), 250).result).toBe("replayed");
  expect(m.observe(hb("b", 4), 250).result).toBe("replayed");
  expect(m.observe(hb("b", 6, { incarnation: 999 }), 250).result).toBe("replayed");
  expect(m.expire(301)).toEqual([{ node: "b", from: "live", to: "dead" }]);
  // A replayed packet cannot bring it back either.
  expect(m.observe(hb("b", 5), 400).result).toBe("replayed");
  expect(m.liveNodes(400)).toEqual(["a"]);
});

test("a restarted peer (higher incarnation, sequence from 1) is live again at once", () => {
  const m = new Membership({ self: "a" });
  m.observe(hb("b", 900), 0);
  m.expire(500);
  expect(m.observe(hb("b", 1, { incarnation: 2000 }), 600).change).toEqual({
    node: "b",
    from: "dead",
    to: "live",
  });
});

test("a leaving peer drops out at once, before its deadline", () => {
  const m = new Membership({ self: "a" });
  m.observe(hb("b", 1), 0);
  expect(m.observe(hb("b", 2, { leaving: true }), 50).change).toEqual({
    node: "b",
    from: "live",
    to: "left",
  });
  expect(m.liveNodes(60)).toEqual(["a"]);
});

test("its own heartbeats (looped back) are ignored", () => {
  const m = new Membership({ self: "a" });
  expect(m.observe(hb("a", 1), 0).result).toBe("self");
  expect(m.snapshot()).toEqual([]);
});

test("replay state outlives the time window: a recording is refused while the codec's time check lets it through", () => {
  // Window 30 s: state is kept 60 s after the last heartbeat, whatever happens meanwhile.
  const m = new Membership({ self: "a" });
  m.observe(hb("b", 7), 0);
  m.observe(hb("b", 8, { leaving: true }), 100);
  for (const t of [400, 31_000, 59_999]) {
    m.expire(t);
    expect([t, m.observe(hb("b", 7), t).result]).toEqual([t, "replayed"]);
    expect(m.liveNodes(t)).toEqual(["a"]);
  }
});

test("a restarted peer is accepted at once, also while its old state is kept", () => {
  const m = new Membership({ self: "a" });
  m.observe(hb("b", 7), 0);
  m.expire(31_000);
  expect(m.observe(hb("b", 1, { incarnation: 5000 }), 31_000)).toEqual({
    result: "accepted",
    change: { node: "b", from: "dead", to: "live" },
  });
});

test("a new key is accepted only with a new incarnation", () => {
  const m = new Membership({ self: "a" });
  m.observe(hb("b", 1), 0, "key-1");
  expect(m.observe(hb("b", 2), 50, "key-2").result).toBe("keyChanged");
  expect(m.observe(hb("b", 3), 60, "key-1").result).toBe("accepted");
  expect(m.observe(hb("b", 1, { incarnation: 2000 }), 70, "key-2").result).toBe("accepted");
  expect(m.observe(hb("b", 2, { incarnation: 2000 }), 80, "key-1").result).toBe("keyChanged");
});

test("a lower incarnation is accepted only once the replay state is gone (twice the window)", () => {
  const m = new Membership({ self: "a", windowMs: 5_000 });
  m.observe(hb("b", 1, { incarnation: 5000 }), 0);
  m.expire(400);
  expect(m.observe(hb("b", 1, { incarnation: 10 }), 9_999).result).toBe("replayed");
  expect(m.observe(hb("b", 1, { incarnation: 10 }), 10_000).result).toBe("accepted");
});

test("peers gone for longer than twice the window are forgotten", () => {
  const m = new Membership({ self: "a", windowMs: 500 });
  m.observe(hb("b", 1), 0);
  m.expire(400);
  expect(m.snapshot().map((p) => p.state)).toEqual(["dead"]);
  m.expire(999);
  expect(m.snapshot().map((p) => p.state)).toEqual(["dead"]);
  m.expire(1000);
  expect(m.snapshot()).toEqual([]);
});

test("the table of peers is bounded: a full table refuses new nodes, not known ones", () => {
  const m = new Membership({ self: "a", maxPeers: 2, windowMs: 1000 });
  m.observe(hb("b", 1), 0);
  m.observe(hb("c", 1), 0);
  expect(m.observe(hb("d", 1), 10).result).toBe("full");
  expect(m.observe(hb("b", 2), 10).result).toBe("accepted");
  // Once a quiet peer's state has run out, its place is free.
  m.expire(400);
  m.observe(hb("b", 3), 2100);
  expect(m.observe(hb("d", 1), 2100).result).toBe("accepted");
  expect(m.snapshot().map((p) => p.node)).toEqual(["b", "d"]);
});

test("a joining peer is heard but not live until it says it is available; silent, it is dead", () => {
  const m = new Membership({ self: "a" });
  expect(m.observe(hb("b", 1, { joining: true }), 0).change).toEqual({
    node: "b",
    from: "unknown",
    to: "joining",
  });
  expect(m.liveNodes(10)).toEqual(["a"]);
  expect(m.observe(hb("b", 2), 50).change).toEqual({ node: "b", from: "joining", to: "live" });
  expect(m.liveNodes(60)).toEqual(["a", "b"]);
  const c = new Membership({ self: "a" });
  c.observe(hb("b", 1, { joining: true, intervalMs: 100 }), 0);
  expect(c.expire(301)).toEqual([{ node: "b", from: "joining", to: "dead" }]);
});

test("a peer declared dead and heard again soon (it was late, not gone) gets a longer allowance, for a minute", () => {
  const m = new Membership({ self: "a" });
  m.observe(hb("b", 1), 0);
  // 450 ms without a heartbeat (its event loop stalled): dead at 301, heard again at 450.
  expect(m.expire(301)).toEqual([{ node: "b", from: "live", to: "dead" }]);
  expect(m.observe(hb("b", 2), 450).change).toEqual({ node: "b", from: "dead", to: "live" });
  // The next stall of 450 ms passes: the allowance is 600 ms now.
  expect(m.expire(900)).toEqual([]);
  m.observe(hb("b", 3), 900);
  // It still dies when it really goes quiet, within the longer allowance.
  expect(m.expire(1500)).toEqual([]);
  expect(m.expire(1501)).toEqual([{ node: "b", from: "live", to: "dead" }]);
  // A minute after its last flap, regular heartbeats bring the usual 300 ms back.
  m.observe(hb("b", 4), 1600);
  for (let t = 1700, seq = 5; t <= 70_000; t += 100, seq++) m.observe(hb("b", seq), t);
  expect(m.expire(70_300)).toEqual([]);
  expect(m.expire(70_301)).toEqual([{ node: "b", from: "live", to: "dead" }]);
});

test("a return after a long silence, or as a restarted process, is not a flap; the allowance is bounded", () => {
  const m = new Membership({ self: "a" });
  m.observe(hb("b", 1), 0);
  m.expire(301);
  // Back after 5 s (a cut cable restored): the usual allowance.
  m.observe(hb("b", 2), 5000);
  expect(m.expire(5301)).toEqual([{ node: "b", from: "live", to: "dead" }]);
  // Back soon but restarted (higher incarnation): the usual allowance too.
  m.observe(hb("b", 1, { incarnation: 2000 }), 5400);
  expect(m.expire(5701)).toEqual([{ node: "b", from: "live", to: "dead" }]);
  // Flapping over and over: never more than MAX_PATIENCE (3) times 300 ms.
  let t = 5800;
  let seq = 2;
  for (let i = 0; i < 20; i++) {
    m.observe(hb("b", seq++, { incarnation: 2000 }), t);
    const deadAt = (m.snapshot().find((p) => p.node === "b")?.deadline ?? 0) + 1;
    expect(deadAt - t).toBeLessThanOrEqual(3 * 300 + 1);
    expect(m.expire(deadAt)).toEqual([{ node: "b", from: "live", to: "dead" }]);
    t = deadAt + 10;
  }
  expect((m.snapshot().find((p) => p.node === "b")?.deadline ?? 0) - (t - 10 - 1)).toBeLessThanOrEqual(
    8 * 300,
  );
});

test("a suspected peer counts live for one interval and a margin after its last heartbeat, until the next one", () => {
  const m = new Membership({ self: "a" });
  m.observe(hb("slow", 1, { intervalMs: 1000 }), 0);
  // Its full allowance would be 3 s; suspected at 300 ms, it is held to 1.5 s.
  expect(m.suspect("slow", 300)).toBe(true);
  expect(m.expire(1500)).toEqual([]);
  expect(m.expire(1501)).toEqual([{ node: "slow", from: "live", to: "dead" }]);
  // Suspected after that, it is no longer live; suspecting a node never heard of changes nothing.
  expect(m.suspect("slow", 1600)).toBe(false);
  expect(m.suspect("nobody", 1600)).toBe(false);
  // A peer whose heartbeats keep coming is not affected, and its next heartbeat restores 3 s.
  m.observe(hb("steady", 1, { intervalMs: 1000 }), 2000);
  m.suspect("steady", 2100);
  m.observe(hb("steady", 2, { intervalMs: 1000 }), 2900);
  expect(m.expire(5900)).toEqual([]);
  expect(m.isLive("steady", 5900)).toBe(true);
});

test("suspicion never shortens a fast peer's usual allowance, only a grown one", () => {
  const m = new Membership({ self: "a" });
  m.observe(hb("b", 1), 0);
  m.suspect("b", 50);
  expect(m.expire(300)).toEqual([]);
  expect(m.expire(301)).toEqual([{ node: "b", from: "live", to: "dead" }]);
  // A flap grows its allowance to 600 ms; suspected, it is back to 300 ms (interval + 200 ms).
  m.observe(hb("b", 2), 400);
  m.suspect("b", 450);
  expect(m.expire(700)).toEqual([]);
  expect(m.expire(701)).toEqual([{ node: "b", from: "live", to: "dead" }]);
  // The flap that followed is still a flap: the allowance it grows is not the suspected one.
  m.observe(hb("b", 3), 1800);
  expect(m.snapshot().find((p) => p.node === "b")?.patience).toBe(3);
});

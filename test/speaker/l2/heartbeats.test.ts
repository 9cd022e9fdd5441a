import { encodeHeartbeat, type Heartbeat } from "../../../src/speaker/l2/heartbeat.js";
import { Heartbeats } from "../../../src/speaker/l2/heartbeats.js";
import { Membership, type MembershipChange } from "../../../src/speaker/l2/membership.js";
import { FakeClock } from "../../clock.js";
import { FakeNetwork, testIdentity, testPeerKeys } from "./fakes.js";

const key = Buffer.from("cluster heartbeat key");

const addresses = new Map([
  ["a", "192.0.2.11"],
  ["b", "192.0.2.12"],
  ["c", "192.0.2.13"],
]);

function speaker(self: string, net: FakeNetwork, clock: FakeClock, incarnation = 1000) {
  const changes: MembershipChange[] = [];
  const membership = new Membership({ self });
  const hb = new Heartbeats({
    self,
    key,
    identity: testIdentity(self),
    incarnation,
    transport: net.transport(addresses.get(self) as string),
    clock,
    wallClock: clock.wall,
    membership,
    onChange: (c) => changes.push(...c),
  });
  hb.setPeers(addresses);
  hb.setPeerKeys(testPeerKeys(addresses.keys()));
  return { hb, membership, changes };
}

const inboxOf = (net: FakeNetwork, address: string) => net.inboxes.get(address) as (p: Uint8Array) => void;

/** Speakers a and b, started, on one fake network and clock. */
/** A heartbeat as node a would send it to b now, with a fresh incarnation. */
function heartbeatFromAToB(clock: FakeClock): Heartbeat {
  return {
    node: "a",
    receiver: "b",
    sentAt: clock.wall(),
    incarnation: 9999,
    sequence: 1,
    intervalMs: 100,
    leaving: false,
    ownedCount: 0,
    ownedDigest: "0".repeat(16),
  };
}

function startedPair() {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = speaker("a", net, clock);
  const b = speaker("b", net, clock);
  a.hb.start();
  b.hb.start();
  return { net, clock, a, b };
}

test("peers that hear each other see each other live", () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const [a, b, c] = ["a", "b", "c"].map((n) => speaker(n, net, clock)) as [
    ReturnType<typeof speaker>,
    ReturnType<typeof speaker>,
    ReturnType<typeof speaker>,
  ];
  for (const s of [a, b, c]) s.hb.start();
  clock.advance(1100);
  expect(a.membership.liveNodes(clock.now())).toEqual(["a", "b", "c"]);
  expect(c.membership.liveNodes(clock.now())).toEqual(["a", "b", "c"]);
});

test("a successor watching fast declares its owner dead 300-320 ms after the last heartbeat", () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = speaker("a", net, clock);
  const b = speaker("b", net, clock);
  a.hb.setPlan(new Map([["b", 100]]));
  a.hb.start();
  b.hb.start();
  clock.advance(1000);
  const lastToB = () => net.captured.filter((p) => p.to === "192.0.2.12").length;
  const before = lastToB();
  net.cut.add("192.0.2.11");
  const cutAt = clock.now();
  let deadAt: number | undefined;
  for (let t = 0; t < 1000 && deadAt === undefined; t += 1) {
    clock.advance(1);
    if (b.changes.some((c) => c.node === "a" && c.to === "dead")) deadAt = clock.now();
  }
  expect(lastToB()).toBe(before);
  // The last heartbeat went out at most 100 ms before the cut.
  expect((deadAt as number) - cutAt).toBeGreaterThan(200);
  expect((deadAt as number) - cutAt).toBeLessThanOrEqual(320);
});

test("a peer on the slow interval gets one heartbeat a second, a successor ten", () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = speaker("a", net, clock);
  a.hb.setPlan(
    new Map([
      ["b", 100],
      ["c", 1000],
    ]),
  );
  a.hb.start();
  clock.advance(10_000);
  const to = (ip: string) => net.captured.filter((p) => p.to === ip).length;
  expect(to("192.0.2.12")).toBeGreaterThanOrEqual(99);
  expect(to("192.0.2.12")).toBeLessThanOrEqual(101);
  expect(to("192.0.2.13")).toBeGreaterThanOrEqual(10);
  expect(to("192.0.2.13")).toBeLessThanOrEqual(11);
});

test("a node that becomes a successor is told at once", () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = speaker("a", net, clock);
  a.hb.start();
  clock.advance(50);
  const sent = net.captured.length;
  a.hb.setPlan(new Map([["c", 100]]));
  clock.advance(20);
  expect(net.captured.slice(sent).map((p) => p.to)).toEqual(["192.0.2.13"]);
});

test("on leave, peers drop the node at once instead of waiting for its deadline", () => {
  const { clock, a, b } = startedPair();
  clock.advance(1000);
  a.hb.leave();
  expect(b.changes).toContainEqual({ node: "a", from: "live", to: "left" });
  expect(b.membership.liveNodes(clock.now())).toEqual(["b"]);
});

test("replayed, forged and garbage packets are counted and change nothing", () => {
  const { net, clock, a, b } = startedPair();
  clock.advance(500);
  const old = net.captured.find((p) => p.to === "192.0.2.12")?.packet as Uint8Array;
  a.hb.stop();
  clock.advance(3100);
  expect(b.membership.liveNodes(clock.now())).toEqual(["b"]);
  const inbox = inboxOf(net, "192.0.2.12");
  inbox(old);
  const forged = heartbeatFromAToB(clock);
  inbox(encodeHeartbeat(forged, Buffer.from("wrong key"), Buffer.alloc(32)));
  inbox(Uint8Array.from([1, 2, 3]));
  expect(b.membership.liveNodes(clock.now())).toEqual(["b"]);
  expect(b.hb.stats()).toMatchObject({ replayed: 1, dropped: { badSignature: 1, truncated: 1 } });
});

test("a flood is dropped before the HMAC and counted, while a peer's heartbeats still pass", () => {
  const { net, clock, a, b } = startedPair();
  // a watches b closely: 10 heartbeats a second, the most a peer sends in normal operation.
  a.hb.setPlan(new Map([["b", 100]]));
  clock.advance(500);
  const inbox = net.inboxes.get("192.0.2.12") as (
    p: Uint8Array,
    from?: { address: string; port: number },
  ) => void;
  const junk = encodeHeartbeat(
    {
      node: "a",
      receiver: "b",
      sentAt: clock.wall(),
      incarnation: 1,
      sequence: 1,
      intervalMs: 100,
      leaving: false,
      ownedCount: 0,
      ownedDigest: "0".repeat(16),
    },
    Buffer.from("wrong key"),
    Buffer.alloc(32),
  );
  const acceptedBefore = b.hb.stats().accepted;
  let port = 1024;
  // 5 s of 20,000 packets a second: half from one host, half from made-up sources.
  for (let ms = 0; ms < 5000; ms += 10) {
    for (let i = 0; i < 100; i++) inbox(junk, { address: "203.0.113.66", port: 40_000 });
    for (let i = 0; i < 100; i++) inbox(junk, { address: `203.0.113.${i}`, port: port++ % 65_536 });
    clock.advance(10);
    expect(b.membership.liveNodes(clock.now())).toEqual(["a", "b"]);
  }
  const s = b.hb.stats();
  expect(s.accepted - acceptedBefore).toBeGreaterThanOrEqual(49);
  // Only what the limits allow reaches the HMAC: 200 + 100/s from the one host, 400 + 200/s from the rest.
  expect(s.dropped.badSignature).toBeLessThanOrEqual(200 + 500 + 400 + 1000 + 2);
  expect(s.rateLimited.source).toBeGreaterThan(40_000);
  expect(s.rateLimited.global).toBeGreaterThan(40_000);
});

/**
 * a and b heartbeat for half a second; then a dies (b notices within 3 s, a's slow interval),
 * and what it sent to b is what an attacker has.
 */
function recordedThenDead() {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = speaker("a", net, clock);
  const b = speaker("b", net, clock);
  a.hb.start();
  b.hb.start();
  clock.advance(500);
  const recorded = net.captured.filter((p) => p.to === "192.0.2.12").map((p) => p.packet);
  a.hb.stop();
  clock.advance(3100);
  expect(b.membership.liveNodes(clock.now())).toEqual(["b"]);
  return { net, clock, a, b, recorded };
}

test.each([
  ["31 s", 31_000],
  ["5 min", 300_000],
  ["30 min", 1_800_000],
])("a dead node's recorded heartbeats replayed %s later do not bring it back", (_when, after) => {
  const { net, clock, b, recorded } = recordedThenDead();
  expect(recorded.length).toBeGreaterThan(0);
  clock.advance(after - 3100);
  const accepted = b.hb.stats().accepted;
  for (const packet of recorded) inboxOf(net, "192.0.2.12")(packet);
  expect(b.membership.liveNodes(clock.now())).toEqual(["b"]);
  expect(b.hb.stats().accepted).toBe(accepted);
  expect(b.changes.filter((c) => c.to === "live")).toHaveLength(1);
});

test("a heartbeat sent to c and replayed to b is refused", () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = speaker("a", net, clock);
  const b = speaker("b", net, clock);
  speaker("c", net, clock).hb.start();
  a.hb.start();
  b.hb.start();
  clock.advance(500);
  // b stops hearing a, and counts it dead; what a sends to c meanwhile has sequence numbers b has not seen.
  net.cut.add("192.0.2.12");
  clock.advance(3100);
  net.cut.clear();
  a.hb.stop();
  expect(b.membership.liveNodes(clock.now())).toEqual(["b"]);
  const toC = net.captured.filter((p) => p.to === "192.0.2.13").map((p) => p.packet);
  for (const packet of toC.slice(-2)) inboxOf(net, "192.0.2.12")(packet);
  expect(b.membership.liveNodes(clock.now())).toEqual(["b"]);
  expect(b.hb.stats().dropped.otherReceiver).toBe(2);
});

test("a node restarted with a new incarnation and a new key is live again at once", () => {
  const { net, clock, b } = recordedThenDead();
  // The restarted a: same name and address, new key pair, higher incarnation; its Lease says so.
  const identity = testIdentity("a again");
  const restarted = new Heartbeats({
    self: "a",
    key,
    identity,
    incarnation: 2000,
    transport: net.transport("192.0.2.11"),
    clock,
    wallClock: clock.wall,
    membership: new Membership({ self: "a" }),
    onChange: () => {},
  });
  restarted.setPeers(addresses);
  restarted.setPeerKeys(testPeerKeys(addresses.keys()));
  b.hb.setPeerKeys(new Map([...testPeerKeys(addresses.keys()), ["a", identity.publicKey]]));
  restarted.setPlan(new Map([["b", 100]]));
  restarted.start();
  clock.advance(20);
  expect(b.membership.liveNodes(clock.now())).toEqual(["a", "b"]);
  expect(b.hb.stats().dropped).toEqual({});
});

test("c, holding the cluster key, cannot make b count a as live or leaving", () => {
  const { net, clock, b } = recordedThenDead();
  const c = testIdentity("c");
  const forged = heartbeatFromAToB(clock);
  // Every key c can make: its own towards b, and "a to b" as c derives it.
  const bKey = testIdentity("b").publicKey;
  for (const pairKey of [c.pairKey("c", "b", bKey), c.pairKey("a", "b", bKey)])
    inboxOf(net, "192.0.2.12")(encodeHeartbeat(forged, key, pairKey as Buffer));
  expect(b.membership.liveNodes(clock.now())).toEqual(["b"]);
  expect(b.hb.stats().dropped).toEqual({ badNodeSignature: 2 });
});

test("no heartbeats go to a peer that has published no key; they start once it has", () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = speaker("a", net, clock);
  a.hb.setPeerKeys(testPeerKeys(["b"]));
  a.hb.start();
  clock.advance(1000);
  expect(net.captured.some((p) => p.to === "192.0.2.13")).toBe(false);
  expect(a.hb.stats().unkeyed).toBeGreaterThan(0);
  a.hb.setPeerKeys(testPeerKeys(["b", "c"]));
  clock.advance(1000);
  expect(net.captured.some((p) => p.to === "192.0.2.13")).toBe(true);
});

test("a node whose own event loop stalled does not declare its peers dead for the heartbeats it has not read yet", () => {
  // Two clocks: b stalls while a keeps sending; what a sends meanwhile waits in b's socket.
  const net = new FakeNetwork();
  const clockA = new FakeClock();
  const clockB = new FakeClock();
  const a = speaker("a", net, clockA);
  const b = speaker("b", net, clockB);
  a.hb.setPlan(new Map([["b", 100]]));
  b.hb.setPlan(new Map([["a", 100]]));
  a.hb.start();
  b.hb.start();
  const both = (ms: number) => {
    for (let t = 0; t < ms; t++) {
      clockA.advance(1);
      clockB.advance(1);
    }
  };
  both(1000);
  expect(b.membership.liveNodes(clockB.now())).toEqual(["a", "b"]);
  const inboxB = inboxOf(net, "192.0.2.12");
  const queued: Uint8Array[] = [];
  net.inboxes.set("192.0.2.12", (p) => queued.push(p));
  for (let t = 0; t < 500; t++) clockA.advance(1);
  clockB.stall(500);
  expect(queued.length).toBeGreaterThanOrEqual(4);
  // The loop resumes: the overdue tick runs first, then the socket is read.
  clockB.advance(0);
  net.inboxes.set("192.0.2.12", inboxB);
  for (const p of queued) inboxB(p);
  both(200);
  expect(b.changes.filter((c) => c.node === "a" && c.to === "dead")).toEqual([]);
  expect(b.membership.liveNodes(clockB.now())).toEqual(["a", "b"]);
  expect(b.hb.stats().lateTicks).toBe(1);
  // A peer that really went quiet is still declared dead, within a tick more than before.
  net.cut.add("192.0.2.11");
  const cutAt = clockB.now();
  let deadAt: number | undefined;
  for (let t = 0; t < 1000 && deadAt === undefined; t++) {
    both(1);
    if (b.changes.some((c) => c.node === "a" && c.to === "dead")) deadAt = clockB.now();
  }
  expect((deadAt as number) - cutAt).toBeLessThanOrEqual(320);
});

test("a heartbeat says whether its sender hears the receiver: not at first, nor once the receiver's heartbeats stop", () => {
  const { net, clock } = startedPair();
  const sentTo = (to: string) =>
    net.captured.filter((c) => c.to === addresses.get(to)).map((c) => c.packet[5] ?? 0);
  // a's very first heartbeat to b goes before a has heard b.
  clock.advance(20);
  expect(sentTo("b").length).toBeGreaterThan(0);
  expect((sentTo("b")[0] ?? 0) & 4).toBe(4);
  clock.advance(2000);
  expect((sentTo("b").at(-1) ?? 0) & 4).toBe(0);
  // b's heartbeats to a are lost: a's heartbeats, which b still receives, say so.
  net.cutOneWay.add(`${addresses.get("b")}>${addresses.get("a")}`);
  clock.advance(4000);
  expect((sentTo("b").at(-1) ?? 0) & 4).toBe(4);
});

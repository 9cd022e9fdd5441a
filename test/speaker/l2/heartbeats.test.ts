import { encodeHeartbeat, type Heartbeat } from "../../../src/speaker/l2/heartbeat.js";
import { Heartbeats } from "../../../src/speaker/l2/heartbeats.js";
import { Membership, type MembershipChange } from "../../../src/speaker/l2/membership.js";
import { FakeClock, FakeNetwork } from "./fakes.js";

const key = Buffer.from("cluster heartbeat key");

const addresses = new Map([
  ["a", "192.0.2.11"],
  ["b", "192.0.2.12"],
  ["c", "192.0.2.13"],
]);

function speaker(self: string, net: FakeNetwork, clock: FakeClock) {
  const changes: MembershipChange[] = [];
  const membership = new Membership({ self });
  const hb = new Heartbeats({
    self,
    key,
    incarnation: 1000,
    transport: net.transport(addresses.get(self) as string),
    clock,
    membership,
    onChange: (c) => changes.push(...c),
  });
  hb.setPeers(addresses);
  return { hb, membership, changes };
}

/** Speakers a and b, started, on one fake network and clock. */
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
  const inbox = net.inboxes.get("192.0.2.12") as (p: Uint8Array) => void;
  inbox(old);
  const forged: Heartbeat = {
    node: "a",
    incarnation: 9999,
    sequence: 1,
    intervalMs: 100,
    leaving: false,
    ownedCount: 0,
    ownedDigest: "0".repeat(16),
  };
  inbox(encodeHeartbeat(forged, Buffer.from("wrong key")));
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
      incarnation: 1,
      sequence: 1,
      intervalMs: 100,
      leaving: false,
      ownedCount: 0,
      ownedDigest: "0".repeat(16),
    },
    Buffer.from("wrong key"),
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

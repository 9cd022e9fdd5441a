import fc from "fast-check";
import {
  decodeHeartbeat,
  encodeHeartbeat,
  type Heartbeat,
  type HeartbeatReceiver,
  ownedDigest,
} from "../../../src/speaker/l2/heartbeat.js";
import { testIdentity } from "./fakes.js";

const key = Buffer.from("a shared key of the cluster, 32b");
const NOW = 1_763_780_000_000;
const [a, b, c] = ["node-a", "node-b", "node-c"].map(testIdentity) as [
  ReturnType<typeof testIdentity>,
  ReturnType<typeof testIdentity>,
  ReturnType<typeof testIdentity>,
];
/** The key node-a uses towards node-b (and node-b derives for what comes from node-a). */
const aToB = a.pairKey("node-a", "node-b", b.publicKey) as Buffer;
const beat: Heartbeat = {
  node: "node-a",
  receiver: "node-b",
  sentAt: NOW,
  incarnation: 1_763_780_000_000,
  sequence: 42,
  intervalMs: 100,
  leaving: false,
  ownedCount: 2,
  ownedDigest: ownedDigest(["192.0.2.10", "2001:db8::a"]),
};

/** node-b receiving, at `now`, with the keys its peers published. */
function atB(now = NOW): HeartbeatReceiver {
  const published = new Map([
    ["node-a", a.publicKey],
    ["node-c", c.publicKey],
  ]);
  return {
    clusterKey: key,
    self: "node-b",
    now,
    windowMs: 30_000,
    pairKey: (sender) => {
      const k = published.get(sender);
      return k === undefined ? undefined : b.pairKey(sender, "node-b", k);
    },
  };
}

const encode = (h: Heartbeat) => encodeHeartbeat(h, key, aToB);

test("a signed heartbeat round-trips", () => {
  expect(decodeHeartbeat(encode(beat), atB())).toEqual({ ok: true, value: beat });
});

test("a joining heartbeat round-trips, and sets the leaving bit for a speaker that knows no joining", () => {
  const joining = { ...beat, joining: true };
  const packet = encode(joining);
  expect(decodeHeartbeat(packet, atB())).toEqual({ ok: true, value: joining });
  expect((packet[5] ?? 0) & 1).toBe(1);
});

test("the pair key is the same on both ends and differs per direction and per pair", () => {
  expect(b.pairKey("node-a", "node-b", a.publicKey)).toEqual(aToB);
  expect(b.pairKey("node-b", "node-a", a.publicKey)).not.toEqual(aToB);
  expect(c.pairKey("node-a", "node-c", a.publicKey)).not.toEqual(aToB);
});

test("the digest ignores order and tells different sets apart", () => {
  expect(ownedDigest(["b", "a"])).toBe(ownedDigest(["a", "b"]));
  expect(ownedDigest(["a"])).not.toBe(ownedDigest(["a", "b"]));
});

test("a heartbeat signed with another cluster key is refused", () => {
  const forged = encodeHeartbeat({ ...beat, leaving: true }, Buffer.from("attacker"), aToB);
  expect(decodeHeartbeat(forged, atB())).toEqual({ ok: false, reason: "badSignature" });
});

test("node C, with the right cluster key, cannot speak for node A", () => {
  // C's own pair key towards B, and every key C could derive, are not A's.
  const cToB = c.pairKey("node-c", "node-b", b.publicKey) as Buffer;
  const cAsA = c.pairKey("node-a", "node-b", b.publicKey) as Buffer;
  for (const pairKey of [cToB, cAsA]) {
    const forged = encodeHeartbeat({ ...beat, leaving: true }, key, pairKey);
    expect(decodeHeartbeat(forged, atB())).toEqual({ ok: false, reason: "badNodeSignature" });
  }
  // While C's heartbeats in its own name pass.
  const own = encodeHeartbeat({ ...beat, node: "node-c" }, key, cToB);
  expect(decodeHeartbeat(own, atB()).ok).toBe(true);
});

test("a heartbeat from a node that published no key is refused", () => {
  const unknown = encodeHeartbeat({ ...beat, node: "node-x" }, key, aToB);
  expect(decodeHeartbeat(unknown, atB())).toEqual({ ok: false, reason: "unknownSender" });
});

test("a heartbeat addressed to another node is refused", () => {
  const toC = encodeHeartbeat(
    { ...beat, receiver: "node-c" },
    key,
    a.pairKey("node-a", "node-c", c.publicKey) as Buffer,
  );
  expect(decodeHeartbeat(toC, atB())).toEqual({ ok: false, reason: "otherReceiver" });
});

test.each([
  ["31 s later", NOW + 31_000, false],
  ["5 min later", NOW + 300_000, false],
  ["30 min later", NOW + 1_800_000, false],
  ["31 s before (the sender's clock is ahead)", NOW - 31_000, false],
  ["30 s later", NOW + 30_000, true],
  ["29 s before", NOW - 29_000, true],
])("a heartbeat received %s: accepted %s", (_when, now, accepted) => {
  const d = decodeHeartbeat(encode(beat), atB(now));
  expect(d).toEqual(accepted ? { ok: true, value: beat } : { ok: false, reason: "outsideWindow" });
});

test("any flipped bit in a signed heartbeat is refused", () => {
  const good = encode(beat);
  fc.assert(
    fc.property(fc.nat(good.length - 1), fc.nat(7), (at, bit) => {
      const bad = Buffer.from(good);
      bad[at] = (bad[at] ?? 0) ^ (1 << bit);
      expect(decodeHeartbeat(bad, atB()).ok).toBe(false);
    }),
  );
});

test("a version 1 heartbeat (no time, no receiver) is refused", () => {
  const v1 = Buffer.from(encode(beat));
  v1[4] = 1;
  expect(decodeHeartbeat(v1, atB())).toEqual({ ok: false, reason: "badVersion" });
});

test.each([
  ["empty", Buffer.alloc(0), "truncated"],
  ["too short", encode(beat).subarray(0, 60), "truncated"],
  ["extra byte", Buffer.concat([encode(beat), Buffer.from([0])]), "badLength"],
  ["other protocol", Buffer.from(`XXXX${"y".repeat(120)}`), "badMagic"],
])("%s is refused as %s", (_n, packet, reason) => {
  expect(decodeHeartbeat(packet, atB())).toEqual({ ok: false, reason });
});

test("arbitrary bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 160 }), (bytes) =>
      expect(() => decodeHeartbeat(bytes, atB())).not.toThrow(),
    ),
  );
});

test("every heartbeat round-trips", () => {
  const arb = fc.record({
    node: fc.constant("node-a"),
    receiver: fc.constant("node-b"),
    sentAt: fc.integer({ min: NOW - 30_000, max: NOW + 30_000 }),
    incarnation: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    sequence: fc.nat({ max: 0xffffffff }),
    intervalMs: fc.nat({ max: 0xffff }),
    leaving: fc.boolean(),
    ownedCount: fc.nat({ max: 0xffff }),
    ownedDigest: fc
      .array(fc.constantFrom(..."0123456789abcdef"), { minLength: 16, maxLength: 16 })
      .map((x) => x.join("")),
  });
  fc.assert(
    fc.property(arb, (h) => expect(decodeHeartbeat(encode(h), atB())).toEqual({ ok: true, value: h })),
  );
});

test("any node names round-trip", () => {
  const name = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,252}$/);
  fc.assert(
    fc.property(name, name, (node, receiver) => {
      const h = { ...beat, node, receiver };
      const r = { ...atB(), self: receiver, pairKey: () => aToB };
      expect(decodeHeartbeat(encode(h), r)).toEqual({ ok: true, value: h });
    }),
    { numRuns: 50 },
  );
});

test("a name that is not a node name cannot be encoded", () => {
  for (const bad of [{ node: "" }, { node: "x".repeat(254) }, { receiver: "" }])
    expect(() => encode({ ...beat, ...bad })).toThrow(
      expect.objectContaining({ code: "HERALD_HEARTBEAT_ENCODE" }),
    );
});

test("the unheard bit round-trips beside leaving and joining, which read as before under the two-bit mask", () => {
  for (const extra of [{}, { leaving: true }, { joining: true }]) {
    const unheard = { ...beat, ...extra, unheard: true };
    const packet = encode(unheard);
    expect(decodeHeartbeat(packet, atB())).toEqual({ ok: true, value: unheard });
    // A speaker that knows only the two low bits reads the same leaving and joining.
    expect((packet[5] ?? 0) & 3).toBe((encode({ ...beat, ...extra }) as Buffer)[5]);
  }
});

import fc from "fast-check";
import {
  decodeHeartbeat,
  encodeHeartbeat,
  type Heartbeat,
  ownedDigest,
} from "../../../src/speaker/l2/heartbeat.js";

const key = Buffer.from("a shared key of the cluster, 32b");
const beat: Heartbeat = {
  node: "node-a",
  incarnation: 1_763_780_000_000,
  sequence: 42,
  intervalMs: 100,
  leaving: false,
  ownedCount: 2,
  ownedDigest: ownedDigest(["192.0.2.10", "2001:db8::a"]),
};

test("a signed heartbeat round-trips", () => {
  expect(decodeHeartbeat(encodeHeartbeat(beat, key), key)).toEqual({ ok: true, value: beat });
});

test("the digest ignores order and tells different sets apart", () => {
  expect(ownedDigest(["b", "a"])).toBe(ownedDigest(["a", "b"]));
  expect(ownedDigest(["a"])).not.toBe(ownedDigest(["a", "b"]));
});

test("a heartbeat signed with another key is refused", () => {
  const forged = encodeHeartbeat({ ...beat, leaving: true }, Buffer.from("attacker"));
  expect(decodeHeartbeat(forged, key)).toEqual({ ok: false, reason: "badSignature" });
});

test("any flipped bit in a signed heartbeat is refused", () => {
  const good = encodeHeartbeat(beat, key);
  fc.assert(
    fc.property(fc.nat(good.length - 1), fc.nat(7), (at, bit) => {
      const bad = Buffer.from(good);
      bad[at] = (bad[at] ?? 0) ^ (1 << bit);
      expect(decodeHeartbeat(bad, key).ok).toBe(false);
    }),
  );
});

test.each([
  ["empty", Buffer.alloc(0), "truncated"],
  ["too short", encodeHeartbeat(beat, key).subarray(0, 40), "truncated"],
  ["extra byte", Buffer.concat([encodeHeartbeat(beat, key), Buffer.from([0])]), "badLength"],
  ["other protocol", Buffer.from(`XXXX${"y".repeat(80)}`), "badMagic"],
])("%s is refused as %s", (_n, packet, reason) => {
  expect(decodeHeartbeat(packet, key)).toEqual({ ok: false, reason });
});

test("arbitrary bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (b) =>
      expect(() => decodeHeartbeat(b, key)).not.toThrow(),
    ),
  );
});

test("every heartbeat round-trips", () => {
  const arb = fc.record({
    node: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,62}$/),
    incarnation: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    sequence: fc.nat({ max: 0xffffffff }),
    intervalMs: fc.nat({ max: 0xffff }),
    leaving: fc.boolean(),
    ownedCount: fc.nat({ max: 0xffff }),
    ownedDigest: fc
      .array(fc.constantFrom(..."0123456789abcdef"), { minLength: 16, maxLength: 16 })
      .map((a) => a.join("")),
  });
  fc.assert(
    fc.property(arb, (h) =>
      expect(decodeHeartbeat(encodeHeartbeat(h, key), key)).toEqual({ ok: true, value: h }),
    ),
  );
});

test("a name that is not a node name cannot be encoded", () => {
  expect(() => encodeHeartbeat({ ...beat, node: "" }, key)).toThrow(
    expect.objectContaining({ code: "HERALD_HEARTBEAT_ENCODE" }),
  );
  expect(() => encodeHeartbeat({ ...beat, node: "x".repeat(254) }, key)).toThrow();
});

import { isPublicKey, NodeIdentity, PeerKeys } from "../../../src/speaker/l2/node-identity.js";
import { testIdentity } from "./fakes.js";

test("a generated identity publishes an X25519 key, a new one at every start", () => {
  const one = NodeIdentity.generate();
  expect(isPublicKey(one.publicKey)).toBe(true);
  expect(NodeIdentity.generate().publicKey).not.toBe(one.publicKey);
});

test("peer keys follow what the Leases publish; a malformed or unusable key gives none", () => {
  const a = testIdentity("a");
  const b = testIdentity("b");
  const keys = new PeerKeys("a", a);
  keys.set(new Map([["b", b.publicKey]]));
  const first = keys.get("b");
  expect(first?.send).toEqual(b.pairKey("a", "b", a.publicKey));
  expect(first?.receive).toEqual(b.pairKey("b", "a", a.publicKey));
  // b restarted with a new key pair: new keys, new id.
  const b2 = testIdentity("b, restarted");
  keys.set(new Map([["b", b2.publicKey]]));
  expect(keys.get("b")?.send).toEqual(b2.pairKey("a", "b", a.publicKey));
  expect(keys.get("b")?.id).not.toBe(first?.id);
  // Garbage, and the all-zero point (an X25519 agreement with it fails).
  for (const bad of ["x25519:short", "ed25519:abc", `x25519:${"A".repeat(43)}`]) {
    keys.set(new Map([["b", bad]]));
    expect([bad, keys.get("b")?.send]).toEqual([bad, undefined]);
  }
  keys.set(new Map());
  expect(keys.get("b")).toBeUndefined();
});

test("an identity from a seed is reproducible and needs 32 bytes", () => {
  const seed = Buffer.alloc(32, 5);
  expect(NodeIdentity.fromSeed(seed).publicKey).toBe(NodeIdentity.fromSeed(seed).publicKey);
  expect(() => NodeIdentity.fromSeed(Buffer.alloc(31))).toThrow(RangeError);
});

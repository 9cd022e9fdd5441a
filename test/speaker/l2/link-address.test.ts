import fc from "fast-check";
import {
  ipv4ToBytes,
  ipv6ToBytes,
  ipv6ToString,
  macToBytes,
  macToString,
} from "../../../src/speaker/l2/link-address.js";

test.each([
  ["2001:db8::1", "2001:db8::1"],
  ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
  ["::", "::"],
  ["::1", "::1"],
  ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
  ["fe80::1:2", "fe80::1:2"],
])("IPv6 %s is written %s", (input, canonical) => {
  const bytes = ipv6ToBytes(input);
  expect(bytes).toBeDefined();
  expect(ipv6ToString(bytes as Uint8Array)).toBe(canonical);
});

test.each([
  "",
  "2001:db8::1::2",
  "1:2:3:4:5:6:7:8:9",
  "192.0.2.1",
  "fe80::1%eth0",
  "g::1",
  "::ffff:192.0.2.1",
])("malformed IPv6 %p is refused", (text) => expect(ipv6ToBytes(text)).toBeUndefined());

test.each(["", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:fg", "aabbccddeeff"])("malformed MAC %p is refused", (t) =>
  expect(macToBytes(t)).toBeUndefined(),
);

test.each(["192.0.2.256", "192.0.2", "1.2.3.4.5"])("malformed IPv4 %p is refused", (t) =>
  expect(ipv4ToBytes(t)).toBeUndefined(),
);

test("IPv6 text and bytes round-trip", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
      // IPv4-mapped addresses are refused as text (src/domain/address.ts says why).
      fc.pre(!(b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff));
      expect(ipv6ToBytes(ipv6ToString(b))).toEqual(b);
    }),
  );
});

test("MAC text and bytes round-trip", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (b) => {
      expect(macToBytes(macToString(b))).toEqual(b);
    }),
  );
});

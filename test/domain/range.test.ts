import fc from "fast-check";
import { expandIPv6Number, IPv4, IPv6 } from "ip-num";
import { formatValue, parseAddress } from "../../src/domain/address.js";
import { formatRange, parseRange, rangeSize, usableCount } from "../../src/domain/range.js";

describe("parseRange accepts the three spellings", () => {
  test.each([
    ["192.0.2.0/28", "192.0.2.0/28", 16n],
    ["  192.0.2.0/28 ", "192.0.2.0/28", 16n],
    ["192.0.2.10-192.0.2.20", "192.0.2.10-192.0.2.20", 11n],
    ["192.0.2.7", "192.0.2.7", 1n],
    ["192.0.2.0-192.0.2.255", "192.0.2.0/24", 256n],
    ["2001:db8::/120", "2001:db8::/120", 256n],
    ["2001:DB8:0::/64", "2001:db8::/64", 1n << 64n],
    ["2001:db8::1-2001:db8::ff", "2001:db8::1-2001:db8::ff", 255n],
    ["2001:db8::5", "2001:db8::5", 1n],
    ["10.0.0.0/8", "10.0.0.0/8", 1n << 24n],
  ])("%s", (text, canonical, size) => {
    const r = parseRange(text);
    if (!r.ok) throw new Error(r.error);
    expect(formatRange(r.value)).toBe(canonical);
    expect(rangeSize(r.value)).toBe(size);
  });
});

describe("parseRange rejects with a precise message", () => {
  test.each([
    ["", "empty entry"],
    ["192.0.2.256", "not a valid IPv4 address"],
    ["192.0.2.1/33", "prefix length"],
    ["192.0.2.5/24", "did you mean 192.0.2.0/24?"],
    ["2001:db8::1/64", "did you mean 2001:db8::/64?"],
    ["192.0.2.20-192.0.2.10", "starts after it ends"],
    ["192.0.2.1-2001:db8::1", "mixes IPv4 and IPv6"],
    ["192.0.2.1-192.0.2.2-192.0.2.3", "not a range"],
    ["192.0.2.0/24/8", "more than one"],
    ["192.0.02.1", "leading zero"],
    ["hello", "not an IP address"],
    ["fe80::1%eth0", "has a zone (%eth0)"],
    ["::ffff:192.0.2.1", "IPv4-mapped"],
    ["2001:db8::1::2", "not a valid IPv6 address"],
  ])("%j", (text, message) => {
    const r = parseRange(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(message);
  });
});

test("addresses format canonically (RFC 5952 for IPv6)", () => {
  for (const [text, canonical] of [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["192.0.2.1", "192.0.2.1"],
  ] as const) {
    const a = parseAddress(text);
    if (!a.ok) throw new Error(a.error);
    expect(formatValue(a.value.family, a.value.value)).toBe(canonical);
  }
});

describe("usableCount with avoidBuggyIPs counts without enumerating", () => {
  test.each([
    ["192.0.2.0/24", 254n],
    ["192.0.2.0/28", 15n],
    ["192.0.2.250-192.0.3.5", 10n],
    ["198.51.100.255", 0n],
    ["10.0.0.0/8", (1n << 24n) - 2n * 65536n],
    ["2001:db8::/120", 256n],
  ])("%s", (text, expected) => {
    const r = parseRange(text);
    if (!r.ok) throw new Error(r.error);
    expect(usableCount(r.value, true)).toBe(expected);
    // Cross-check small ranges by walking them.
    if (rangeSize(r.value) <= 4096n) {
      let walked = 0n;
      for (let v = r.value.first; v <= r.value.last; v++) {
        const low = v & 255n;
        if (r.value.family === "IPv6" || (low !== 0n && low !== 255n)) walked++;
      }
      expect(walked).toBe(expected);
    }
  });
});

describe("address text round-trips, checked against ip-num", () => {
  test("IPv6: format then parse gives the value back, in every spelling", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (value) => {
        fc.pre(value >> 32n !== 0xffffn);
        const text = formatValue("IPv6", value);
        expect(IPv6.fromString(text).getValue()).toBe(value);
        for (const spelling of [text, expandIPv6Number(text), text.toUpperCase()]) {
          const parsed = parseAddress(spelling);
          expect(parsed.ok && parsed.value.value).toBe(value);
        }
      }),
    );
  });

  test("IPv4 likewise", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }), (value) => {
        const text = formatValue("IPv4", value);
        expect(IPv4.fromString(text).getValue()).toBe(value);
        const parsed = parseAddress(text);
        expect(parsed.ok && parsed.value.value).toBe(value);
      }),
    );
  });

  test("IPv6 with an embedded IPv4 tail", () => {
    const parsed = parseAddress("2001:db8::192.0.2.1");
    expect(parsed.ok && formatValue("IPv6", parsed.value.value)).toBe("2001:db8::c000:201");
  });
});

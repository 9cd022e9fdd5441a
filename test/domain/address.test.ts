import { isIPv4, isIPv6 } from "node:net";
import fc from "fast-check";
import { validateEvent } from "../../src/audit/event.js";
import { parseFilter } from "../../src/audit/filter.js";
import {
  addressBytes,
  canonicalAddress,
  formatBytes,
  formatCidr,
  formatValue,
  parseAddress,
  parseCidr,
} from "../../src/domain/address.js";
import { apiAddress } from "../../src/speaker/admission.js";
import { canonicalAddress as forwardingAddress } from "../../src/speaker/forward/state.js";
import { ipv4ToBytes, ipv6ToBytes, ipv6ToString } from "../../src/speaker/l2/link-address.js";

/** What each component makes of one text: its canonical form, or undefined when it refuses it. */
function everyAnswer(text: string): Record<string, string | undefined> {
  const attempt = (f: () => string | undefined) => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  const api = apiAddress(text);
  const bytes = text.includes(":") ? ipv6ToBytes(text) : ipv4ToBytes(text);
  return {
    domain: canonicalAddress(text),
    speakerAdmission: api.ok ? api.address : undefined,
    forwarding: forwardingAddress(text)?.address ?? undefined,
    packets: bytes === undefined ? undefined : formatBytes(text.includes(":") ? "IPv6" : "IPv4", bytes),
    auditRecord: attempt(
      () => validateEvent({ component: "speaker", kind: "announce", addresses: [text] }).addresses?.[0],
    ),
    auditQuery: attempt(() => parseFilter({ address: text }, 0n).address),
  };
}

describe("every component gives the same answer for the same address text", () => {
  test.each([
    ["192.0.2.1", "192.0.2.1"],
    ["2001:db8::1", "2001:db8::1"],
    ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8::192.0.2.1", "2001:db8::c000:201"],
    ["::", "::"],
    // Refused by all: a second spelling of 192.0.2.1 (see src/domain/address.ts for why).
    ["::ffff:192.0.2.1", undefined],
    ["::ffff:c000:201", undefined],
    ["fe80::1%eth0", undefined],
    ["192.0.2.1%eth0", undefined],
    ["192.0.02.1", undefined],
    ["192.0.2.256", undefined],
    ["2001:db8::1::2", undefined],
    ["hello", undefined],
  ])("%s", (text, expected) => {
    const answers = everyAnswer(text);
    for (const [component, answer] of Object.entries(answers)) {
      expect({ component, answer }).toEqual({ component, answer: expected });
    }
  });
});

describe("refusals say why", () => {
  test.each([
    ["fe80::1%eth0", "has a zone (%eth0)"],
    ["::ffff:192.0.2.1", "write the IPv4 address 192.0.2.1 instead"],
    ["192.0.02.1", "leading zero"],
    ["", "empty address"],
  ])("%j", (text, message) => {
    const p = parseAddress(text);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error).toContain(message);
  });
});

test("RFC 5952: longest zero run compressed, the first on ties, never a single group", () => {
  for (const [text, canonical] of [
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ["1:0:0:2:0:0:3:4", "1::2:0:0:3:4"],
    ["2001:0DB8::0001", "2001:db8::1"],
  ] as const) {
    expect(canonicalAddress(text)).toBe(canonical);
  }
});

test("bytes and values agree in both directions", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (value) => {
      const bytes = addressBytes({ family: "IPv6", value });
      expect(formatBytes("IPv6", bytes)).toBe(formatValue("IPv6", value));
      expect(ipv6ToString(bytes)).toBe(formatValue("IPv6", value));
    }),
  );
  expect([...addressBytes({ family: "IPv4", value: 0xc0000201n })]).toEqual([192, 0, 2, 1]);
});

describe("CIDRs", () => {
  test.each([
    ["192.0.2.0/24", {}, "192.0.2.0/24"],
    ["2001:DB8::/32", {}, "2001:db8::/32"],
    ["192.0.2.7/24", { hostBits: "clear" as const }, "192.0.2.0/24"],
    ["0.0.0.0/0", {}, "0.0.0.0/0"],
  ])("%s", (text, options, canonical) => {
    const c = parseCidr(text, options);
    if (!c.ok) throw new Error(c.error);
    expect(formatCidr(c.value)).toBe(canonical);
  });

  test.each([
    ["192.0.2.7/24", "did you mean 192.0.2.0/24?"],
    ["192.0.2.0/33", "takes 0 to 32"],
    ["fe80::/10%eth0", "takes 0 to 128"],
    ["fe80::%eth0/10", "has a zone"],
    ["::ffff:192.0.2.0/120", "IPv4-mapped"],
    ["192.0.2.0", "is not a CIDR"],
  ])("%s is refused: %s", (text, message) => {
    const c = parseCidr(text);
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.error).toContain(message);
  });
});

test("IPv6 text is accepted exactly when node:net's grammar accepts it (and it is not IPv4-mapped)", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9a-fA-F:]{0,41}$/), (text) => {
      const p = parseAddress(text);
      const mapped = p.ok === false && p.error.includes("IPv4-mapped");
      expect(p.ok || mapped).toBe(text.includes(":") && isIPv6(text));
    }),
    { numRuns: 20_000 },
  );
  for (const text of [
    "1:2:3:4:5:6:7::",
    "::1:2:3:4:5:6:7",
    "1::",
    "::",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8::",
  ]) {
    expect(parseAddress(text).ok).toBe(isIPv6(text));
  }
});

test("IPv4 text is accepted exactly when node:net's grammar accepts it without leading zeros", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9.]{0,16}$/), (text) => {
      const leadingZero = text.split(".").some((o) => o.length > 1 && o.startsWith("0"));
      expect(parseAddress(text).ok).toBe(isIPv4(text) && !leadingZero);
    }),
    { numRuns: 20_000 },
  );
});

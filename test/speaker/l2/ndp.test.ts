import fc from "fast-check";
import {
  advertisementFor,
  dadProbe,
  decodeNdp,
  encodeNdp,
  icmpv6Checksum,
  type NdpPacket,
  unsolicitedAdvertisement,
} from "../../../src/speaker/l2/ndp.js";
import { unicastIpv6, unicastMac } from "./arbitraries.js";
import { client, solicitation as solicitationFor, speaker } from "./frames.js";

const solicitation = solicitationFor();

test("the checksum is the complemented one's-complement sum over pseudo-header and message", () => {
  // Pseudo-header of :: to :: with a 4-byte message 00 01 f2 03: sum = 4 + 58 + 0x0001 + 0xf203.
  const zero = new Uint8Array(16);
  const expected = ~(4 + 58 + 0x0001 + 0xf203) & 0xffff;
  expect(icmpv6Checksum(zero, zero, Uint8Array.from([0x00, 0x01, 0xf2, 0x03]))).toBe(expected);
});

test("a solicitation round-trips with its source link-layer option", () => {
  expect(decodeNdp(encodeNdp(solicitation))).toEqual({ ok: true, value: solicitation });
});

test("the answer to a solicitation is a solicited, overriding NA sent back to the asker", () => {
  const na = advertisementFor(solicitation, speaker);
  expect(decodeNdp(encodeNdp(na))).toEqual({
    ok: true,
    value: {
      kind: "advertisement",
      ethernetDestination: client,
      ethernetSource: speaker,
      ipSource: "2001:db8::a",
      ipDestination: "2001:db8::64",
      target: "2001:db8::a",
      router: false,
      solicited: true,
      override: true,
      targetLinkAddress: speaker,
    },
  });
});

test("a DAD probe is well formed and is answered to all nodes, unsolicited", () => {
  const probe = dadProbe(client, "2001:db8::a");
  expect(probe).toMatchObject({
    ipSource: "::",
    ipDestination: "ff02::1:ff00:a",
    ethernetDestination: "33:33:ff:00:00:0a",
  });
  const decoded = decodeNdp(encodeNdp(probe));
  expect(decoded.ok).toBe(true);
  const na = advertisementFor(probe, speaker);
  expect(na).toMatchObject({
    ipDestination: "ff02::1",
    ethernetDestination: "33:33:00:00:00:01",
    solicited: false,
  });
  expect(decodeNdp(encodeNdp(na)).ok).toBe(true);
});

test("an unsolicited NA overrides and carries the target link-layer address", () => {
  const d = decodeNdp(encodeNdp(unsolicitedAdvertisement(speaker, "2001:db8::a")));
  expect(d).toMatchObject({
    ok: true,
    value: { override: true, solicited: false, targetLinkAddress: speaker },
  });
});

const valid = encodeNdp(solicitation);
const ICMP = 54;

function mutated(change: (f: Uint8Array) => void, fixChecksum = true): Uint8Array {
  const f = Uint8Array.from(valid);
  change(f);
  if (fixChecksum) {
    f[ICMP + 2] = 0;
    f[ICMP + 3] = 0;
    const len = ((f[18] ?? 0) << 8) | (f[19] ?? 0);
    const sum = icmpv6Checksum(f.subarray(22, 38), f.subarray(38, 54), f.subarray(ICMP, ICMP + len));
    f[ICMP + 2] = sum >> 8;
    f[ICMP + 3] = sum & 0xff;
  }
  return f;
}

function withOption(type: number, lengthUnits: number, body: number[]): Uint8Array {
  const f = extend(valid, 2 + body.length, (g) => g.set([type, lengthUnits, ...body], valid.length));
  return mutatedFrom(f, f.length - ICMP);
}

function mutatedFrom(f: Uint8Array, payload: number): Uint8Array {
  f.set([payload >> 8, payload & 0xff], 18);
  f[ICMP + 2] = 0;
  f[ICMP + 3] = 0;
  const sum = icmpv6Checksum(f.subarray(22, 38), f.subarray(38, 54), f.subarray(ICMP, ICMP + payload));
  f[ICMP + 2] = sum >> 8;
  f[ICMP + 3] = sum & 0xff;
  return f;
}

test.each([
  ["empty frame", new Uint8Array(0), "truncated"],
  ["no IPv6 header", valid.subarray(0, 50), "truncated"],
  ["payload longer than the frame", valid.subarray(0, valid.length - 1), "truncated"],
  ["ARP ethertype", mutated((f) => f.set([0x08, 0x06], 12)), "notIpv6"],
  [
    "IP version 4",
    mutated((f) => {
      f[14] = 0x45;
    }),
    "badIpVersion",
  ],
  [
    "next header UDP",
    mutated((f) => {
      f[20] = 17;
    }),
    "notIcmpv6",
  ],
  [
    "echo request",
    mutated((f) => {
      f[ICMP] = 128;
    }),
    "notNeighborDiscovery",
  ],
  [
    "hop limit 254 (routed)",
    mutated((f) => {
      f[21] = 254;
    }),
    "badHopLimit",
  ],
  [
    "hop limit 64",
    mutated((f) => {
      f[21] = 64;
    }),
    "badHopLimit",
  ],
  ["payload of 16 bytes", mutatedFrom(Uint8Array.from(valid), 16), "badLength"],
  [
    "code 1",
    mutated((f) => {
      f[ICMP + 1] = 1;
    }),
    "badCode",
  ],
  [
    "flipped checksum bit",
    mutated((f) => {
      f[ICMP + 3] = (f[ICMP + 3] ?? 0) ^ 1;
    }, false),
    "badChecksum",
  ],
  [
    "flipped target bit",
    mutated((f) => {
      f[ICMP + 23] = (f[ICMP + 23] ?? 0) ^ 1;
    }, false),
    "badChecksum",
  ],
  [
    "multicast target",
    mutated((f) => {
      f[ICMP + 8] = 0xff;
    }),
    "multicastTarget",
  ],
  ["zero-length option", withOption(14, 0, [0, 0, 0, 0, 0, 0]), "badOption"],
  ["option longer than the packet", withOption(14, 4, [0, 0, 0, 0, 0, 0]), "badOption"],
  [
    "source link option of 16 bytes",
    mutatedFrom(
      extend(valid, 8, (f) => {
        f[ICMP + 25] = 2;
      }),
      40,
    ),
    "badOption",
  ],
  ["DAD probe with a link option", mutated((f) => f.fill(0, 22, 38)), "badDadSolicitation"],
  [
    "multicast Ethernet source",
    mutated((f) => {
      f[6] = 0x01;
    }),
    "badSenderMac",
  ],
])("%s is dropped as %s", (_name, frame, reason) => {
  expect(decodeNdp(frame)).toEqual({ ok: false, reason });
});

function extend(f: Uint8Array, by: number, change: (g: Uint8Array) => void): Uint8Array {
  const g = new Uint8Array(f.length + by);
  g.set(f);
  change(g);
  return g;
}

test("an unknown option is skipped and padding after the payload is ignored", () => {
  const f = withOption(14, 1, [1, 2, 3, 4, 5, 6]);
  const padded = new Uint8Array(f.length + 10);
  padded.set(f);
  expect(decodeNdp(padded)).toEqual({ ok: true, value: solicitation });
});

test("a solicited NA to a multicast group is dropped", () => {
  const na = { ...unsolicitedAdvertisement(speaker, "2001:db8::a"), solicited: true };
  expect(decodeNdp(encodeNdp(na))).toEqual({ ok: false, reason: "badSolicitedFlag" });
});

const ndpPacket: fc.Arbitrary<NdpPacket> = fc.oneof(
  fc.record(
    {
      kind: fc.constant("solicitation" as const),
      ethernetDestination: unicastMac,
      ethernetSource: unicastMac,
      ipSource: unicastIpv6.filter((ip) => ip !== "::"),
      ipDestination: unicastIpv6,
      target: unicastIpv6,
      sourceLinkAddress: unicastMac,
    },
    {
      requiredKeys: ["kind", "ethernetDestination", "ethernetSource", "ipSource", "ipDestination", "target"],
    },
  ),
  fc.record(
    {
      kind: fc.constant("advertisement" as const),
      ethernetDestination: unicastMac,
      ethernetSource: unicastMac,
      ipSource: unicastIpv6,
      ipDestination: unicastIpv6,
      target: unicastIpv6,
      router: fc.boolean(),
      solicited: fc.boolean(),
      override: fc.boolean(),
      targetLinkAddress: unicastMac,
    },
    {
      requiredKeys: [
        "kind",
        "ethernetDestination",
        "ethernetSource",
        "ipSource",
        "ipDestination",
        "target",
        "router",
        "solicited",
        "override",
      ],
    },
  ),
);

test("every NS and NA round-trips", () => {
  fc.assert(fc.property(ndpPacket, (p) => expect(decodeNdp(encodeNdp(p))).toEqual({ ok: true, value: p })));
});

test("arbitrary bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      expect(() => decodeNdp(bytes)).not.toThrow();
    }),
    { numRuns: 5000 },
  );
});

test("arbitrary options after a valid header give a packet or badOption, never a throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
      const f = mutatedFrom(
        extend(valid, tail.length, (g) => g.set(tail, valid.length)),
        valid.length - ICMP + tail.length,
      );
      const d = decodeNdp(f);
      if (!d.ok) expect(d.reason).toBe("badOption");
    }),
    { numRuns: 3000 },
  );
});

test("any single flipped bit after the ICMPv6 code fails the checksum", () => {
  fc.assert(
    fc.property(fc.integer({ min: ICMP + 2, max: valid.length - 1 }), fc.nat(7), (at, bit) => {
      const f = Uint8Array.from(valid);
      f[at] = (f[at] ?? 0) ^ (1 << bit);
      expect(decodeNdp(f)).toEqual({ ok: false, reason: "badChecksum" });
    }),
  );
});

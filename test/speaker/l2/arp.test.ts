import fc from "fast-check";
import { arpAnnouncement, arpProbe, arpReplyTo, decodeArp, encodeArp } from "../../../src/speaker/l2/arp.js";
import { ipv4, unicastMac } from "./arbitraries.js";
import { client, speaker, whoHas } from "./frames.js";

// A broadcast request laid out as arping sends it (who has 192.0.2.10, tell 192.0.2.100), zero padded.
const arpingRequest = Buffer.from(
  "ffffffffffff020000000064080600010800060400010200000000" +
    "64c0000264000000000000c000020a" +
    "000000000000000000000000000000000000",
  "hex",
);

test("a broadcast request from arping decodes", () => {
  const d = decodeArp(arpingRequest);
  expect(d).toEqual({ ok: true, value: whoHas("192.0.2.10") });
});

test("the reply goes unicast to the asker and names the speaker's MAC", () => {
  const reply = arpReplyTo(whoHas("192.0.2.10"), speaker);
  const d = decodeArp(encodeArp(reply));
  expect(d).toEqual({
    ok: true,
    value: {
      ethernetDestination: client,
      ethernetSource: speaker,
      operation: "reply",
      senderMac: speaker,
      senderIp: "192.0.2.10",
      targetMac: client,
      targetIp: "192.0.2.100",
    },
  });
});

test("announcement and probe have the RFC 5227 shapes", () => {
  const a = arpAnnouncement(speaker, "192.0.2.10");
  expect([a.senderIp, a.targetIp, a.ethernetDestination]).toEqual([
    "192.0.2.10",
    "192.0.2.10",
    "ff:ff:ff:ff:ff:ff",
  ]);
  const p = arpProbe(speaker, "192.0.2.10");
  expect([p.senderIp, p.targetIp]).toEqual(["0.0.0.0", "192.0.2.10"]);
  expect(encodeArp(p)).toHaveLength(60);
});

function mutate(at: number, value: number): Uint8Array {
  const f = Uint8Array.from(arpingRequest);
  f[at] = value;
  return f;
}

test.each([
  ["empty frame", new Uint8Array(0), "truncated"],
  ["header only", arpingRequest.subarray(0, 14), "truncated"],
  ["ARP cut short", arpingRequest.subarray(0, 41), "truncated"],
  ["IPv4 ethertype", mutate(13, 0x00), "notArp"],
  ["hardware type 6", mutate(15, 6), "badHardwareType"],
  ["protocol IPv6", mutate(16, 0x86), "badProtocolType"],
  ["hardware length 8", mutate(18, 8), "badAddressLengths"],
  ["protocol length 16", mutate(19, 16), "badAddressLengths"],
  ["operation 3 (RARP)", mutate(21, 3), "badOperation"],
  ["multicast frame source", mutate(6, 0x01), "badSenderMac"],
  ["broadcast sender mac", mutate(22, 0xff), "badSenderMac"],
])("%s is dropped as %s", (_name, frame, reason) => {
  expect(decodeArp(frame)).toEqual({ ok: false, reason });
});

const arpPacket = fc.record({
  ethernetDestination: fc.oneof(unicastMac, fc.constant("ff:ff:ff:ff:ff:ff")),
  ethernetSource: unicastMac,
  operation: fc.constantFrom("request" as const, "reply" as const),
  senderMac: unicastMac,
  senderIp: ipv4,
  targetMac: fc.oneof(unicastMac, fc.constant("00:00:00:00:00:00")),
  targetIp: ipv4,
});

test("every ARP packet round-trips", () => {
  fc.assert(fc.property(arpPacket, (p) => expect(decodeArp(encodeArp(p))).toEqual({ ok: true, value: p })));
});

test("arbitrary bytes never throw and always give a result or a reason", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      const d = decodeArp(bytes);
      expect(d.ok ? typeof d.value.senderIp : d.reason).toEqual(expect.any(String));
    }),
    { numRuns: 5000 },
  );
});

test("single-byte corruption of a valid request never throws", () => {
  fc.assert(
    fc.property(fc.nat(59), fc.nat(255), (at, value) => {
      expect(() => decodeArp(mutate(at, value))).not.toThrow();
    }),
  );
});

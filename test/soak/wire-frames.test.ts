import fc from "fast-check";
import { arpAnnouncement, arpProbe, arpReplyTo, decodeArp, encodeArp } from "../../src/speaker/l2/arp.js";
import {
  advertisementFor,
  decodeNdp,
  encodeNdp,
  unsolicitedAdvertisement,
} from "../../src/speaker/l2/ndp.js";
import { queryFrames, sightingOf } from "./wire-frames.js";

const me = "02:00:00:00:00:64";
const node = "02:00:00:00:00:0b";
const [askV4, askV6] = queryFrames(
  [
    { address: "203.0.113.10", family: "IPv4" },
    { address: "2001:db8:ff::a", family: "IPv6" },
  ],
  me,
  "203.0.113.100",
  "2001:db8:ff::64",
) as [Uint8Array, Uint8Array];

test("the queries are a broadcast who-has and a solicitation to the solicited-node group", () => {
  expect(decodeArp(askV4)).toEqual({
    ok: true,
    value: {
      ethernetDestination: "ff:ff:ff:ff:ff:ff",
      ethernetSource: me,
      operation: "request",
      senderMac: me,
      senderIp: "203.0.113.100",
      targetMac: "00:00:00:00:00:00",
      targetIp: "203.0.113.10",
    },
  });
  expect(decodeNdp(askV6)).toEqual({
    ok: true,
    value: {
      kind: "solicitation",
      ethernetDestination: "33:33:ff:00:00:0a",
      ethernetSource: me,
      ipSource: "2001:db8:ff::64",
      ipDestination: "ff02::1:ff00:a",
      target: "2001:db8:ff::a",
      sourceLinkAddress: me,
    },
  });
});

test("answers to the queries are sightings of the answering MAC", () => {
  const ask = decodeArp(askV4);
  const ns = decodeNdp(askV6);
  if (!ask.ok || !ns.ok || ns.value.kind !== "solicitation") throw new Error("queries must decode");
  expect(sightingOf(encodeArp(arpReplyTo(ask.value, node)), me)).toEqual({
    address: "203.0.113.10",
    mac: node,
    kind: "arp-reply",
  });
  expect(sightingOf(encodeNdp(advertisementFor(ns.value, node)), me)).toEqual({
    address: "2001:db8:ff::a",
    mac: node,
    kind: "na-solicited",
  });
});

test("announcements nobody asked for are sightings too, for any address", () => {
  expect(sightingOf(encodeArp(arpAnnouncement(node, "198.51.100.7")), me)).toEqual({
    address: "198.51.100.7",
    mac: node,
    kind: "arp-gratuitous",
  });
  const gratuitousReply = { ...arpAnnouncement(node, "198.51.100.7"), operation: "reply" as const };
  expect(sightingOf(encodeArp(gratuitousReply), me)?.kind).toBe("arp-gratuitous");
  expect(sightingOf(encodeNdp(unsolicitedAdvertisement(node, "2001:db8::7")), me)).toEqual({
    address: "2001:db8::7",
    mac: node,
    kind: "na-unsolicited",
  });
});

test("an NA without a target link-layer option names the frame's source MAC", () => {
  const na = { ...unsolicitedAdvertisement(node, "2001:db8::7"), targetLinkAddress: undefined };
  expect(sightingOf(encodeNdp(na), me)?.mac).toBe(node);
});

test("requests, probes, solicitations and our own frames are no sighting", () => {
  expect(
    sightingOf(encodeArp({ ...arpAnnouncement(node, "203.0.113.10"), senderIp: "203.0.113.1" }), me),
  ).toBe(undefined);
  expect(sightingOf(encodeArp(arpProbe(node, "203.0.113.10")), me)).toBe(undefined);
  expect(sightingOf(askV6, me)).toBe(undefined);
  expect(sightingOf(askV4, me)).toBe(undefined);
  expect(sightingOf(encodeArp(arpAnnouncement(me, "203.0.113.100")), me)).toBe(undefined);
  expect(sightingOf(encodeNdp(unsolicitedAdvertisement(me, "2001:db8:ff::64")), me)).toBe(undefined);
});

test("arbitrary bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, arp) => {
      const frame = Uint8Array.from(bytes);
      if (frame.length >= 14) {
        frame[12] = arp ? 0x08 : 0x86;
        frame[13] = arp ? 0x06 : 0xdd;
      }
      sightingOf(frame, me);
    }),
  );
});

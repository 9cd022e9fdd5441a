import { Announcer } from "../../../src/speaker/l2/announcer.js";
import { decodeArp } from "../../../src/speaker/l2/arp.js";
import { decodeNdp } from "../../../src/speaker/l2/ndp.js";
import { FakeClock } from "../../clock.js";
import { FakeSocket } from "./fakes.js";

const speaker = "02:00:00:00:00:0b";
const foreign = "02:00:00:00:00:99";
const peerSpeaker = "02:00:00:00:00:0c";

function setup(options = {}) {
  const socket = new FakeSocket(speaker);
  const clock = new FakeClock();
  const conflicts: [string, string][] = [];
  const announcer = new Announcer(socket, clock, {
    isSpeakerMac: (m) => m === peerSpeaker,
    onConflict: (ip, mac) => conflicts.push([ip, mac]),
    ...options,
  });
  return { socket, clock, announcer, conflicts };
}

test("a takeover sends gratuitous ARP at once and repeats it for a few seconds", async () => {
  const { socket, clock, announcer } = setup();
  expect(await announcer.announce("192.0.2.10", { probe: false })).toEqual({ outcome: "announced" });
  clock.advance(0);
  expect(socket.sent).toHaveLength(1);
  expect(decodeArp(socket.sent[0] as Uint8Array)).toMatchObject({
    ok: true,
    value: {
      operation: "request",
      senderIp: "192.0.2.10",
      targetIp: "192.0.2.10",
      senderMac: speaker,
      ethernetDestination: "ff:ff:ff:ff:ff:ff",
    },
  });
  clock.advance(10_000);
  expect(socket.sent).toHaveLength(5);
  expect(announcer.stats().gratuitous.arp).toBe(5);
  expect(clock.pending()).toBe(0);
});

test("IPv6 takeover sends unsolicited NAs with Override to all nodes", async () => {
  const { socket, clock, announcer } = setup();
  await announcer.announce("2001:db8::a", { probe: false });
  clock.advance(0);
  expect(decodeNdp(socket.sent[0] as Uint8Array)).toMatchObject({
    ok: true,
    value: {
      kind: "advertisement",
      ipDestination: "ff02::1",
      override: true,
      solicited: false,
      targetLinkAddress: speaker,
    },
  });
});

test("withdrawing stops the repeats", async () => {
  const { socket, clock, announcer } = setup();
  await announcer.announce("192.0.2.10", { probe: false });
  clock.advance(300);
  announcer.withdraw("192.0.2.10");
  clock.advance(10_000);
  expect(socket.sent).toHaveLength(2);
  expect(announcer.announcing()).toEqual([]);
});

test("with a refresh interval, announcements continue until withdrawn", async () => {
  const { socket, clock, announcer } = setup({ refreshIntervalMs: 30_000 });
  await announcer.announce("192.0.2.10", { probe: false });
  clock.advance(4000 + 3 * 30_000);
  expect(socket.sent).toHaveLength(5 + 3);
  announcer.withdraw("192.0.2.10");
  expect(clock.pending()).toBe(0);
});

test("a probe with no answer ends in announcing after about a second", async () => {
  const { socket, clock, announcer } = setup();
  const result = announcer.announce("192.0.2.10", { probe: true });
  clock.advance(699);
  expect(socket.sent).toHaveLength(3);
  for (const f of socket.sent)
    expect(decodeArp(f)).toMatchObject({ ok: true, value: { senderIp: "0.0.0.0", targetIp: "192.0.2.10" } });
  expect(announcer.announcing()).toEqual([]);
  clock.advance(1);
  expect(await result).toEqual({ outcome: "announced" });
  expect(announcer.announcing()).toEqual(["192.0.2.10"]);
  clock.advance(0);
  expect(socket.sent).toHaveLength(4);
});

test("a foreign host answering the probe is a conflict: nothing is announced", async () => {
  const { socket, clock, announcer } = setup();
  const result = announcer.announce("192.0.2.10", { probe: true });
  clock.advance(250);
  announcer.observe({ protocol: "arp", ip: "192.0.2.10", mac: foreign, kind: "claim" });
  expect(await result).toEqual({ outcome: "conflict", mac: foreign });
  clock.advance(10_000);
  expect(socket.sent).toHaveLength(2);
  expect(announcer.stats().conflicts).toBe(1);
  expect(announcer.announcing()).toEqual([]);
});

test("another host probing the same address at the same time is a conflict too", async () => {
  const { clock, announcer } = setup();
  const result = announcer.announce("2001:db8::a", { probe: true });
  clock.advance(100);
  announcer.observe({ protocol: "ndp", ip: "2001:db8::a", mac: foreign, kind: "probe" });
  expect(await result).toEqual({ outcome: "conflict", mac: foreign });
});

test("the IPv6 probe joins the solicited-node group while it listens, then leaves it", async () => {
  const { socket, clock, announcer } = setup();
  const result = announcer.announce("2001:db8::a", { probe: true });
  expect([...socket.groups.keys()]).toEqual(["33:33:ff:00:00:0a"]);
  clock.advance(1000);
  await result;
  expect(socket.groups.size).toBe(0);
  expect(decodeNdp(socket.sent[0] as Uint8Array)).toMatchObject({
    ok: true,
    value: { kind: "solicitation", ipSource: "::" },
  });
});

test("claims by other speakers or for other addresses are not conflicts", async () => {
  const { clock, announcer } = setup();
  const result = announcer.announce("192.0.2.10", { probe: true });
  announcer.observe({ protocol: "arp", ip: "192.0.2.10", mac: peerSpeaker, kind: "claim" });
  announcer.observe({ protocol: "arp", ip: "192.0.2.11", mac: foreign, kind: "claim" });
  announcer.observe({ protocol: "arp", ip: "192.0.2.10", mac: speaker, kind: "claim" });
  clock.advance(1000);
  expect(await result).toEqual({ outcome: "announced" });
});

test("a foreign claim on an announced address is reported", async () => {
  const { announcer, conflicts } = setup();
  await announcer.announce("192.0.2.10", { probe: false });
  announcer.observe({ protocol: "arp", ip: "192.0.2.10", mac: foreign, kind: "claim" });
  expect(conflicts).toEqual([["192.0.2.10", foreign]]);
});

test("withdrawing during the probe resolves it as withdrawn", async () => {
  const { announcer } = setup();
  const result = announcer.announce("192.0.2.10", { probe: true });
  announcer.withdraw("192.0.2.10");
  expect(await result).toEqual({ outcome: "withdrawn" });
});

test("send failures are counted and do not stop the schedule", async () => {
  const { socket, clock, announcer } = setup();
  socket.failSends = true;
  await announcer.announce("192.0.2.10", { probe: false });
  clock.advance(300);
  socket.failSends = false;
  clock.advance(10_000);
  expect(announcer.stats()).toMatchObject({ sendErrors: 2, gratuitous: { arp: 3 } });
});

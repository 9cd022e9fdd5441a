import {
  type ArpPacket,
  arpAnnouncement,
  arpProbe,
  decodeArp,
  encodeArp,
} from "../../../src/speaker/l2/arp.js";
import {
  advertisementFor,
  dadProbe,
  decodeNdp,
  encodeNdp,
  type NeighborSolicitation,
  unsolicitedAdvertisement,
} from "../../../src/speaker/l2/ndp.js";
import { FrameType } from "../../../src/speaker/l2/packet-socket.js";
import { type Claim, Responder } from "../../../src/speaker/l2/responder.js";
import { FakeSocket } from "./fakes.js";
import { client, solicitation, speaker, whoHas } from "./frames.js";

function who(targetIp: string, extra: Partial<ArpPacket> = {}): Uint8Array {
  return encodeArp(whoHas(targetIp, extra));
}

function ns(target: string): Uint8Array {
  return encodeNdp(solicitation(target));
}

function setup(owned: string[] = ["192.0.2.10", "2001:db8::a"]) {
  const socket = new FakeSocket(speaker);
  const claims: Claim[] = [];
  const responder = new Responder(socket, (c) => claims.push(c));
  responder.setOwned(owned);
  responder.start();
  return { socket, responder, claims };
}

test("a broadcast ARP request for an owned address gets one unicast reply with this MAC", () => {
  const { socket, responder } = setup();
  socket.receive(who("192.0.2.10"));
  expect(socket.sent).toHaveLength(1);
  expect(decodeArp(socket.sent[0] as Uint8Array)).toMatchObject({
    ok: true,
    value: { operation: "reply", senderMac: speaker, senderIp: "192.0.2.10", ethernetDestination: client },
  });
  expect(responder.stats().replies.arp).toBe(1);
});

test("a unicast ARP request (cache refresh) is answered too", () => {
  const { socket } = setup();
  socket.receive(who("192.0.2.10", { ethernetDestination: speaker, targetMac: speaker }), FrameType.Host);
  expect(socket.sent).toHaveLength(1);
});

test("a request for an address this node does not own is not answered, and counted", () => {
  const { socket, responder } = setup();
  socket.receive(who("192.0.2.11"));
  expect(socket.sent).toHaveLength(0);
  expect(responder.stats()).toMatchObject({
    requests: { arp: 1 },
    replies: { arp: 0 },
    drops: { notOwned: 1 },
  });
});

test("after the address is given up, requests for it go unanswered", () => {
  const { socket, responder } = setup();
  responder.setOwned(["2001:db8::a"]);
  socket.receive(who("192.0.2.10"));
  expect(socket.sent).toHaveLength(0);
});

test("replies, gratuitous ARP, own frames, other hosts' frames and garbage are dropped with reasons", () => {
  const { socket, responder } = setup();
  socket.receive(encodeArp({ ...decodeArpValue(who("192.0.2.10")), operation: "reply" }));
  socket.receive(encodeArp(arpAnnouncement(client, "192.0.2.10")));
  socket.receive(encodeArp(arpAnnouncement(speaker, "192.0.2.10")));
  socket.receive(who("192.0.2.10"), FrameType.OtherHost);
  socket.receive(Uint8Array.from([1, 2, 3]));
  socket.receive(who("192.0.2.10").subarray(0, 30));
  expect(socket.sent).toHaveLength(0);
  expect(responder.stats().drops).toEqual({
    reply: 1,
    gratuitous: 1,
    ownFrame: 1,
    otherHost: 1,
    truncated: 2,
  });
});

function decodeArpValue(frame: Uint8Array): ArpPacket {
  const d = decodeArp(frame);
  if (!d.ok) throw new Error(d.reason);
  return d.value;
}

test("an ARP probe for an owned address is answered (the reply is the defence)", () => {
  const { socket, claims } = setup();
  socket.receive(encodeArp(arpProbe(client, "192.0.2.10")));
  expect(socket.sent).toHaveLength(1);
  expect(claims).toEqual([{ protocol: "arp", ip: "192.0.2.10", mac: client, kind: "probe" }]);
});

test("a neighbour solicitation for an owned address gets a solicited NA with Override", () => {
  const { socket, responder } = setup();
  socket.receive(ns("2001:db8::a"), FrameType.Multicast);
  expect(socket.sent).toHaveLength(1);
  expect(decodeNdp(socket.sent[0] as Uint8Array)).toMatchObject({
    ok: true,
    value: {
      kind: "advertisement",
      target: "2001:db8::a",
      targetLinkAddress: speaker,
      solicited: true,
      override: true,
    },
  });
  expect(responder.stats().replies.ndp).toBe(1);
});

test("a DAD probe from another host for an owned address is answered to all nodes", () => {
  const { socket, claims } = setup();
  socket.receive(encodeNdp(dadProbe(client, "2001:db8::a")), FrameType.Multicast);
  expect(decodeNdp(socket.sent[0] as Uint8Array)).toMatchObject({
    ok: true,
    value: { ipDestination: "ff02::1", solicited: false },
  });
  expect(claims).toContainEqual({ protocol: "ndp", ip: "2001:db8::a", mac: client, kind: "probe" });
});

test("a solicitation with a wrong hop limit (from off-link) is not answered", () => {
  const { socket, responder } = setup();
  const f = ns("2001:db8::a");
  f[21] = 64;
  socket.receive(f, FrameType.Multicast);
  expect(socket.sent).toHaveLength(0);
  expect(responder.stats().drops).toEqual({ badHopLimit: 1 });
});

test("other hosts' advertisements are reported as claims, not answered", () => {
  const { socket, claims, responder } = setup();
  socket.receive(encodeNdp(unsolicitedAdvertisement(client, "2001:db8::a")), FrameType.Multicast);
  socket.receive(encodeNdp(advertisementFor(decodeNdpNs(ns("2001:db8::a")), client)), FrameType.Host);
  expect(socket.sent).toHaveLength(0);
  expect(claims.filter((c) => c.kind === "claim" && c.ip === "2001:db8::a")).toHaveLength(2);
  expect(responder.stats().drops.advertisement).toBe(2);
});

function decodeNdpNs(frame: Uint8Array): NeighborSolicitation {
  const d = decodeNdp(frame);
  if (!d.ok || d.value.kind !== "solicitation") throw new Error("not an NS");
  return d.value;
}

test("solicited-node groups are joined for owned IPv6 addresses, shared by addresses, left after the last", () => {
  const { socket, responder } = setup(["2001:db8::a", "2001:db8:1::a", "192.0.2.10"]);
  // Both addresses end in ...00:000a: one group, joined once.
  expect(Object.fromEntries(socket.groups)).toEqual({ "33:33:ff:00:00:0a": 1 });
  responder.setOwned(["2001:db8:1::a"]);
  expect(socket.groups.size).toBe(1);
  responder.setOwned([]);
  expect(socket.groups.size).toBe(0);
});

test("a failing send is counted, not thrown", () => {
  const { socket, responder } = setup();
  socket.failSends = true;
  expect(() => socket.receive(who("192.0.2.10"))).not.toThrow();
  expect(responder.stats().drops.sendFailed).toBe(1);
});

test("stop leaves the groups and closes the socket", () => {
  const { socket, responder } = setup();
  responder.stop();
  expect(socket.groups.size).toBe(0);
  expect(socket.closed).toBe(true);
});

describe("input limits", () => {
  const limits = {
    perSource: { perSecond: 100, burst: 200 },
    global: { perSecond: 1000, burst: 1000 },
    maxSources: 64,
  };
  function limited() {
    const socket = new FakeSocket(speaker);
    let now = 0;
    const responder = new Responder(socket, () => {}, { limits, now: () => now });
    responder.setOwned(["192.0.2.10"]);
    responder.start();
    return { socket, responder, advance: (ms: number) => (now += ms) };
  }
  const from = (mac: string) => who("192.0.2.10", { ethernetSource: mac, senderMac: mac });

  test("a flood from one MAC is cut to its rate and counted; another client is still answered", () => {
    const { socket, responder, advance } = limited();
    const flooder = from("02:00:00:00:00:66");
    let answered = 0;
    for (let ms = 0; ms < 1000; ms += 10) {
      for (let i = 0; i < 50; i++) socket.receive(flooder);
      const before = socket.sent.length;
      socket.receive(who("192.0.2.10"));
      if (socket.sent.length > before) answered++;
      advance(10);
    }
    expect(answered).toBe(100);
    // The flooder's 5,000 requests got its burst and its rate, the client all of its 100.
    expect(socket.sent.length).toBeLessThanOrEqual(200 + 100 + 100 + 1);
    expect(responder.stats().rateLimited.source.arp).toBeGreaterThan(4600);
  });

  test("a flood from made-up MACs is held at the global bound and counted", () => {
    const { socket, responder } = limited();
    for (let i = 0; i < 5000; i++) {
      const mac = `06:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;
      socket.receive(from(mac));
    }
    expect(socket.sent.length).toBe(1000);
    expect(responder.stats().rateLimited.global.arp).toBe(4000);
  });
});

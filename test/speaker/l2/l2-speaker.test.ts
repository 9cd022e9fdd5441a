import { Announcer } from "../../../src/speaker/l2/announcer.js";
import { arpAnnouncement, decodeArp, encodeArp } from "../../../src/speaker/l2/arp.js";
import { Heartbeats } from "../../../src/speaker/l2/heartbeats.js";
import {
  type L2SpeakerOptions,
  type OwnershipChange,
  PREPARE_LIMIT_MS,
} from "../../../src/speaker/l2/l2-interface.js";
import { L2Speaker } from "../../../src/speaker/l2/l2-speaker.js";
import { macToString } from "../../../src/speaker/l2/link-address.js";
import { Membership } from "../../../src/speaker/l2/membership.js";
import { probeRetryDelay } from "../../../src/speaker/l2/probe-retry.js";
import { Responder } from "../../../src/speaker/l2/responder.js";
import { renewalDue } from "../../../src/speaker/node-lease.js";
import { FakeClock } from "../../clock.js";
import { FakeNetwork, FakeSocket, testIdentity, testPeerKeys } from "./fakes.js";
import { whoHas } from "./frames.js";

const key = Buffer.from("k");
const peers = new Map([
  ["a", "192.0.2.11"],
  ["b", "192.0.2.12"],
]);
const peerKeys = testPeerKeys(peers.keys());
const SPEAKER_MACS = new Map([
  ["02:00:00:00:00:0a", "a"],
  ["02:00:00:00:00:0b", "b"],
]);
const nodes = ["a", "b"].map((name) => ({ name, labels: {}, ready: true, networkUnavailable: false }));
const service = {
  key: "ns/web",
  addresses: ["192.0.2.10"],
  advertisements: [{}],
  trafficPolicy: "Cluster" as const,
  endpointNodes: [],
};

function newLink(socket: FakeSocket, clock: FakeClock) {
  const announcer = new Announcer(socket, clock);
  const responder = new Responder(socket, (c) => announcer.observe(c));
  return { announcer, responder };
}

/** Does the speaker behind this socket answer an ARP request for the address right now? */
function answersOn(socket: FakeSocket): boolean {
  const before = socket.sent.length;
  socket.receive(encodeArp(whoHas("192.0.2.10")));
  return socket.sent.slice(before).some((f) => {
    const d = decodeArp(f);
    return d.ok && d.value.operation === "reply";
  });
}

const gratuitous = (frames: Uint8Array[]) =>
  frames.map((f) => decodeArp(f)).filter((d) => d.ok && d.value.senderIp === d.value.targetIp);

function node(
  self: string,
  mac: string,
  net: FakeNetwork,
  clock: FakeClock,
  firstAnnouncement = false,
  extra: Partial<L2SpeakerOptions> = {},
) {
  const socket = new FakeSocket(mac);
  const membership = new Membership({ self });
  const announcer = new Announcer(socket, clock);
  const conflicts: string[] = [];
  const changes: OwnershipChange[] = [];
  let speaker: L2Speaker | undefined;
  const responder = new Responder(socket, (c) => {
    announcer.observe(c);
    // As the speaker command does: a claim from another speaker's MAC (known from its Lease).
    const from = SPEAKER_MACS.get(c.mac);
    if (c.kind === "claim" && from !== undefined) speaker?.peerClaimed(c.ip, from);
  });
  const heartbeats = new Heartbeats({
    self,
    key,
    identity: testIdentity(self),
    incarnation: 1,
    transport: net.transport(peers.get(self) as string),
    clock,
    wallClock: clock.wall,
    membership,
    onChange: () => speaker?.membershipChanged(),
  });
  speaker = new L2Speaker({
    self,
    clock,
    membership,
    heartbeats,
    links: [{ responder, announcer }],
    isFirstAnnouncement: () => firstAnnouncement,
    onConflict: (address, m) => conflicts.push(`${address} ${m}`),
    onChange: (c) => changes.push(c),
    ...extra,
  });
  speaker.setState({ nodes, services: [service], peers, peerKeys });
  speaker.start();
  return {
    speaker,
    socket,
    link: { announcer, responder },
    answers: () => answersOn(socket),
    conflicts,
    changes,
    membership,
    heartbeats,
    name: self,
  };
}

function pair(firstAnnouncement = false, extra: Partial<L2SpeakerOptions> = {}) {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock, firstAnnouncement, extra);
  const b = node("b", "02:00:00:00:00:0b", net, clock, firstAnnouncement, extra);
  clock.advance(2000);
  const owner = a.speaker.ownedAddresses().length ? a : b;
  const other = owner === a ? b : a;
  return { net, clock, owner, other, ownerIp: owner === a ? "192.0.2.11" : "192.0.2.12" };
}

test("once both speakers hear each other, exactly one answers", () => {
  const { owner, other } = pair();
  expect(owner.answers()).toBe(true);
  expect(other.answers()).toBe(false);
  expect(owner.speaker.ownedAddresses()).toEqual(["192.0.2.10"]);
});

test("when the owner goes silent, the other takes over within about 300 ms and announces", () => {
  const { net, clock, owner, other, ownerIp } = pair();
  net.cut.add(ownerIp);
  const sentBefore = other.socket.sent.length;
  clock.advance(200);
  expect(other.answers()).toBe(false);
  clock.advance(120);
  expect(other.answers()).toBe(true);
  expect(gratuitous(other.socket.sent.slice(sentBefore)).length).toBeGreaterThanOrEqual(1);
  expect(owner.answers()).toBe(true); // cut off, it cannot know; the conflict detection is for this case
});

test("the owner hears of its successor's death within about 300 ms too: it forwards traffic there", () => {
  // Before, the successor beat once a second to the owner, which kept sending it connections
  // for 3 s after its cable was cut.
  const { net, clock, owner, other } = pair();
  net.cut.add(other.name === "a" ? "192.0.2.11" : "192.0.2.12");
  clock.advance(250);
  expect(owner.membership.isLive(other.name, clock.now())).toBe(true);
  clock.advance(150);
  expect(owner.membership.isLive(other.name, clock.now())).toBe(false);
  expect(owner.answers()).toBe(true);
});

test("on SIGTERM the successor answers before the leaving owner stops: no gap", async () => {
  const { clock, owner, other } = pair();
  const left = owner.speaker.leave();
  expect(other.answers()).toBe(true);
  expect(owner.answers()).toBe(true);
  clock.advance(500);
  await left;
  expect(owner.answers()).toBe(false);
  expect(other.answers()).toBe(true);
});

test("a taken-over address is answered before anyone is told it is owned: reports never delay ARP", () => {
  const { net, clock, ownerIp, other } = pair();
  const answeredWhenTold: boolean[] = [];
  other.speaker.listen({
    ownershipChanged: (c) => {
      if (c.owned) answeredWhenTold.push(other.answers());
    },
  });
  net.cut.add(ownerIp);
  clock.advance(400);
  expect(answeredWhenTold).toEqual([true]);
});

test("a takeover names the previous owner only when it is still up: handed over or live, not dead", async () => {
  const graceful = pair();
  const left = graceful.owner.speaker.leave();
  expect(graceful.other.changes.at(-1)).toEqual({
    address: "192.0.2.10",
    owned: true,
    from: { node: graceful.owner.name, address: graceful.ownerIp },
  });
  graceful.clock.advance(500);
  await left;
  expect(graceful.owner.changes.at(-1)).toEqual({ address: "192.0.2.10", owned: false });

  const crash = pair();
  crash.net.cut.add(crash.ownerIp);
  crash.clock.advance(400);
  expect(crash.other.changes.at(-1)).toEqual({ address: "192.0.2.10", owned: true });

  // The preferred node returns while the interim owner is live: the move back names it.
  crash.net.cut.delete(crash.ownerIp);
  crash.clock.advance(1100);
  const otherIp = crash.ownerIp === "192.0.2.11" ? "192.0.2.12" : "192.0.2.11";
  expect(crash.owner.changes.at(-1)).toEqual({
    address: "192.0.2.10",
    owned: true,
    from: { node: crash.other.name, address: otherIp },
  });
});

describe("a takeover from a node still up waits for prepareTakeover before its gratuitous ARP", () => {
  const flush = () => new Promise((r) => setImmediate(r));
  function setup() {
    const calls: { address: string; from: { node: string; address: string } }[] = [];
    let done: () => void = () => {};
    const p = pair(false, {
      prepareTakeover: (address, from) => {
        calls.push({ address, from });
        return new Promise<void>((resolve) => {
          done = resolve;
        });
      },
    });
    calls.length = 0; // the start may already move the address once
    const before = p.other.socket.sent.length;
    void p.owner.speaker.leave();
    p.clock.advance(0);
    const sentGratuitous = () => gratuitous(p.other.socket.sent.slice(before)).length;
    return { ...p, calls, done: () => done(), sentGratuitous };
  }

  test("until it resolves; requests are answered meanwhile", async () => {
    const { clock, owner, other, ownerIp, calls, done, sentGratuitous } = setup();
    expect(calls).toEqual([{ address: "192.0.2.10", from: { node: owner.name, address: ownerIp } }]);
    expect(other.answers()).toBe(true);
    clock.advance(100);
    expect(sentGratuitous()).toBe(0);
    done();
    await flush();
    clock.advance(0);
    expect(sentGratuitous()).toBe(1);
  });

  test("at most PREPARE_LIMIT_MS when it hangs", async () => {
    const { clock, sentGratuitous } = setup();
    clock.advance(PREPARE_LIMIT_MS - 1);
    await flush();
    expect(sentGratuitous()).toBe(0);
    clock.advance(1);
    await flush();
    clock.advance(0);
    expect(sentGratuitous()).toBe(1);
  });
});

test("a link that appears is announced on at once and answered on; one that vanishes is let go", () => {
  const { clock, owner } = pair();
  const socket = new FakeSocket("02:00:00:00:00:1a");
  const extra = newLink(socket, clock);
  expect(answersOn(socket)).toBe(false);
  owner.speaker.setLinks([owner.link, extra]);
  clock.advance(0);
  expect(gratuitous(socket.sent).length).toBe(1);
  expect(answersOn(socket)).toBe(true);
  expect(owner.answers()).toBe(true);
  clock.advance(5000);
  expect(gratuitous(socket.sent).length).toBeGreaterThan(1);
  owner.speaker.setLinks([extra]);
  expect(owner.socket.closed).toBe(true);
  expect(owner.answers()).toBe(false);
  expect(answersOn(socket)).toBe(true);
  expect(owner.speaker.interfacesOf("192.0.2.10")).toEqual(["eth0"]);
});

test("the owner comes back: the address moves back once and stays", () => {
  const { net, clock, owner, other, ownerIp } = pair();
  net.cut.add(ownerIp);
  clock.advance(400);
  net.cut.delete(ownerIp);
  clock.advance(1100);
  expect(owner.answers()).toBe(true);
  expect(other.answers()).toBe(false);
  clock.advance(10_000);
  expect(owner.answers()).toBe(true);
  expect(other.answers()).toBe(false);
});

test("a first announcement is probed: nothing is answered until the probe passes", async () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock, true);
  // Alone: after listening for peers, a owns the address, probes it, answers only afterwards.
  clock.advance(1500);
  expect(a.answers()).toBe(false);
  clock.advance(700);
  await new Promise((resolve) => setImmediate(resolve));
  expect(a.answers()).toBe(true);
});

test("an address being probed is listed as probing, and the listeners hear it start; once owned it is not", async () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock, true);
  const heard: string[][] = [];
  a.speaker.listen({ probingChanged: () => heard.push(a.speaker.probing()) });
  clock.advance(1500);
  expect(a.speaker.probing()).toEqual(["192.0.2.10"]);
  expect(heard).toEqual([["192.0.2.10"]]);
  clock.advance(700);
  await new Promise((resolve) => setImmediate(resolve));
  expect(a.speaker.ownedAddresses()).toEqual(["192.0.2.10"]);
  expect(a.speaker.probing()).toEqual([]);
  // Owned: reported as an ownership change, not as the end of a probe.
  expect(heard).toHaveLength(1);
});

test("a probe that ends because the address went away is heard; a held-back address is not probing", async () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock, true);
  let heard = 0;
  a.speaker.listen({ probingChanged: () => heard++ });
  clock.advance(1500);
  a.speaker.setState({ nodes, services: [], peers, peerKeys });
  expect(a.speaker.probing()).toEqual([]);
  expect(heard).toBe(2);

  const b = node("b", "02:00:00:00:00:0b", new FakeNetwork(), clock, true);
  const holder = foreignHolder(b.socket);
  await runFor(clock, 2000, holder);
  expect(b.conflicts).toHaveLength(1);
  expect(b.speaker.probing()).toEqual([]);
});

test("a first announcement answered by a foreign host is reported and never answered", async () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock, true);
  clock.advance(1500 + 250);
  // A host outside the cluster already uses the address and answers the probe.
  a.socket.receive(
    encodeArp({
      ...whoHas("192.0.2.100"),
      operation: "reply",
      senderMac: "02:00:00:00:00:99",
      ethernetSource: "02:00:00:00:00:99",
      senderIp: "192.0.2.10",
      targetIp: "0.0.0.0",
    }),
  );
  await new Promise((resolve) => setImmediate(resolve));
  clock.advance(5000);
  expect(a.conflicts).toEqual(["192.0.2.10 02:00:00:00:00:99"]);
  expect(a.answers()).toBe(false);
});

test("a starting speaker listens before claiming, so a running owner keeps its address until then", () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock);
  clock.advance(2000);
  expect(a.answers()).toBe(true);
  const b = node("b", "02:00:00:00:00:0b", net, clock);
  // b believes itself alone at first but claims nothing, and a does not hand over to it yet.
  expect(b.answers()).toBe(false);
  clock.advance(1400);
  expect(b.answers()).toBe(false);
  expect(a.answers()).toBe(true);
  // Around b's settling, someone answers at every millisecond; afterwards exactly one does.
  for (let t = 0; t < 400; t++) {
    clock.advance(1);
    expect([a.answers(), b.answers()].filter(Boolean).length).toBeGreaterThanOrEqual(1);
  }
  // b ranks first for 192.0.2.10, so the address moved to it, once.
  expect(b.answers()).toBe(true);
  expect(a.answers()).toBe(false);
});

test("a starting speaker tells its peers it joins, never that it leaves, and is live once settled", () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock);
  clock.advance(2000);
  node("b", "02:00:00:00:00:0b", net, clock);
  const seen: (string | undefined)[] = [];
  for (let t = 0; t < 1700; t += 10) {
    clock.advance(10);
    const state = a.membership.stateOf("b");
    if (seen.at(-1) !== state) seen.push(state);
  }
  expect(seen).toEqual(["joining", "live"]);
});

test("an address first allowed on no interface is probed and answered once its advertisement allows one", async () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock, true);
  const restricted = (patterns: string[]) =>
    a.speaker.setState({
      nodes,
      services: [service],
      peers,
      peerKeys,
      interfaces: new Map([["192.0.2.10", patterns]]),
    });
  restricted(["nonexistent*"]);
  clock.advance(2500);
  await new Promise((resolve) => setImmediate(resolve));
  expect(a.answers()).toBe(false);
  restricted(["eth0"]);
  clock.advance(700);
  await new Promise((resolve) => setImmediate(resolve));
  expect(a.answers()).toBe(true);
  expect(a.speaker.interfacesOf("192.0.2.10")).toEqual(["eth0"]);
});

/**
 * Each node's Lease as NodeLease renews it (checked every 2 s: every 10 s, every 2 s while it
 * contends), its renewals reported to the other node at once, as its Lease informer would.
 */
function leases(clock: FakeClock, nodes: ReturnType<typeof node>[]) {
  const last = new Map<string, number>();
  let nextTick = clock.now();
  return () => {
    if (clock.now() < nextTick) return;
    nextTick += 2000;
    for (const n of nodes) {
      if (!renewalDue(last.get(n.name), clock.now(), 10_000, 2000, n.speaker.contended())) continue;
      last.set(n.name, clock.now());
      for (const peer of nodes) if (peer !== n) peer.speaker.peerLeaseRenewed(n.name);
    }
  };
}

/**
 * Runs the pair on a shared LAN (every frame one speaker sends reaches the other's socket) with
 * Lease renewals, in steps of 50 ms. `fromNow`: frames sent before are not delivered.
 */
function sharedLan(
  clock: FakeClock,
  owner: ReturnType<typeof node>,
  other: ReturnType<typeof node>,
  fromNow = false,
) {
  const renew = leases(clock, [owner, other]);
  const delivered = new Map([
    [owner.socket, fromNow ? owner.socket.sent.length : 0],
    [other.socket, fromNow ? other.socket.sent.length : 0],
  ]);
  const pump = () => {
    for (const [from, to] of [
      [owner.socket, other.socket],
      [other.socket, owner.socket],
    ] as const) {
      const frames = from.sent.slice(delivered.get(from));
      delivered.set(from, from.sent.length);
      for (const f of frames) to.receive(f);
    }
  };
  pump();
  return (ms: number) => {
    for (let t = 0; t < ms; t += 50) {
      clock.advance(50);
      pump();
      renew();
    }
  };
}

test("heartbeats lost while layer 2 works: claims and Lease renewals leave exactly one node, the preferred one, answering", () => {
  const { net, clock, owner, other } = pair();
  const run = sharedLan(clock, owner, other);
  run(10_000);
  net.cut.add("192.0.2.11");
  net.cut.add("192.0.2.12");
  // Each soon believes the other dead; the other takes over and says so on the wire.
  run(1_000);
  expect(other.answers()).toBe(true);
  run(5_000);
  expect([owner.answers(), other.answers()]).toEqual([true, false]);
  // ... and it stays that way while the heartbeats stay lost (no flapping as evidence lapses).
  for (let i = 0; i < 6; i++) {
    run(5_000);
    expect([owner.answers(), other.answers()]).toEqual([true, false]);
  }
  net.cut.clear();
  run(5_000);
  expect([owner.answers(), other.answers()]).toEqual([true, false]);
});

test("heartbeats lost again after flaps: the owner does not wait out the peer's grown allowance to settle it", () => {
  const { net, clock, owner, other } = pair();
  // The other heartbeats the owner once a second, as a node that is not one of its successors
  // does (in a larger cluster, one whose heartbeats are blocked claims every address it hears of).
  const setPlan = other.heartbeats.setPlan.bind(other.heartbeats);
  other.heartbeats.setPlan = (plan) => setPlan(new Map([...plan.keys()].map((n) => [n, 1000])));
  other.heartbeats.setPlan(new Map([[owner.name, 100]]));
  const run = sharedLan(clock, owner, other);
  run(10_000);
  const cut = () => {
    net.cut.add("192.0.2.11");
    net.cut.add("192.0.2.12");
  };
  // Two short outages, longer than the owner's allowance for the other's slow heartbeats (1 s,
  // 3 s of quiet, then 6 s): each time it was heard again soon, so the owner counts its deaths
  // as flaps and now allows three times as long: 9 s of quiet.
  for (const outage of [4_000, 7_000]) {
    cut();
    run(outage);
    net.cut.clear();
    run(4_000);
  }
  expect(owner.membership.snapshot().find((p) => p.node === other.name)?.patience).toBe(3);
  expect([owner.answers(), other.answers()]).toEqual([true, false]);
  cut();
  run(1_000);
  expect(other.answers()).toBe(true);
  // The other's claims for the owner's address, while it is live in the owner's view, make the
  // owner hold it to its next slow heartbeat: it is dead there within 1.5 s, and the evidence
  // settles the address on the preferred node, as when both sides saw each other die at once.
  run(3_500);
  expect([owner.answers(), other.answers()]).toEqual([true, false]);
  net.cut.clear();
  run(5_000);
  expect([owner.answers(), other.answers()]).toEqual([true, false]);
});

test("heartbeats lost while the other restarts: back, it never hears the owner, and still leaves it the address", () => {
  const { net, clock, owner, other } = pair();
  sharedLan(clock, owner, other)(10_000);
  net.cut.add("192.0.2.11");
  net.cut.add("192.0.2.12");
  // The other's speaker restarts meanwhile (the old one is gone from the LAN): it has never
  // heard the owner's heartbeats, and the owner, uncontested, had nothing to claim.
  other.speaker.stop();
  const mac = other.name === "a" ? "02:00:00:00:00:0a" : "02:00:00:00:00:0b";
  const back = node(other.name, mac, net, clock);
  const run = sharedLan(clock, owner, back, true);
  // Checked without asking the owner over ARP: its replies would be claims the other hears.
  for (let i = 0; i < 40; i++) {
    run(500);
    expect([owner.speaker.ownedAddresses(), back.speaker.ownedAddresses()]).toEqual([["192.0.2.10"], []]);
  }
  expect(back.changes.filter((c) => c.owned)).toEqual([]);
});

test("heartbeats lost one way only: the owner, which still hears the other, settles the address on itself", () => {
  const { net, clock, owner, other, ownerIp } = pair();
  const otherIp = ownerIp === "192.0.2.11" ? "192.0.2.12" : "192.0.2.11";
  const run = sharedLan(clock, owner, other);
  run(10_000);
  // The other no longer hears the owner and takes the address; the owner still hears the other,
  // whose heartbeats now say that it does not hear the owner.
  net.cutOneWay.add(`${ownerIp}>${otherIp}`);
  run(1_000);
  expect(other.answers()).toBe(true);
  expect(owner.membership.isLive(other.name, clock.now())).toBe(true);
  run(4_000);
  expect([owner.answers(), other.answers()]).toEqual([true, false]);
  for (let i = 0; i < 6; i++) {
    run(5_000);
    expect([owner.answers(), other.answers()]).toEqual([true, false]);
  }
  // The other way round changes nothing: the other owns nothing the owner would take over.
  net.cutOneWay.clear();
  net.cutOneWay.add(`${otherIp}>${ownerIp}`);
  run(10_000);
  expect([owner.answers(), other.answers()]).toEqual([true, false]);
  net.cutOneWay.clear();
  run(5_000);
  expect([owner.answers(), other.answers()]).toEqual([true, false]);
});

test("claims heard while the owner was live do not delay its failover when it dies", () => {
  const { net, clock, owner, other, ownerIp } = pair();
  // The owner's gratuitous ARPs from its takeover reach the other node while it is live ...
  const garps = gratuitous(owner.socket.sent);
  expect(garps.length).toBeGreaterThan(0);
  for (const f of owner.socket.sent) other.socket.receive(f);
  // ... then it dies: no heartbeat, no frame.
  net.cut.add(ownerIp);
  clock.advance(320);
  expect(other.answers()).toBe(true);
});

test("a claim seen just before the owner leaves does not keep it alive through its handover", () => {
  const { clock, owner, other, ownerIp } = pair();
  // The owner's gratuitous ARP reached the other node a moment ago: evidence that it is alive.
  other.speaker.peerClaimed("192.0.2.10", ownerIp === "192.0.2.11" ? "a" : "b");
  void owner.speaker.leave();
  clock.advance(600);
  expect(other.answers()).toBe(true);
  expect(owner.answers()).toBe(false);
});

/** A LAN host that holds 192.0.2.10 and answers every ARP probe for it while `present`. */
function foreignHolder(socket: FakeSocket) {
  let seen = socket.sent.length;
  const probeTimes: number[] = [];
  const holder = {
    present: true,
    probeTimes,
    /** Answers the probes sent since the last call; returns whether there were any. */
    answer(now: number): boolean {
      const fresh = socket.sent.slice(seen);
      seen = socket.sent.length;
      const probes = fresh.filter((f) => {
        const d = decodeArp(f);
        return d.ok && d.value.senderIp === "0.0.0.0" && d.value.targetIp === "192.0.2.10";
      });
      if (probes.length === 0) return false;
      probeTimes.push(now);
      if (holder.present)
        socket.receive(
          encodeArp({
            ...whoHas("192.0.2.100"),
            operation: "reply",
            senderMac: "02:00:00:00:00:99",
            ethernetSource: "02:00:00:00:00:99",
            senderIp: "192.0.2.10",
            targetIp: "0.0.0.0",
          }),
        );
      return true;
    },
  };
  return holder;
}

/** Runs the clock in 10 ms steps, letting the holder answer probes and promises settle. */
async function runFor(clock: FakeClock, ms: number, holder: ReturnType<typeof foreignHolder>) {
  for (let t = 0; t < ms; t += 10) {
    clock.advance(10);
    if (holder.answer(clock.now())) await new Promise((resolve) => setImmediate(resolve));
  }
}

test("after a conflict the address is probed again with backoff, and announced once the host is gone", async () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock, true, { random: () => 0.5 });
  const holder = foreignHolder(a.socket);
  await runFor(clock, 16_000, holder);
  // A round of probes at 1.5 s (settled), answered at once; then 1, 2, 4 and 8 s later.
  const rounds = holder.probeTimes.filter((t, i, all) => i === 0 || t - (all[i - 1] as number) > 500);
  expect(rounds).toEqual([1500, 2500, 4500, 8500]);
  expect(a.answers()).toBe(false);
  expect(a.speaker.heldBack().get("192.0.2.10")).toMatchObject({ mac: "02:00:00:00:00:99", attempts: 4 });
  // The host goes away: the next round (16 s later) finds the address free and announces it.
  holder.present = false;
  await runFor(clock, 17_000, holder);
  expect(a.answers()).toBe(true);
  expect(a.speaker.heldBack().size).toBe(0);
  expect(a.changes).toEqual([{ address: "192.0.2.10", owned: true }]);
  expect(a.conflicts).toHaveLength(4);
});

test("the backoff doubles to a cap of 5 minutes, with ±20 % jitter", () => {
  expect([1, 2, 3, 4, 9, 10, 20].map((n) => probeRetryDelay(n, 0.5))).toEqual([
    1000, 2000, 4000, 8000, 256_000, 300_000, 300_000,
  ]);
  expect(probeRetryDelay(1, 0)).toBe(800);
  expect(probeRetryDelay(20, 0.999_999)).toBe(360_000);
});

test("with the override, an address in use is announced at once, without a probe", async () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock, true);
  a.speaker.setState({ nodes, services: [service], peers, ignoreConflicts: new Set(["192.0.2.10"]) });
  const holder = foreignHolder(a.socket);
  await runFor(clock, 3000, holder);
  expect(holder.probeTimes).toEqual([]);
  expect(a.answers()).toBe(true);
  expect(a.conflicts).toEqual([]);
});

test("an override set while the address is held back takes it at once", async () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock, true);
  const holder = foreignHolder(a.socket);
  await runFor(clock, 3000, holder);
  expect(a.speaker.heldBack().has("192.0.2.10")).toBe(true);
  expect(a.answers()).toBe(false);
  a.speaker.setState({ nodes, services: [service], peers, ignoreConflicts: new Set(["192.0.2.10"]) });
  expect(a.answers()).toBe(true);
  expect(a.speaker.heldBack().size).toBe(0);
});

test("an address held back that the election moves away is no longer probed", async () => {
  const net = new FakeNetwork();
  const clock = new FakeClock();
  const a = node("a", "02:00:00:00:00:0a", net, clock, true);
  const holder = foreignHolder(a.socket);
  await runFor(clock, 3000, holder);
  a.speaker.setState({ nodes, services: [], peers });
  expect(a.speaker.heldBack().size).toBe(0);
  const before = holder.probeTimes.length;
  await runFor(clock, 30_000, holder);
  expect(holder.probeTimes).toHaveLength(before);
});

test("a LAN host spoofing claims with a dead owner's MAC at 100 frames/s keeps nobody from answering and costs no election", () => {
  const { net, clock, owner, other, ownerIp } = pair();
  net.cut.add(ownerIp);
  clock.advance(320);
  expect(other.answers()).toBe(true);
  const elections = other.speaker.currentElections();
  const sentBefore = other.socket.sent.length;
  const changesBefore = other.changes.length;
  const spoofed = encodeArp(arpAnnouncement(macToString(owner.socket.mac), "192.0.2.10"));
  let answered = 0;
  for (let i = 0; i < 1000; i++) {
    other.socket.receive(spoofed);
    clock.advance(10);
    if (i % 10 === 0 && other.answers()) answered++;
  }
  expect(answered).toBe(100);
  expect(other.changes.slice(changesBefore)).toEqual([]);
  expect(other.speaker.currentElections()).toBe(elections);
  // It re-announces against the spoofer a few times a second (each re-announcement restarts the
  // announcer's schedule), not once a frame; and, the owner unheard, once a second its presence.
  const again = gratuitous(other.socket.sent.slice(sentBefore)).length;
  expect(again).toBeGreaterThan(0);
  expect(again).toBeLessThanOrEqual(50);
});

test("a node cut off the LAN whose Lease is still renewed is failed over and stays so", () => {
  const { net, clock, owner, other, ownerIp } = pair();
  net.cut.add(ownerIp);
  const sentBefore = other.socket.sent.length;
  for (let t = 0; t < 30_000; t += 100) {
    // Its API path works: every 2 s a renewal, as while it contends; nothing of it on the LAN.
    if (t % 2000 === 0) other.speaker.peerLeaseRenewed(owner.name);
    clock.advance(100);
    if (t >= 400) expect(other.answers()).toBe(true);
  }
  expect(gratuitous(other.socket.sent.slice(sentBefore)).length).toBeGreaterThan(0);
});

test("a silent owner's claims count only with its Lease renewed after its heartbeats stopped", () => {
  const { net, clock, owner, other, ownerIp } = pair();
  const ownerMac = macToString(owner.socket.mac);
  const claim = () => other.socket.receive(encodeArp(arpAnnouncement(ownerMac, "192.0.2.10")));
  // A renewal received just after the cut (in flight when it happened) is no evidence.
  net.cut.add(ownerIp);
  other.speaker.peerLeaseRenewed(owner.name);
  clock.advance(320);
  claim();
  clock.advance(100);
  expect(other.answers()).toBe(true);
  // One received well after the heartbeats stopped, with the owner still claiming, is.
  clock.advance(2000);
  other.speaker.peerLeaseRenewed(owner.name);
  claim();
  expect(other.answers()).toBe(false);
  // Claims that stop (it died after all) let it go again after the claim evidence.
  clock.advance(3100);
  expect(other.answers()).toBe(true);
});

test("an owner with no working link tells its peers, who take over; it comes back after settling", () => {
  const { clock, owner, other } = pair();
  owner.speaker.setLinksWorking(false);
  expect(owner.speaker.ownedAddresses()).toEqual([]);
  clock.advance(100);
  expect(other.speaker.ownedAddresses()).toEqual(["192.0.2.10"]);
  owner.speaker.setLinksWorking(true);
  clock.advance(1400);
  expect(owner.speaker.ownedAddresses()).toEqual([]);
  clock.advance(300);
  // Available again: the election decides, and exactly one node owns the address.
  const owners = [owner, other].filter((n) => n.speaker.ownedAddresses().length > 0);
  expect(owners).toHaveLength(1);
});

test("a successor that goes silent changes no owner, and the listeners still hear that the elections changed", () => {
  const { net, clock, owner, ownerIp } = pair();
  const heard: string[][] = [];
  owner.speaker.listen({
    electionsChanged: () =>
      heard.push([...(owner.speaker.currentElections().get("ns/web")?.candidates ?? [])]),
  });
  net.cut.add(ownerIp === "192.0.2.11" ? "192.0.2.12" : "192.0.2.11");
  clock.advance(400);
  // The owner keeps its address; its forwarding must stop sending to the silent node's NodePort.
  expect(owner.speaker.ownedAddresses()).toEqual(["192.0.2.10"]);
  expect(heard).toEqual([[owner.name]]);
  // Nothing else changes: no more reports while the silence lasts.
  clock.advance(2000);
  expect(heard).toHaveLength(1);
});

test("a takeover reports the ownership change alone: the listeners look at every election then", () => {
  const { net, clock, other, ownerIp } = pair();
  const heard: string[] = [];
  other.speaker.listen({
    ownershipChanged: (c) => heard.push(`owned ${c.owned}`),
    electionsChanged: () => heard.push("elections"),
  });
  net.cut.add(ownerIp);
  clock.advance(400);
  expect(other.speaker.ownedAddresses()).toEqual(["192.0.2.10"]);
  expect(heard).toEqual(["owned true"]);
});

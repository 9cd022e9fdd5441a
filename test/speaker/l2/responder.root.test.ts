// The responder on a real AF_PACKET socket: two network namespaces joined by a veth, the speaker
// in one (a Node process running the Responder for 192.0.2.10 and 2001:db8::a), a client in the
// other using arping, ndisc6 and the kernel's own neighbour resolution.
import { inNs, ip, joinedNamespaces, PREFIX, removeLeftovers, runId, tryInNs } from "./netns.js";
import { compileTree, SpeakerProcess } from "./speaker-process.js";

const id = runId();
const speakerNs = `${PREFIX}${id}-spk`;
const clientNs = `${PREFIX}${id}-cli`;
const speakerIf = `hs${id}`;
const clientIf = `hc${id}`;
const speaker = new SpeakerProcess(speakerNs, [speakerIf, "192.0.2.10", "2001:db8::a"]);
let speakerMac = "";

beforeAll(async () => {
  removeLeftovers();
  compileTree();
  joinedNamespaces(speakerNs, speakerIf, clientNs, clientIf);
  inNs(speakerNs, "ip", "addr", "add", "192.0.2.11/24", "dev", speakerIf);
  inNs(speakerNs, "ip", "addr", "add", "2001:db8::11/64", "dev", speakerIf, "nodad");
  inNs(clientNs, "ip", "addr", "add", "192.0.2.100/24", "dev", clientIf);
  inNs(clientNs, "ip", "addr", "add", "2001:db8::64/64", "dev", clientIf, "nodad");

  await speaker.start();
  speakerMac = speaker.mac;
});

afterAll(async () => {
  await speaker.kill();
  for (const ns of [speakerNs, clientNs]) {
    if (tryInNs(ns, "true").status === 0) ip("netns", "delete", ns);
  }
});

test("the speaker is listening with its interface's MAC", () => {
  expect(speakerMac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  expect(inNs(speakerNs, "cat", `/sys/class/net/${speakerIf}/address`).trim()).toBe(speakerMac);
});

test("arping from the client gets replies for the owned address, all from the speaker's MAC", () => {
  const r = tryInNs(clientNs, "arping", "-c", "3", "-w", "5", "-I", clientIf, "192.0.2.10");
  expect(r.status).toBe(0);
  const macs = [...r.out.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => (m[1] as string).toLowerCase());
  expect(macs.length).toBeGreaterThanOrEqual(3);
  expect(new Set(macs)).toEqual(new Set([speakerMac]));
});

test("arping for an address the speaker does not own gets no reply", () => {
  const r = tryInNs(clientNs, "arping", "-c", "2", "-w", "2", "-I", clientIf, "192.0.2.12");
  expect(r.status).not.toBe(0);
});

test("the client's kernel resolves the IPv4 address to the speaker's MAC", () => {
  tryInNs(clientNs, "ping", "-c", "1", "-W", "1", "192.0.2.10");
  expect(inNs(clientNs, "ip", "neigh", "show", "192.0.2.10", "dev", clientIf)).toContain(
    `lladdr ${speakerMac}`,
  );
});

test("ndisc6 gets a neighbour advertisement with the speaker's MAC", () => {
  const r = tryInNs(clientNs, "ndisc6", "-1", "-r", "3", "-w", "1000", "2001:db8::a", clientIf);
  expect(r.status).toBe(0);
  expect(r.out.toLowerCase()).toContain(speakerMac);
});

test("the client's kernel resolves the IPv6 address through NDP", () => {
  tryInNs(clientNs, "ping", "-6", "-c", "1", "-W", "1", "2001:db8::a");
  expect(inNs(clientNs, "ip", "-6", "neigh", "show", "2001:db8::a", "dev", clientIf)).toContain(
    `lladdr ${speakerMac}`,
  );
});

test("the speaker counted what it answered and why it dropped the rest", async () => {
  const stats = await speaker.stop();
  expect((stats.replies as { arp: number }).arp).toBeGreaterThanOrEqual(4);
  expect((stats.replies as { ndp: number }).ndp).toBeGreaterThanOrEqual(2);
  expect((stats.drops as { notOwned: number }).notOwned).toBeGreaterThanOrEqual(2);
  // The kernel filter kept out the pings' echo requests and every frame the speaker's host sent
  // (its own replies included): none of them reached the responder.
  expect(stats.drops).not.toHaveProperty("otherProtocol");
  expect(stats.drops).not.toHaveProperty("notIcmpv6");
  expect(stats.drops).not.toHaveProperty("notNeighborDiscovery");
  expect(stats.drops).not.toHaveProperty("ownFrame");
});

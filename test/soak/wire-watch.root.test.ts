// wire-watch on a real link: a client namespace running it, a peer namespace whose kernel holds
// addresses and answers ARP and neighbour solicitations, and frames the test puts on the link.
import { encodeArp } from "../../src/speaker/l2/arp.js";
import { encodeNdp, unsolicitedAdvertisement } from "../../src/speaker/l2/ndp.js";
import { compileTree } from "../speaker/l2/speaker-process.js";
import type { WireSighting } from "./model.js";
import { type Child, NetnsPair } from "./netns-pair.js";

const net = new NetnsPair();
let peerMac = "";
let watch: Child;

beforeAll(() => {
  compileTree();
  net.create(
    ["203.0.113.100/24", "2001:db8:ff::64/64"],
    ["203.0.113.10/24", "203.0.113.11/24", "2001:db8:ff::a/64"],
  );
  peerMac = net.mac(net.peer, net.peerIf);
});

afterAll(() => net.remove());

beforeEach(async () => {
  watch = net.node(
    net.client,
    "dist/test/soak/wire-watch.js",
    net.clientIf,
    "203.0.113.100",
    "2001:db8:ff::64",
    "20",
  );
  await watch.until("ready", (c) => (c.lines[0] === "ready" ? true : undefined));
});

afterEach(() => watch.kill());

const sightings = () => watch.json<WireSighting>();
const seen = (address: string, kind: WireSighting["kind"]) =>
  sightings().filter((s) => s.address === address && s.kind === kind);
const hex = (frame: Uint8Array) => Buffer.from(frame).toString("hex");

function sendFromPeer(frames: Uint8Array[]): Promise<unknown> {
  const sender = net.node(net.peer, "dist/test/soak/fixtures/send-frames.js", net.peerIf, ...frames.map(hex));
  return sender.until("frames sent", (c) => c.lines.find((l) => l.startsWith("sent")));
}

test("the peer's kernel answers the who-has and the solicitation: sightings of its MAC, none for an address nobody holds", async () => {
  watch.write(JSON.stringify(["203.0.113.10", "2001:db8:ff::a", "203.0.113.99", "2001:db8:ff::99"]));
  // Many rounds of queries, so the unheld addresses had as many chances to be answered.
  await watch.until("ten ARP replies", () =>
    seen("203.0.113.10", "arp-reply").length >= 10 ? true : undefined,
  );
  await watch.until("ten solicited NAs", () =>
    seen("2001:db8:ff::a", "na-solicited").length >= 10 ? true : undefined,
  );
  const start = performance.timeOrigin;
  for (const s of sightings()) {
    expect(s.t).toBeGreaterThan(start);
    expect(s.t).toBeLessThanOrEqual(performance.timeOrigin + performance.now() + 1000);
  }
  expect(new Set(seen("203.0.113.10", "arp-reply").map((s) => s.mac))).toEqual(new Set([peerMac]));
  expect(new Set(seen("2001:db8:ff::a", "na-solicited").map((s) => s.mac))).toEqual(new Set([peerMac]));
  expect(sightings().filter((s) => s.address.endsWith(".99") || s.address.endsWith("::99"))).toEqual([]);
  // The client's own address is answered by its own kernel: frames it sent, never a sighting.
  const own = net.mac(net.client, net.clientIf);
  expect(sightings().filter((s) => s.mac === own)).toEqual([]);
});

test("a gratuitous ARP from arping and an unsolicited NA show up, for addresses nobody asked about", async () => {
  watch.write("[]");
  net.exec(net.peer, "arping", "-U", "-c", "1", "-I", net.peerIf, "-s", "203.0.113.11", "203.0.113.11");
  await watch.until("the gratuitous ARP", () => seen("203.0.113.11", "arp-gratuitous")[0]);
  expect(seen("203.0.113.11", "arp-gratuitous")[0]?.mac).toBe(peerMac);
  await sendFromPeer([encodeNdp(unsolicitedAdvertisement("02:00:00:00:00:0b", "2001:db8:ff::b"))]);
  const na = await watch.until("the unsolicited NA", () => seen("2001:db8:ff::b", "na-unsolicited")[0]);
  expect(na.mac).toBe("02:00:00:00:00:0b");
});

test("garbage frames are skipped: it keeps running and still sees the next announcement", async () => {
  const announcement = encodeArp({
    ethernetDestination: "ff:ff:ff:ff:ff:ff",
    ethernetSource: peerMac,
    operation: "reply",
    senderMac: peerMac,
    senderIp: "203.0.113.12",
    targetMac: "ff:ff:ff:ff:ff:ff",
    targetIp: "203.0.113.12",
  });
  const na = encodeNdp(unsolicitedAdvertisement(peerMac, "2001:db8:ff::c"));
  const broken = (frame: Uint8Array, at: number, value: number) => {
    const copy = Uint8Array.from(frame);
    copy[at] = value;
    return copy;
  };
  const garbage = [
    announcement.subarray(0, 20), // cut short
    broken(announcement, 15, 7), // hardware type 7
    broken(announcement, 21, 9), // operation 9
    broken(announcement, 22, 0x01), // multicast sender MAC
    broken(na, 14 + 40 + 2, (na[14 + 40 + 2] ?? 0) ^ 0xff), // bad checksum
    broken(na, 14 + 40 + 25, 0), // option of length zero
    na.subarray(0, 70), // cut inside the ICMPv6 message
    Uint8Array.from({ length: 1500 }, (_, i) => (i === 12 ? 0x86 : i === 13 ? 0xdd : (i * 37) & 0xff)),
  ];
  await sendFromPeer([...garbage, announcement, na]);
  await watch.until("the announcement after the garbage", () => seen("203.0.113.12", "arp-gratuitous")[0]);
  await watch.until("the NA after the garbage", () => seen("2001:db8:ff::c", "na-unsolicited")[0]);
  expect(watch.running).toBe(true);
  expect(sightings().map((s) => s.address)).toEqual(["203.0.113.12", "2001:db8:ff::c"]);
  expect(watch.stderr).toBe("");
});

test("it exits cleanly at SIGTERM and at the end of its input", async () => {
  expect(await watch.stop("SIGTERM")).toBe(0);
  const other = net.node(
    net.client,
    "dist/test/soak/wire-watch.js",
    net.clientIf,
    "203.0.113.100",
    "2001:db8:ff::64",
    "20",
  );
  await other.until("ready", (c) => (c.lines[0] === "ready" ? true : undefined));
  other.write("not json");
  other.process.stdin?.end();
  expect(await other.exited).toBe(0);
  expect(other.stderr).toMatch(/ignored a target line: not JSON/);
});

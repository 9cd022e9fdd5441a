// Two speakers (heartbeats over UDP, election, responder, announcer) on a LAN of network
// namespaces with a client: one answers for the Service's address, the other takes over when
// the owner is killed, cut off or stopped, and a returning node does not make the address flap.
import { waitFor } from "../../lab/exec.js";
import { agreed, owns } from "./agreement.js";
import { createLan, type Lan } from "./lan.js";
import { tryInNs } from "./netns.js";
import { compileTree, SpeakerProcess } from "./speaker-process.js";

const names = ["node-a", "node-b"];
let lan: Lan;
const started: SpeakerProcess[] = [];

async function startSpeaker(index: number): Promise<SpeakerProcess> {
  const s = lan.speakers[index];
  if (!s) throw new Error(`no speaker ${index}`);
  const peers = lan.speakers.map((p, i) => `${names[i]}=${p.ipv4}`);
  const proc = new SpeakerProcess(
    s.ns,
    [names[index] as string, s.ifname, ...peers, "--", "192.0.2.10", "2001:db8::a"],
    "speak",
  );
  started.push(proc);
  await proc.start();
  return proc;
}

/** MACs that answered `count` ARP requests for the address. */
function answering(count = 3): string[] {
  const r = tryInNs(
    lan.client,
    "arping",
    "-c",
    String(count),
    "-w",
    String(count + 1),
    "-I",
    lan.bridge,
    "192.0.2.10",
  );
  return [
    ...new Set([...r.out.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => (m[1] as string).toLowerCase())),
  ];
}

function ndpAnswer(): string {
  return tryInNs(
    lan.client,
    "ndisc6",
    "-1",
    "-r",
    "3",
    "-w",
    "500",
    "2001:db8::a",
    lan.bridge,
  ).out.toLowerCase();
}

/** Polls `probe` (which says true when done) every 50 ms for up to `ms`. */
const until = (what: string, probe: () => boolean, ms = 10_000) =>
  waitFor(what, async () => probe() || undefined, ms, 50);

async function ownerAndOther(speakers: SpeakerProcess[]) {
  // Settling, then heartbeats agree: each hears the other as live and one owns the address.
  await until("the speakers to agree on one owner", () => agreed(speakers, names, "192.0.2.10"));
  const macs = answering();
  expect(macs).toHaveLength(1);
  const owner = speakers.find((s) => s.mac === macs[0]) as SpeakerProcess;
  const other = speakers.find((s) => s !== owner) as SpeakerProcess;
  return { owner, other, ownerIndex: speakers.indexOf(owner) };
}

beforeAll(() => {
  compileTree();
  lan = createLan(2);
});

afterEach(async () => {
  for (const s of started.splice(0)) await s.kill();
  lan.setLink(0, true);
  lan.setLink(1, true);
});

afterAll(() => lan?.destroy());

test("exactly one speaker answers, for IPv4 and IPv6", async () => {
  const speakers = [await startSpeaker(0), await startSpeaker(1)];
  const { owner } = await ownerAndOther(speakers);
  expect(answering(5)).toEqual([owner.mac]);
  expect(ndpAnswer()).toContain(owner.mac);
});

test("SIGKILL of the owner: the other speaker answers", async () => {
  const speakers = [await startSpeaker(0), await startSpeaker(1)];
  const { owner, other } = await ownerAndOther(speakers);
  await owner.kill();
  await until("the other to take over", () => owns(other, "192.0.2.10"));
  expect(answering()).toEqual([other.mac]);
  expect(ndpAnswer()).toContain(other.mac);
});

test("the owner's link is cut: the other speaker answers", async () => {
  const speakers = [await startSpeaker(0), await startSpeaker(1)];
  const { other, ownerIndex } = await ownerAndOther(speakers);
  lan.setLink(ownerIndex, false);
  await until("the other to take over", () => owns(other, "192.0.2.10"));
  expect(answering()).toEqual([other.mac]);
});

test("SIGTERM of the owner: it hands over and exits, the other answers", async () => {
  const speakers = [await startSpeaker(0), await startSpeaker(1)];
  const { owner, other } = await ownerAndOther(speakers);
  const stats = await owner.stop();
  expect(stats).toHaveProperty("replies");
  expect(owner.running).toBe(false);
  expect(answering()).toEqual([other.mac]);
  expect(other.lines).toContain("owned 192.0.2.10");
});

test("a killed owner that comes back takes its address back once, and it stays there", async () => {
  const speakers = [await startSpeaker(0), await startSpeaker(1)];
  const { owner, other, ownerIndex } = await ownerAndOther(speakers);
  const seen = other.lines.length;
  await owner.kill();
  await until("the other to take over", () => owns(other, "192.0.2.10"));
  const again = await startSpeaker(ownerIndex);
  const now = speakers.map((s) => (s === owner ? again : s));
  await until(
    "the returning node to take its address back",
    () => agreed(now, names, "192.0.2.10") && owns(again, "192.0.2.10"),
  );
  expect(answering(5)).toEqual([again.mac]);
  // Since the failure, the survivor gained the address once and gave it back once: no flapping.
  const since = other.lines.slice(seen);
  expect(since.filter((l) => l === "owned 192.0.2.10")).toHaveLength(1);
  expect(since.filter((l) => l === "released 192.0.2.10")).toHaveLength(1);
});

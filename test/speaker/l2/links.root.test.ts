// A speaker's announcing link goes down and comes back, in network namespaces: the LAN of lan.ts
// carries the heartbeats (192.0.2.11, .12), and each speaker announces on a second link into the
// same bridge (198.51.100.11, .12 on it, so it is no pod veth). Heartbeats keep flowing while the
// announcing link is down: only the speaker itself can tell its peers that it went deaf.
import { waitFor } from "../../lab/exec.js";
import { agreed } from "./agreement.js";
import { createLan, type Lan } from "./lan.js";
import { inNs, ip, tryInNs } from "./netns.js";
import { compileTree, SpeakerProcess } from "./speaker-process.js";

const names = ["node-a", "node-b"];
let lan: Lan;
const announcing: { ns: string; ifname: string; port: string }[] = [];
const started: SpeakerProcess[] = [];

beforeAll(() => {
  compileTree();
  lan = createLan(2);
  lan.speakers.forEach((s, i) => {
    const ifname = `ha${i}${s.ifname.slice(3)}`;
    const port = `hq${i}${s.ifname.slice(3)}`;
    ip("link", "add", ifname, "netns", s.ns, "type", "veth", "peer", "name", port, "netns", lan.client);
    inNs(lan.client, "ip", "link", "set", port, "master", lan.bridge, "up");
    inNs(s.ns, "ip", "addr", "add", `198.51.100.${11 + i}/24`, "dev", ifname);
    inNs(s.ns, "ip", "link", "set", ifname, "up");
    announcing.push({ ns: s.ns, ifname, port });
  });
});

afterEach(async () => {
  for (const s of started.splice(0)) await s.kill();
  announcing.forEach((a) => {
    inNs(a.ns, "ip", "link", "set", a.ifname, "up");
    inNs(lan.client, "ip", "link", "set", a.port, "up");
  });
});

afterAll(() => lan?.destroy());

async function startSpeaker(index: number, count = 2): Promise<SpeakerProcess> {
  const s = lan.speakers[index];
  const a = announcing[index];
  if (!s || !a) throw new Error(`no speaker ${index}`);
  const peers = lan.speakers.slice(0, count).map((p, i) => `${names[i]}=${p.ipv4}`);
  const proc = new SpeakerProcess(
    s.ns,
    [names[index] as string, a.ifname, ...peers, "--", "192.0.2.10"],
    "speak",
  );
  started.push(proc);
  await proc.start();
  return proc;
}

/** The MACs that answer one ARP request for the Service address. */
function answering(): string[] {
  const r = tryInNs(lan.client, "arping", "-c", "1", "-w", "1", "-I", lan.bridge, "192.0.2.10");
  return [
    ...new Set([...r.out.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => (m[1] as string).toLowerCase())),
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asks until `mac` alone answers; returns how long that took, or fails after `ms`. */
async function answeredBy(mac: string, ms: number): Promise<number> {
  const start = Date.now();
  let last: string[] = [];
  while (Date.now() - start < ms) {
    last = answering();
    if (last.length === 1 && last[0] === mac) return Date.now() - start;
    await sleep(100);
  }
  throw new Error(`not answered by ${mac} alone within ${ms} ms (last answers: ${last.join(" ") || "none"})`);
}

test("the announcing link goes down for 1 s and comes back: the speaker answers again at once", async () => {
  const only = await startSpeaker(0, 1);
  await answeredBy(only.mac, 4000);
  const a = announcing[0] as (typeof announcing)[number];
  inNs(a.ns, "ip", "link", "set", a.ifname, "down");
  // Down until the speaker has seen it go (it is deaf), and for a second at least.
  const deaf = only.waitFor((l) => l === "links deaf");
  await sleep(1000);
  await deaf;
  inNs(a.ns, "ip", "link", "set", a.ifname, "up");
  // Settling (1.5 s) and the first answer, well before a 5 s link poll could have noticed.
  expect(await answeredBy(only.mac, 3500)).toBeLessThan(3500);
});

test.each([
  [
    "set down on the node",
    (a: (typeof announcing)[number]) => inNs(a.ns, "ip", "link", "set", a.ifname, "down"),
  ],
  [
    "loses its carrier",
    (a: (typeof announcing)[number]) => inNs(lan.client, "ip", "link", "set", a.port, "down"),
  ],
])(
  "the owner's only announcing link %s: it tells its peers, and the other node takes over",
  async (_, cut) => {
    const speakers = [await startSpeaker(0), await startSpeaker(1)];
    // Settling, then heartbeats agree: each hears the other as live and one owns the address.
    await waitFor(
      "the speakers to agree on one owner",
      async () => agreed(speakers, names, "192.0.2.10") || undefined,
      10_000,
      50,
    );
    const macs = answering();
    expect(macs).toHaveLength(1);
    const ownerIndex = speakers.findIndex((s) => s.mac === macs[0]);
    const owner = speakers[ownerIndex] as SpeakerProcess;
    const other = speakers[1 - ownerIndex] as SpeakerProcess;
    cut(announcing[ownerIndex] as (typeof announcing)[number]);
    await answeredBy(other.mac, 3000);
    await owner.waitFor((l) => l === "released 192.0.2.10");
    expect(other.lines).toContain("owned 192.0.2.10");
  },
);

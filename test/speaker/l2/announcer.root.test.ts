// Takeover and conflict probing on real sockets: two speaker namespaces and a client namespace
// whose bridge joins them. The client learns the address from speaker A; when A dies and B takes
// over, B's gratuitous ARP and unsolicited NA move the client's neighbour entries without the
// client asking. A probe for an address the client itself holds reports a conflict.
import { waitFor } from "../../lab/exec.js";
import { createLan, type Lan } from "./lan.js";
import { inNs, tryInNs } from "./netns.js";
import { compileTree, SpeakerProcess } from "./speaker-process.js";

let lan: Lan;
const started: SpeakerProcess[] = [];

async function speaker(index: number, args: string[]): Promise<SpeakerProcess> {
  const s = new SpeakerProcess(lan.speakers[index]?.ns as string, args);
  started.push(s);
  await s.start();
  return s;
}

function neighbour(addr: string): string {
  const family = addr.includes(":") ? "-6" : "-4";
  return inNs(lan.client, "ip", family, "neigh", "show", addr, "dev", lan.bridge);
}

beforeAll(() => {
  compileTree();
  lan = createLan(2, false);
});

afterAll(async () => {
  for (const s of started) await s.kill();
  lan?.destroy();
});

test("after the owner dies, the successor's announcements repoint the client's entries", async () => {
  const a = await speaker(0, [lan.speakers[0]?.ifname as string, "192.0.2.10", "2001:db8::a"]);
  tryInNs(lan.client, "ping", "-c", "1", "-W", "1", "192.0.2.10");
  tryInNs(lan.client, "ping", "-6", "-c", "1", "-W", "1", "2001:db8::a");
  expect(neighbour("192.0.2.10")).toContain(`lladdr ${a.mac}`);
  expect(neighbour("2001:db8::a")).toContain(`lladdr ${a.mac}`);

  await a.kill();
  const b = await speaker(1, ["--announce", lan.speakers[1]?.ifname as string, "192.0.2.10", "2001:db8::a"]);
  expect(b.mac).not.toBe(a.mac);
  // Linux ignores an ARP update within a second (locktime) of the last one: the repeats at
  // 1 s and 2 s land after it. The client never asks: only the announcements can repoint it.
  await waitFor(
    "the client's entries to name the successor",
    async () =>
      neighbour("192.0.2.10").includes(`lladdr ${b.mac}`) &&
      neighbour("2001:db8::a").includes(`lladdr ${b.mac}`)
        ? true
        : undefined,
    4000,
    50,
  );
  expect(neighbour("192.0.2.10")).toContain(`lladdr ${b.mac}`);
  expect(neighbour("2001:db8::a")).toContain(`lladdr ${b.mac}`);
  await b.kill();
});

test("probing an address the client already holds reports a conflict with the client's MAC", async () => {
  const clientMac = inNs(lan.client, "cat", `/sys/class/net/${lan.bridge}/address`).trim();
  const s = await speaker(0, [
    "--probe",
    lan.speakers[0]?.ifname as string,
    "192.0.2.100",
    "2001:db8::64",
    "192.0.2.20",
  ]);
  const outcome = async (addr: string) =>
    JSON.parse((await s.waitFor((l) => l.startsWith(`outcome ${addr} `))).split(" ")[2] as string);
  expect(await outcome("192.0.2.100")).toEqual({ outcome: "conflict", mac: clientMac });
  expect(await outcome("2001:db8::64")).toEqual({ outcome: "conflict", mac: clientMac });
  expect(await outcome("192.0.2.20")).toEqual({ outcome: "announced" });
  // The conflicting address was not stolen: the client still answers for itself, and only the
  // free one is answered by the speaker.
  const r = tryInNs(lan.client, "arping", "-c", "1", "-w", "2", "-I", lan.bridge, "192.0.2.20");
  expect(r.out.toLowerCase()).toContain(s.mac);
  const stats = await s.stop();
  expect((stats.replies as { arp: number }).arp).toBeGreaterThanOrEqual(1);
});

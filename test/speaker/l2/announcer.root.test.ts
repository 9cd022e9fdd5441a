// Takeover and conflict probing on real sockets: two speaker namespaces and a client namespace
// whose bridge joins them. The client learns the address from speaker A; when A dies and B takes
// over, B's gratuitous ARP and unsolicited NA move the client's neighbour entries without the
// client asking. A probe for an address the client itself holds reports a conflict.
import { inNs, ip, PREFIX, removeLeftovers, runId, tryInNs } from "./netns.js";
import { compileTree, SpeakerProcess } from "./speaker-process.js";

const id = runId();
const ns = { a: `${PREFIX}${id}-a`, b: `${PREFIX}${id}-b`, client: `${PREFIX}${id}-c` };
const ifs = { a: `ha${id}`, b: `hb${id}` };
const bridge = `br${id}`;
const started: SpeakerProcess[] = [];

async function speaker(namespace: string, args: string[]): Promise<SpeakerProcess> {
  const s = new SpeakerProcess(namespace, args);
  started.push(s);
  await s.start();
  return s;
}

function neighbour(addr: string): string {
  const family = addr.includes(":") ? "-6" : "-4";
  return inNs(ns.client, "ip", family, "neigh", "show", addr, "dev", bridge);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  removeLeftovers();
  compileTree();
  for (const n of Object.values(ns)) ip("netns", "add", n);
  inNs(ns.client, "ip", "link", "add", bridge, "type", "bridge");
  for (const side of ["a", "b"] as const) {
    const port = `p${side}${id}`;
    ip("link", "add", ifs[side], "netns", ns[side], "type", "veth", "peer", "name", port, "netns", ns.client);
    inNs(ns.client, "ip", "link", "set", port, "master", bridge, "up");
    inNs(ns[side], "ip", "link", "set", ifs[side], "up");
  }
  inNs(ns.client, "ip", "addr", "add", "192.0.2.100/24", "dev", bridge);
  inNs(ns.client, "ip", "addr", "add", "2001:db8::64/64", "dev", bridge, "nodad");
  inNs(ns.client, "ip", "link", "set", bridge, "up");
});

afterAll(async () => {
  for (const s of started) await s.kill();
  for (const n of Object.values(ns)) if (tryInNs(n, "true").status === 0) ip("netns", "delete", n);
});

test("after the owner dies, the successor's announcements repoint the client's entries", async () => {
  const a = await speaker(ns.a, [ifs.a, "192.0.2.10", "2001:db8::a"]);
  tryInNs(ns.client, "ping", "-c", "1", "-W", "1", "192.0.2.10");
  tryInNs(ns.client, "ping", "-6", "-c", "1", "-W", "1", "2001:db8::a");
  expect(neighbour("192.0.2.10")).toContain(`lladdr ${a.mac}`);
  expect(neighbour("2001:db8::a")).toContain(`lladdr ${a.mac}`);

  await a.kill();
  const b = await speaker(ns.b, ["--announce", ifs.b, "192.0.2.10", "2001:db8::a"]);
  expect(b.mac).not.toBe(a.mac);
  // Linux ignores an ARP update within a second (locktime) of the last one: the repeats at
  // 1 s and 2 s land after it.
  await sleep(2500);
  expect(neighbour("192.0.2.10")).toContain(`lladdr ${b.mac}`);
  expect(neighbour("2001:db8::a")).toContain(`lladdr ${b.mac}`);
  await b.kill();
});

test("probing an address the client already holds reports a conflict with the client's MAC", async () => {
  const clientMac = inNs(ns.client, "cat", `/sys/class/net/${bridge}/address`).trim();
  const s = await speaker(ns.a, ["--probe", ifs.a, "192.0.2.100", "2001:db8::64", "192.0.2.20"]);
  const outcome = async (addr: string) =>
    JSON.parse((await s.waitFor((l) => l.startsWith(`outcome ${addr} `))).split(" ")[2] as string);
  expect(await outcome("192.0.2.100")).toEqual({ outcome: "conflict", mac: clientMac });
  expect(await outcome("2001:db8::64")).toEqual({ outcome: "conflict", mac: clientMac });
  expect(await outcome("192.0.2.20")).toEqual({ outcome: "announced" });
  // The conflicting address was not stolen: the client still answers for itself, and only the
  // free one is answered by the speaker.
  const r = tryInNs(ns.client, "arping", "-c", "1", "-w", "2", "-I", bridge, "192.0.2.20");
  expect(r.out.toLowerCase()).toContain(s.mac);
  const stats = await s.stop();
  expect(stats.replies?.arp).toBeGreaterThanOrEqual(1);
});

// The packet socket's life cycle on a real interface: two network namespaces joined by a veth, a
// socket in one, a client with arping in the other.
import { inNs, ip, joinedNamespaces, PREFIX, removeLeftovers, runId, tryInNs } from "./netns.js";
import { compileTree, SpeakerProcess } from "./speaker-process.js";

const id = runId();
const speakerNs = `${PREFIX}${id}-spk`;
const clientNs = `${PREFIX}${id}-cli`;
const speakerIf = `hs${id}`;
const clientIf = `hc${id}`;
const started: SpeakerProcess[] = [];

beforeAll(() => {
  removeLeftovers();
  compileTree();
  joinedNamespaces(speakerNs, speakerIf, clientNs, clientIf);
  inNs(speakerNs, "ip", "addr", "add", "192.0.2.11/24", "dev", speakerIf);
  inNs(clientNs, "ip", "addr", "add", "192.0.2.100/24", "dev", clientIf);
});

afterAll(async () => {
  for (const s of started) await s.kill();
  for (const ns of [speakerNs, clientNs]) {
    if (tryInNs(ns, "true").status === 0) ip("netns", "delete", ns);
  }
});

function arpingMacs(address: string): string[] {
  const r = tryInNs(clientNs, "arping", "-c", "3", "-w", "4", "-I", clientIf, address);
  return [...r.out.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => (m[1] as string).toLowerCase());
}

test("a socket that reuses a closed socket's fd keeps receiving after the closed one is collected", async () => {
  const proc = new SpeakerProcess(speakerNs, [speakerIf, "192.0.2.10"], "reopen");
  started.push(proc);
  await proc.start();
  // The scenario needs the fd number reused and the first handle really collected.
  const [, first, second] = (await proc.waitFor((l) => l.startsWith("fds "))).split(" ");
  expect(second).toBe(first);
  expect(await proc.waitFor((l) => l.startsWith("collected "))).toBe("collected true");
  expect(arpingMacs("192.0.2.10")).toContain(proc.mac);
});

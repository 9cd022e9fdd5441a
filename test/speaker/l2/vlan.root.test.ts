// VLAN tags on the speaker's link: a veth between two namespaces, a responder on the speaker's
// end (192.0.2.10, 2001:db8::a), and a client that asks with hand-made frames, untagged or with
// an 802.1Q tag. The kernel moves a tag out of the frame before packet sockets see it, so without
// the filter's VLAN check a request from another VLAN would be answered (untagged) on this one.
// Where the kernel has VLAN interfaces (CONFIG_VLAN_8021Q), a responder on the VLAN's own
// interface must still answer that VLAN.
import { join } from "node:path";
import { inNs, ip, joinedNamespaces, PREFIX, removeLeftovers, runId, tryInNs } from "./netns.js";
import { compileTree, SpeakerProcess } from "./speaker-process.js";

const id = runId();
const speakerNs = `${PREFIX}${id}-spk`;
const clientNs = `${PREFIX}${id}-cli`;
const speakerIf = `hs${id}`;
const clientIf = `hc${id}`;
const parent = new SpeakerProcess(speakerNs, [speakerIf, "192.0.2.10", "2001:db8::a"]);
const vlanResponder = new SpeakerProcess(speakerNs, [`${speakerIf}.10`, "198.51.100.10"]);
let vlanInterfaces = false;

beforeAll(async () => {
  removeLeftovers();
  compileTree();
  joinedNamespaces(speakerNs, speakerIf, clientNs, clientIf);
  inNs(speakerNs, "ip", "addr", "add", "192.0.2.11/24", "dev", speakerIf);
  inNs(speakerNs, "ip", "addr", "add", "2001:db8::11/64", "dev", speakerIf, "nodad");
  vlanInterfaces =
    tryInNs(
      speakerNs,
      "ip",
      "link",
      "add",
      "link",
      speakerIf,
      "name",
      `${speakerIf}.10`,
      "type",
      "vlan",
      "id",
      "10",
    ).status === 0;
  if (vlanInterfaces) {
    inNs(speakerNs, "ip", "addr", "add", "198.51.100.11/24", "dev", `${speakerIf}.10`);
    inNs(speakerNs, "ip", "link", "set", `${speakerIf}.10`, "up");
    await vlanResponder.start();
  }
  await parent.start();
});

afterAll(async () => {
  await parent.kill();
  await vlanResponder.kill();
  for (const ns of [speakerNs, clientNs]) {
    if (tryInNs(ns, "true").status === 0) ip("netns", "delete", ns);
  }
});

/** The MACs that answered the client's requests for `address`, sent with VLAN id `vlan` or untagged. */
function answers(vlan: number | undefined, address: string): string[] {
  const script = join(process.cwd(), "dist/test/speaker/l2/fixtures/ask.js");
  const out = inNs(
    clientNs,
    process.execPath,
    script,
    clientIf,
    vlan === undefined ? "-" : String(vlan),
    address,
  );
  return (out.split("\n").find((l) => l.startsWith("answers")) ?? "").split(" ").slice(1).filter(Boolean);
}

test("untagged requests for the parent's addresses are answered", () => {
  expect(answers(undefined, "192.0.2.10")).toEqual([parent.mac]);
  expect(answers(undefined, "2001:db8::a")).toEqual([parent.mac]);
});

test("requests tagged for another VLAN are not answered on the parent interface", () => {
  expect(answers(10, "192.0.2.10")).toEqual([]);
  expect(answers(10, "2001:db8::a")).toEqual([]);
  expect(answers(4094, "192.0.2.10")).toEqual([]);
});

test("a priority tag (VLAN id 0) belongs to the untagged network and is answered", () => {
  expect(answers(0, "192.0.2.10")).toEqual([parent.mac]);
  expect(answers(0, "2001:db8::a")).toEqual([parent.mac]);
});

test("a responder on the VLAN's own interface answers that VLAN's tagged requests", () => {
  if (!vlanInterfaces) {
    // No VLAN interfaces in this kernel: nothing to check, said rather than passed silently.
    console.warn("CONFIG_VLAN_8021Q is not set: the VLAN interface case is not checked");
    return;
  }
  expect(answers(10, "198.51.100.10")).toEqual([vlanResponder.mac]);
  expect(answers(undefined, "198.51.100.10")).toEqual([]);
});

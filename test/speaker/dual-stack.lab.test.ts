// Herald on a dual-stack lab (Kubernetes 1.20 with IPv6DualStack): the controller gives a
// RequireDualStack Service an IPv4 and an IPv6 address, one node answers ARP for the first and
// NDP for the second, HTTP reaches the Pods through both, a cut cable or a SIGTERM moves both
// together (a passive observer on the client sees the gratuitous ARP and the unsolicited NA),
// and externalTrafficPolicy Local keeps the client's address in both families.
import { createService, eventually, ingress, lbService } from "../controller/lab-controller.js";
import type { Lab } from "../lab/lab.js";
import type { LabProcess } from "../lab/process.js";
import { waitForOutput } from "../lab/process.js";
import {
  announcedNode,
  arpReplies,
  type HeraldLab,
  httpFromClient,
  ndpAnswers,
  startHeraldLab,
} from "./lab-speaker.js";

let h: HeraldLab;
let lab: Lab;

beforeAll(async () => {
  h = await startHeraldLab(3, { dualStack: true });
  lab = h.lab;
  await lab.createPod({ name: "web-1", node: "node-1", labels: { app: "web" } });
  await lab.createPod({ name: "web-2", node: "node-2", labels: { app: "web" } });
  await lab.createPod({ name: "local-3", node: "node-3", labels: { app: "local" } });
}, 300_000);

afterAll(async () => {
  await lab?.stop();
});

const nodeOfMac = (mac: string | undefined) => [...h.macs].find(([, m]) => m === mac)?.[0];

/** Both addresses of a dual-stack LoadBalancer Service, IPv4 first. */
async function dualService(name: string, extra: Record<string, unknown> = {}): Promise<[string, string]> {
  await createService(
    h.api,
    "default",
    lbService(name, { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"], ...extra }),
  );
  const ips = await eventually(`${name} gets two addresses`, async () => {
    const got = await ingress(h.api, "default", name);
    return got.length === 2 ? got : undefined;
  });
  return [ips[0] as string, ips[1] as string];
}

/** The one node answering ARP for v4 and NDP for v6, once both name the same one. */
function answeringBoth(v4: string, v6: string): Promise<string> {
  return eventually(
    `one node answering ARP for ${v4} and NDP for ${v6}`,
    async () => {
      const arp = [...new Set(await arpReplies(lab, v4, 3, 50))];
      const ndp = [...new Set(await ndpAnswers(lab, v6))];
      if (arp.length !== 1 || ndp.length !== 1 || arp[0] !== ndp[0]) return undefined;
      return nodeOfMac(arp[0]);
    },
    30_000,
  );
}

/**
 * tcpdump on the client's eth0: it sends nothing, and sees every ARP and every neighbour
 * advertisement with the sender's MAC.
 */
async function observe(): Promise<LabProcess> {
  const p = lab.spawn("client", {
    name: "observer",
    command: "tcpdump",
    args: ["-i", "eth0", "-n", "-e", "-l", "-t", "arp or (icmp6 and ip6[40] == 136)"],
  });
  await waitForOutput(p, "listening on eth0", 10_000);
  return p;
}

/** The observer saw `mac` send a gratuitous ARP for v4 and an unsolicited NA (to all nodes) for v6. */
function announcedBy(observer: LabProcess, mac: string, v4: string, v6: string): Promise<true> {
  const lines = () =>
    observer
      .output()
      .split("\n")
      .filter((l) => l.toLowerCase().startsWith(mac));
  const what = `gratuitous ARP and unsolicited NA from ${nodeOfMac(mac)} (${mac})`;
  return eventually(
    what,
    async () => {
      const seen = lines();
      const arp = seen.some((l) => l.includes("ARP") && l.includes(v4));
      const na = seen.some(
        (l) =>
          l.includes("> ff02::1:") && l.includes("neighbor advertisement") && l.includes(`tgt is ${v6},`),
      );
      return arp && na ? true : undefined;
    },
    15_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; the observer saw:\n${observer.output().slice(-3000)}`);
  });
}

test("one node answers ARP for the IPv4 and NDP for the IPv6 address, and HTTP reaches the Pods through both", async () => {
  const [v4, v6] = await dualService("web");
  expect(v4).toMatch(/^192\.0\.2\.20\d$/);
  expect(v6).toMatch(/^2001:db8::20\d$/);
  const owner = await answeringBoth(v4, v6);
  expect(await announcedNode(lab, "default", "web")).toBe(owner);
  // The owner's forwarding table carries both addresses (one inet table for both families).
  const rules = await eventually("forwarding rules for both addresses", async () => {
    const table = await lab.exec(owner, ["nft", "list", "table", "inet", "herald"]);
    return table.includes(v4) && table.includes(v6) ? table : undefined;
  });
  expect(rules).toContain(v6);
  for (const url of [`http://${v4}/`, `http://[${v6}]/`]) {
    const seen = new Set<string>();
    await eventually(`both Pods through ${url}`, async () => {
      seen.add((await httpFromClient(lab, url)).pod);
      return seen.size === 2;
    });
    expect([...seen].sort()).toEqual(["web-1", "web-2"]);
  }
}, 120_000);

async function webAddresses(): Promise<[string, string]> {
  const [v4, v6] = await ingress(h.api, "default", "web");
  return [v4 as string, v6 as string];
}

/** The node the ServiceAnnouncement names once it is not `owner` any more. */
function announcedOtherThan(owner: string): Promise<string> {
  return eventually(
    "another node announced in the ServiceAnnouncement",
    async () => {
      const node = await announcedNode(lab, "default", "web");
      return node !== undefined && node !== owner ? node : undefined;
    },
    30_000,
  );
}

test("a cut cable moves both addresses together: the new owner sends a gratuitous ARP and an unsolicited NA", async () => {
  const [v4, v6] = await webAddresses();
  const owner = await answeringBoth(v4, v6);
  const observer = await observe();
  await lab.cutLink(owner);
  try {
    const moved = await announcedOtherThan(owner);
    await announcedBy(observer, h.macs.get(moved) ?? "", v4, v6);
    expect(await answeringBoth(v4, v6)).toBe(moved);
    for (const url of [`http://${v4}/`, `http://[${v6}]/`]) {
      const reply = await eventually(`HTTP through ${url} after the cut`, () =>
        httpFromClient(lab, url).catch(() => undefined),
      );
      // The cut node's Pod is out of reach; the other one answers.
      expect(reply.node).not.toBe(owner);
    }
  } finally {
    await lab.restoreLink(owner);
    await observer.stop();
  }
}, 120_000);

test("SIGTERM of the owner hands both addresses over together, and the speaker exits cleanly", async () => {
  const [v4, v6] = await webAddresses();
  // After the cable is back, wait until one node holds both again.
  const owner = await answeringBoth(v4, v6);
  const observer = await observe();
  try {
    const exit = await h.speakers.get(owner)?.stop(5000);
    expect(exit?.code).toBe(0);
    const moved = await announcedOtherThan(owner);
    await announcedBy(observer, h.macs.get(moved) ?? "", v4, v6);
    expect(await answeringBoth(v4, v6)).toBe(moved);
  } finally {
    await observer.stop();
    await h.ensureSpeaker(owner);
  }
}, 120_000);

test("externalTrafficPolicy Local: the node with the Pod announces both addresses, and the Pod sees the client's address in both families", async () => {
  const [v4, v6] = await dualService("local", { externalTrafficPolicy: "Local", selector: { app: "local" } });
  expect(await answeringBoth(v4, v6)).toBe("node-3");
  const over4 = await eventually(`Local through ${v4}`, () =>
    httpFromClient(lab, `http://${v4}/`).catch(() => undefined),
  );
  expect(over4).toMatchObject({ pod: "local-3", client: lab.client.v4 });
  const over6 = await eventually(`Local through ${v6}`, () =>
    httpFromClient(lab, `http://[${v6}]/`).catch(() => undefined),
  );
  expect(over6).toMatchObject({ pod: "local-3", client: lab.client.v6 });
}, 120_000);

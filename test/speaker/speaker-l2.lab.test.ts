// `herald speaker` on three lab nodes, seen from the LAN: NDP for an IPv6 address (and its
// takeover by unsolicited NA), and L2Advertisement interface restrictions. The lab's API
// server is single-stack IPv4 and Kubernetes 1.20 drops spec.loadBalancerClass, so no
// controller runs here: each Service's status is written through the status subresource, as
// a controller would.

import { MERGE_PATCH } from "../../src/k8s/rest.js";
import { applyPool, createService, eventually, lbService } from "../controller/lab-controller.js";
import type { Lab } from "../lab/lab.js";
import {
  announcedNode,
  arpReplies,
  type HeraldLab,
  ndpAnswers as labNdpAnswers,
  neighbourMac as labNeighbourMac,
  speakerState,
  startHeraldLab,
} from "./lab-speaker.js";

let h: HeraldLab;
let lab: Lab;

/**
 * A LoadBalancer Service whose status names `address` from `pool`, as the controller would write
 * them (the pool annotation goes through the status subresource too).
 */
async function serviceWithAddress(name: string, address: string, pool: string): Promise<void> {
  await createService(h.api, "default", lbService(name));
  await h.api.request(
    "PATCH",
    `/api/v1/namespaces/default/services/${name}/status`,
    {
      metadata: { annotations: { "herald.dev/allocated-from-pool": pool } },
      status: { loadBalancer: { ingress: [{ ip: address }] } },
    },
    MERGE_PATCH,
  );
}

function advertisement(name: string, pools: string[], interfaces?: string[]): Promise<string> {
  const spec = { ipAddressPools: pools, ...(interfaces ? { interfaces } : {}) };
  return lab.kubectlRun(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "herald.dev/v1alpha1",
      kind: "L2Advertisement",
      metadata: { name },
      spec,
    }),
  });
}

const ndpAnswers = (address: string) => labNdpAnswers(lab, address);
const neighbourMac = (address: string) => labNeighbourMac(lab, address);

/** Waits until an unsolicited NA moves the client's entry for `address` off `owner`; the new node. */
function entryMovedFrom(address: string, owner: string): Promise<string> {
  return eventually(
    "client's neighbour entry names another node",
    async () => {
      const node = nodeOfMac(await neighbourMac(address));
      return node !== undefined && node !== owner ? node : undefined;
    },
    5_000,
  );
}

const nodeOfMac = (mac: string | undefined) => [...h.macs].find(([, m]) => m === mac)?.[0];

/** Waits until every speaker has the Service in its elections (it has read Service and pools). */
async function seenByAll(key: string): Promise<void> {
  for (const node of h.nodes)
    await eventually(`${node} knows ${key}`, async () => {
      const elections = (await speakerState(lab, node)).elections as Record<string, unknown>;
      return key in elections;
    });
}

beforeAll(async () => {
  h = await startHeraldLab(3, { controller: false });
  lab = h.lab;
}, 240_000);

afterAll(async () => {
  await lab?.stop();
});

test("IPv6: exactly the announced node answers NDP; after its speaker dies another one tells the client unasked", async () => {
  await applyPool(h.api, "v6", { addresses: ["2001:db8::240/124"], autoAssign: false });
  await advertisement("v6", ["v6"]);
  const address = "2001:db8::241";
  await serviceWithAddress("six", address, "v6");
  const owner = await eventually("ServiceAnnouncement of six", () => announcedNode(lab, "default", "six"));

  const answers = await eventually("NDP answers", async () => {
    const a = await ndpAnswers(address);
    return a.length > 0 ? a : undefined;
  });
  expect(new Set(answers)).toEqual(new Set([h.macs.get(owner)]));

  // The client's kernel resolves the address itself, so it holds a neighbour entry to update.
  await lab.tryExec("client", ["ping", "-6", "-c", "1", "-W", "1", address]);
  expect(await neighbourMac(address)).toBe(h.macs.get(owner));

  await h.speakers.get(owner)?.kill();
  // Only an unsolicited NA can change the entry: the client sends nothing from here on.
  const moved = await entryMovedFrom(address, owner);
  expect(moved).not.toBe(owner);
  expect(new Set(await ndpAnswers(address))).toEqual(new Set([h.macs.get(moved)]));
  await eventually(
    "announcement names the new owner",
    async () => (await announcedNode(lab, "default", "six")) === moved,
  );
  await h.ensureSpeaker(owner);
}, 60_000);

test("IPv6: SIGTERM of the owner hands over by unsolicited NA, and the speaker exits cleanly", async () => {
  const address = "2001:db8::241";
  // The previous test's returning node takes the address back: wait until that move is done
  // (one node answers, and its unsolicited NA has reached the client's neighbour entry).
  await lab.tryExec("client", ["ping", "-6", "-c", "1", "-W", "1", address]);
  const owner = await eventually("one node answering NDP, named in the client's entry", async () => {
    const macs = [...new Set(await ndpAnswers(address))];
    return macs.length === 1 && (await neighbourMac(address)) === macs[0] ? nodeOfMac(macs[0]) : undefined;
  });
  const exit = await h.speakers.get(owner)?.stop(5000);
  expect(exit?.code).toBe(0);
  const moved = await entryMovedFrom(address, owner);
  expect(new Set(await ndpAnswers(address))).toEqual(new Set([h.macs.get(moved)]));
  await h.ensureSpeaker(owner);
}, 60_000);

test("interfaces: a pool restricted to no existing interface is not answered, the unrestricted one is; allowing eth0 answers it", async () => {
  await applyPool(h.api, "open", { addresses: ["192.0.2.230-192.0.2.231"], autoAssign: false });
  await applyPool(h.api, "narrow", { addresses: ["192.0.2.232-192.0.2.233"], autoAssign: false });
  await advertisement("open", ["open"]);
  await advertisement("narrow", ["narrow"], ["nonexistent*"]);
  await serviceWithAddress("narrow", "192.0.2.232", "narrow");
  await serviceWithAddress("open", "192.0.2.230", "open");
  await seenByAll("default/narrow");
  await h.answeringNode("192.0.2.230");
  expect(await arpReplies(lab, "192.0.2.232", 20, 20)).toEqual([]);

  await advertisement("narrow", ["narrow"], ["eth0"]);
  const node = await h.answeringNode("192.0.2.232");
  expect(new Set(await arpReplies(lab, "192.0.2.232", 20, 20))).toEqual(new Set([h.macs.get(node)]));
}, 60_000);

test("a link that appears on the owner is announced on at once (the client's entry moves to it); one that goes is let go", async () => {
  await applyPool(h.api, "links", { addresses: ["192.0.2.234-192.0.2.235"], autoAssign: false });
  await advertisement("links", ["links"]);
  const address = "192.0.2.234";
  await serviceWithAddress("links", address, "links");
  const node = await h.answeringNode(address);
  await lab.tryExec("client", ["ping", "-c", "1", "-W", "1", address]);
  expect(await neighbourMac(address)).toBe(h.macs.get(node));

  // A second link on the owner's LAN (macvlan on eth0), as a bond or VLAN brought up later would be.
  await lab.exec(node, ["ip", "link", "add", "eth1", "link", "eth0", "type", "macvlan", "mode", "bridge"]);
  try {
    await lab.exec(node, ["ip", "link", "set", "eth1", "up"]);
    const mac = (await lab.exec(node, ["cat", "/sys/class/net/eth1/address"])).trim().toLowerCase();
    // The client sends nothing meanwhile: only a gratuitous ARP from the new link moves its entry.
    await eventually(
      "the client's entry names the new link",
      async () => (await neighbourMac(address)) === mac,
      15_000,
    );
    expect((await speakerState(lab, node)).interfaces).toContain("eth1");
    expect(new Set(await arpReplies(lab, address, 10, 20))).toEqual(new Set([h.macs.get(node), mac]));
  } finally {
    await lab.exec(node, ["ip", "link", "del", "eth1"]);
  }
  await eventually(
    "the speaker lets the link go",
    async () => !((await speakerState(lab, node)).interfaces as string[]).includes("eth1"),
    15_000,
  );
  expect(new Set(await arpReplies(lab, address, 10, 20))).toEqual(new Set([h.macs.get(node)]));
}, 60_000);

// The rendered table in a real kernel: a client talks to the address, the node's nftables
// (and nothing else) carries the traffic to pods on the node or to another node.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { systemClock } from "../../../src/clock.js";
import { ForwardingApplier } from "../../../src/speaker/forward/applier.js";
import type { ApplierOptions, ForwardingEvent } from "../../../src/speaker/forward/applier-options.js";
import { nftExec } from "../../../src/speaker/forward/nft.js";
import type { ForwardedService } from "../../../src/speaker/forward/state.js";
import { waitFor } from "../../lab/exec.js";
import { service, state } from "./fixtures.js";
import { Lab, type Reply } from "./netns.js";

const lab = new Lab();
let applier: ForwardingApplier;
const events: ForwardingEvent[] = [];

/** An applier on the node namespace, as a speaker (re)starting there would run it. */
function startApplier(options: Partial<ApplierOptions> = {}): ForwardingApplier {
  const a = new ForwardingApplier({
    exec: lab.nft(),
    conntrack: lab.conntrack(),
    onEvent: (e) => events.push(e),
    options: { coalesceMs: 5, driftIntervalMs: 0, ...options },
  });
  a.start();
  return a;
}

async function apply(...services: ForwardedService[]): Promise<void> {
  applier.update(state(...services));
  await applier.settled();
  const last = events.at(-1);
  if (last?.type === "applyFailed") throw new Error(last.message);
}

const web = (over: Partial<ForwardedService> = {}) =>
  service({
    addresses: [lab.vip],
    ports: [
      { protocol: "TCP", port: 80, nodePort: 30080, targetPort: 8080 },
      { protocol: "UDP", port: 53, nodePort: 30053, targetPort: 5353 },
    ],
    ...over,
  });
const replies = (rs: Reply[]) => rs.map((r) => r.reply ?? r.error);
const backends = (rs: Reply[]) => new Set(rs.map((r) => r.reply?.split(" ")[0] ?? r.error));

beforeAll(async () => {
  lab.up();
  await lab.echo(lab.pods[0] ?? "", "pod-a", [8080, 5353]);
  await lab.echo(lab.pods[1] ?? "", "pod-b", [8080, 5353]);
  await lab.echo(lab.other, "other-node", [30080, 30053]);
  applier = startApplier();
});

afterAll(async () => {
  await applier?.stop({ removeTable: true });
  lab.down();
});

test("Cluster: a local pod answers and sees the client's address", async () => {
  await apply(web({ localEndpoints: ["198.51.100.5"] }));
  expect(replies(lab.request("tcp", 80))).toEqual(["pod-a 192.0.2.100"]);
});

test("Cluster: another node's NodePort answers, reached with masquerade", async () => {
  await apply(web({ remoteNodes: ["192.0.2.12"] }));
  expect(replies(lab.request("tcp", 80))).toEqual(["other-node 192.0.2.11"]);
});

test("Cluster: new connections spread over local pods and other nodes", async () => {
  await apply(web({ localEndpoints: ["198.51.100.5", "198.51.100.6"], remoteNodes: ["192.0.2.12"] }));
  expect(backends(lab.request("tcp", 80, 30))).toEqual(new Set(["pod-a", "pod-b", "other-node"]));
});

test("Local: only local pods, each sees the client's address", async () => {
  await apply(
    web({
      externalTrafficPolicy: "Local",
      localEndpoints: ["198.51.100.5", "198.51.100.6"],
      remoteNodes: ["192.0.2.12"],
    }),
  );
  const rs = lab.request("tcp", 80, 20);
  expect(new Set(replies(rs))).toEqual(new Set(["pod-a 192.0.2.100", "pod-b 192.0.2.100"]));
});

test("sessionAffinity ClientIP: 15 consecutive connections reach the same pod", async () => {
  await apply(
    web({ localEndpoints: ["198.51.100.5", "198.51.100.6"], sessionAffinity: { timeoutSeconds: 60 } }),
  );
  const rs = lab.request("tcp", 80, 15);
  expect(rs.every((r) => r.reply)).toBe(true);
  expect(backends(rs).size).toBe(1);
});

test("loadBalancerSourceRanges: the listed client gets through, the other is dropped", async () => {
  await apply(web({ localEndpoints: ["198.51.100.5"], loadBalancerSourceRanges: ["192.0.2.100/32"] }));
  expect(replies(lab.request("tcp", 80, 1, "192.0.2.100"))).toEqual(["pod-a 192.0.2.100"]);
  expect(replies(lab.request("tcp", 80, 1, "192.0.2.101"))).toEqual(["TIMEOUT"]);
});

test("UDP on the same address as TCP", async () => {
  await apply(web({ localEndpoints: ["198.51.100.6"] }));
  expect(replies(lab.request("udp", 53))).toEqual(["pod-b 192.0.2.100"]);
  expect(replies(lab.request("tcp", 80))).toEqual(["pod-b 192.0.2.100"]);
});

test("IPv6: Cluster to a local pod keeps the client address, to another node masquerades; UDP too", async () => {
  await apply(web({ addresses: [lab.vip6], localEndpoints: ["2001:db8:2::5"] }));
  expect(replies(lab.request("tcp", 80, 1, undefined, lab.vip6))).toEqual(["pod-a 2001:db8::100"]);
  expect(replies(lab.request("udp", 53, 1, undefined, lab.vip6))).toEqual(["pod-a 2001:db8::100"]);
  await apply(web({ addresses: [lab.vip6], remoteNodes: ["2001:db8::12"] }));
  expect(replies(lab.request("tcp", 80, 1, undefined, lab.vip6))).toEqual(["other-node 2001:db8::11"]);
  await apply(web({ addresses: [lab.vip6] }));
  expect(replies(lab.request("tcp", 80, 1, undefined, lab.vip6))).toEqual(["ECONNREFUSED"]);
});

test("no ready endpoint anywhere: refused at once, not a hang", async () => {
  await apply(web());
  const [t] = lab.request("tcp", 80);
  const [u] = lab.request("udp", 53);
  expect(t?.error).toBe("ECONNREFUSED");
  expect(u?.error).toBe("ECONNREFUSED");
});

test("scaling to zero refuses at once also for a UDP client that keeps its port; back to one answers", async () => {
  await apply(web({ localEndpoints: ["198.51.100.5"] }));
  const again = () => replies(lab.request("udp", 53, 1, "192.0.2.100", lab.vip, 40_053));
  expect(again()).toEqual(["pod-a 192.0.2.100"]);
  await apply(web());
  // Without forgetting the flow, conntrack would still carry it to the removed pod.
  expect(again()).toEqual(["ECONNREFUSED"]);
  await apply(web({ localEndpoints: ["198.51.100.6"] }));
  expect(again()).toEqual(["pod-b 192.0.2.100"]);
});

test("a client whose first tries came before the address's rules gets through from the same port once they are in", async () => {
  // Before the rules, the node passed the packets on untranslated, and conntrack would keep
  // doing so for that client port (TCP in SYN_SENT for 120 s, UDP for 30 s).
  await apply();
  const fromOnePort = (protocol: "tcp" | "udp") =>
    replies(lab.request(protocol, protocol === "tcp" ? 80 : 53, 1, "192.0.2.100", lab.vip, 40_080));
  expect(fromOnePort("tcp")).toEqual(["TIMEOUT"]);
  expect(fromOnePort("udp")).toEqual(["TIMEOUT"]);
  await apply(web({ localEndpoints: ["198.51.100.5"] }));
  expect(fromOnePort("tcp")).toEqual(["pod-a 192.0.2.100"]);
  expect(fromOnePort("udp")).toEqual(["pod-a 192.0.2.100"]);
});

/**
 * kube-proxy's translation, as it stands in any node an owner sends Cluster traffic to: the
 * NodePort first goes to a Pod that is gone (its address still routed, as to another node, but
 * nobody answers there). `body` gets the switch to another Pod and a client that always
 * connects from `clientPort`.
 */
async function behindKubeProxy(
  clientPort: number,
  body: (kubeProxy: (to: string) => void, fromOnePort: () => ReturnType<typeof replies>) => Promise<void>,
): Promise<void> {
  const kubeProxy = (to: string) =>
    lab.in(
      lab.node,
      "nft",
      `add table ip kp; flush table ip kp; add chain ip kp pre { type nat hook prerouting priority dstnat; }; add rule ip kp pre tcp dport 30080 dnat to ${to}:8080`,
    );
  lab.in(lab.node, "ip", "route", "add", "198.51.100.9/32", "dev", "pod1");
  try {
    kubeProxy("198.51.100.9");
    await body(kubeProxy, () =>
      replies(lab.request("tcp", 30080, 1, "192.0.2.100", "192.0.2.11", clientPort)),
    );
  } finally {
    lab.in(lab.node, "nft", "delete table ip kp");
    lab.in(lab.node, "ip", "route", "del", "198.51.100.9/32", "dev", "pod1");
  }
}

/** The speaker's update once kube-proxy sends the NodePort to the live Pod, then that Pod answering. */
async function liveAnswers(fromOnePort: () => ReturnType<typeof replies>): Promise<void> {
  applier.update({
    ...state(web({ localEndpoints: ["198.51.100.5"] })),
    nodePortEndpoints: [{ nodePort: 30080, address: "198.51.100.5" }],
  });
  await applier.settled();
  await waitFor(
    "the live Pod answering",
    async () => (fromOnePort()[0]?.startsWith("pod-a") ? true : undefined),
    3000,
  );
}

test("a client that tried a NodePort endpoint now gone gets through from the same port once the endpoint left", async () => {
  await behindKubeProxy(40_081, async (kubeProxy, fromOnePort) => {
    applier.update({
      ...state(web({ localEndpoints: ["198.51.100.5"] })),
      nodePortEndpoints: [{ nodePort: 30080, address: "198.51.100.9" }],
    });
    await applier.settled();
    expect(fromOnePort()).not.toEqual([expect.stringContaining("pod-")]);
    kubeProxy("198.51.100.5");
    // The unanswered entry still holds that port's translation: without the cleanup it goes
    // to the gone Pod again (it did, before the cleanup existed).
    await liveAnswers(fromOnePort);
  });
});

test("a client that tried a NodePort endpoint gone while the speaker was down gets through once it is back", async () => {
  await behindKubeProxy(40_083, async (kubeProxy, fromOnePort) => {
    expect(fromOnePort()).not.toEqual([expect.stringContaining("pod-")]);
    // The speaker is killed; meanwhile the Pod goes and kube-proxy follows. No update will say
    // it left: the speaker that comes back only sees the live one. Without the sweep the port
    // kept going to the gone Pod (it did, before the sweep existed).
    await applier.stop();
    kubeProxy("198.51.100.5");
    applier = startApplier();
    await liveAnswers(fromOnePort);
  });
});

test("a client that tried a node just before it was counted dead gets through from the same port once it is dropped", async () => {
  // The other node's cable is cut: its NodePort answers nothing. The client's SYN went there and
  // conntrack keeps that translation for the port (SYN_SENT, renewed by every retry).
  const cut = "add table ip cut; add chain ip cut in { type filter hook input priority 0; policy drop; }";
  const fromOnePort = () => replies(lab.request("tcp", 80, 1, "192.0.2.100", lab.vip, 40_082));
  try {
    await apply(web({ remoteNodes: ["192.0.2.12"] }));
    lab.in(lab.other, "nft", cut);
    expect(fromOnePort()).toEqual(["TIMEOUT"]);
    // Counted dead: the rules now send new connections to the local Pod only. Without the
    // cleanup the same client port still went to the dead node (it did, before it existed).
    await apply(web({ localEndpoints: ["198.51.100.5"] }));
    expect(fromOnePort()).toEqual(["pod-a 192.0.2.100"]);
  } finally {
    lab.in(lab.other, "nft", "delete table ip cut");
  }
});

test("a port change takes effect and the old port stops answering", async () => {
  await apply(web({ localEndpoints: ["198.51.100.5"] }));
  await apply(
    web({
      localEndpoints: ["198.51.100.5"],
      ports: [{ protocol: "TCP", port: 8000, nodePort: 30080, targetPort: 8080 }],
    }),
  );
  expect(replies(lab.request("tcp", 8000))).toEqual(["pod-a 192.0.2.100"]);
  expect(replies(lab.request("tcp", 80))).toEqual(["ECONNREFUSED"]);
});

describe("one tenant's Service that the kernel would refuse leaves the others forwarded", () => {
  const second = "192.0.2.201";
  const tenant = (over: Partial<ForwardedService>) =>
    web({ name: "tenant-b/web", addresses: [second], localEndpoints: ["198.51.100.6"], ...over });

  beforeAll(() => {
    lab.in(lab.client, "ip", "route", "replace", `${second}/32`, "via", "192.0.2.11");
  });

  test("overlapping loadBalancerSourceRanges (a /24, a /28 and an address inside it) are merged", async () => {
    await apply(
      web({ localEndpoints: ["198.51.100.5"] }),
      tenant({ loadBalancerSourceRanges: ["192.0.2.0/24", "192.0.2.96/28", "192.0.2.100/32"] }),
    );
    expect(replies(lab.request("tcp", 80))).toEqual(["pod-a 192.0.2.100"]);
    expect(replies(lab.request("tcp", 80, 1, "192.0.2.100", second))).toEqual(["pod-b 192.0.2.100"]);
  });

  test("a Service nft refuses is found, left out and reported; the other is forwarded", async () => {
    // Longer than any Service key can be: nft refuses its comment (128 characters at most),
    // which stands for any value the kernel or nft refuses for one Service's sake.
    const refused = `tenant-b/${"x".repeat(200)}`;
    await apply(
      web({ localEndpoints: ["198.51.100.5"] }),
      tenant({ name: refused, sessionAffinity: { timeoutSeconds: 60 } }),
    );
    expect(events.filter((e) => e.type === "serviceRefused").at(-1)).toMatchObject({
      service: refused,
      message: expect.stringContaining("comment too long"),
    });
    expect([...applier.refusedServices().keys()]).toEqual([refused]);
    expect(replies(lab.request("tcp", 80))).toEqual(["pod-a 192.0.2.100"]);
    expect(lab.request("tcp", 80, 1, undefined, second)[0]?.reply).toBeUndefined();
    // Fixed (here: another Service in its place), it is forwarded at the next sync.
    await apply(web({ localEndpoints: ["198.51.100.5"] }), tenant({}));
    expect(applier.refusedServices().size).toBe(0);
    expect(replies(lab.request("tcp", 80, 1, undefined, second))).toEqual(["pod-b 192.0.2.100"]);
  });
});

describe("restart", () => {
  test("a new applier rewrites the same table and the established connection carries on", async () => {
    await apply(web({ localEndpoints: ["198.51.100.5", "198.51.100.6"], remoteNodes: ["192.0.2.12"] }));
    const conn = await lab.hold(80);
    const before = await conn.ask();
    await applier.stop();
    applier = startApplier();
    await apply(web({ localEndpoints: ["198.51.100.5", "198.51.100.6"], remoteNodes: ["192.0.2.12"] }));
    expect(events.at(-1)).toMatchObject({ type: "applied", mode: "full" });
    const after = await conn.ask();
    conn.close();
    expect(after).toBe(before);
  });
});

describe("handover", () => {
  // The other namespace plays the new owner: the client's route to the address moves to it, as
  // a gratuitous ARP or unsolicited NA would move the client's neighbour entry.
  const families = [
    { family: "IPv4", vip: () => lab.vip, node: "192.0.2.11", other: "192.0.2.12", client: "192.0.2.100" },
    {
      family: "IPv6",
      vip: () => lab.vip6,
      node: "2001:db8::11",
      other: "2001:db8::12",
      client: "2001:db8::100",
    },
  ];
  const moveAddressTo = (vip: string, via: string) =>
    lab.in(lab.client, "ip", "route", "replace", vip, "via", via);

  test.each(families)(
    "$family: after the address moves, a connection the previous owner accepted goes on through it; new ones stay",
    async ({ vip, node, other, client }) => {
      await apply(web({ addresses: [lab.vip, lab.vip6], localEndpoints: ["198.51.100.5", "2001:db8:2::5"] }));
      const answer = JSON.stringify({ reply: `pod-a ${client}` });
      const conn = await lab.hold(80, vip());
      expect(await conn.ask()).toBe(answer);
      moveAddressTo(vip(), other);
      // The new owner knows the speakers' MACs; the previous owner drops what it cannot NAT.
      const nodeMac = lab.in(lab.node, "cat", "/sys/class/net/br0/address").trim();
      const next = new ForwardingApplier({
        exec: nftExec(["ip", "netns", "exec", lab.other, "nft"]),
        conntrack: nftExec(["ip", "netns", "exec", lab.other, "conntrack"]),
        clock: systemClock,
        nodeMacs: () => [nodeMac],
        options: { coalesceMs: 5, driftIntervalMs: 0 },
      });
      next.start();
      next.update(state());
      const handover = next.handover;
      const previous = applier.handover;
      try {
        await next.settled();
        handover.takenOver(vip(), node, [80]);
        previous.released(vip());
        await Promise.all([handover.settled(), previous.settled()]);
        expect(await conn.ask()).toBe(answer);
        // A new connection (SYN) is the new owner's, which forwards nothing here: no answer.
        expect(replies(lab.request("tcp", 80, 1, undefined, vip()))).toEqual(["TIMEOUT"]);
        // Without the handover table the established connection has nowhere to go.
        handover.released(vip());
        await handover.settled();
        expect(await conn.ask()).toBe(JSON.stringify({ error: "TIMEOUT" }));
      } finally {
        conn.close();
        moveAddressTo(vip(), node);
        previous.owned(vip());
        await Promise.all([next.stop({ removeTable: true }), previous.settled()]);
      }
      const left = await nftExec(["ip", "netns", "exec", lab.other, "nft"])(["list", "ruleset"]);
      expect(left.stdout.trim()).toBe("");
    },
  );
});

test("drift: a deleted table and a flushed table are both put back within seconds", async () => {
  await apply(web({ localEndpoints: ["198.51.100.5"] }));
  await applier.stop();
  applier = startApplier({ driftIntervalMs: 200, driftFullEvery: 2 });
  await apply(web({ localEndpoints: ["198.51.100.5"] }));
  const repaired = async (...damage: string[]) => {
    const before = applier.stats.driftRepairs;
    expect((await lab.nft()(damage)).code).toBe(0);
    await waitFor(
      `a repair after ${damage.join(" ")}`,
      async () => (applier.stats.driftRepairs > before ? true : undefined),
      10_000,
    );
    await applier.settled();
    return applier.stats.driftRepairs - before;
  };
  expect(await repaired("delete", "table", "inet", "herald")).toBe(1);
  expect(replies(lab.request("tcp", 80))).toEqual(["pod-a 192.0.2.100"]);
  expect(await repaired("flush", "table", "inet", "herald")).toBe(1);
  expect(replies(lab.request("tcp", 80))).toEqual(["pod-a 192.0.2.100"]);
  // The handover table is put back too: deleted, or an element taken out of it.
  applier.handover.takenOver(lab.vip, "192.0.2.12", [80]);
  await applier.handover.settled();
  const handover = async () => (await lab.nft()(["list", "table", "ip", "herald_handover"])).stdout;
  expect(await handover()).toContain(`${lab.vip} . 80 : 192.0.2.12`);
  expect(await repaired("delete", "table", "ip", "herald_handover")).toBe(1);
  expect(await handover()).toContain(`${lab.vip} . 80 : 192.0.2.12`);
  expect(
    await repaired("delete", "element", "ip", "herald_handover", "previous_owner", `{ ${lab.vip} . 80 }`),
  ).toBe(1);
  expect(await handover()).toContain(`${lab.vip} . 80 : 192.0.2.12`);
  applier.handover.released(lab.vip);
  applier.handover.owned(lab.vip);
  await applier.handover.settled();
});

test("removing the table leaves nothing behind and the address is no longer forwarded", async () => {
  await apply(web({ localEndpoints: ["198.51.100.5"] }));
  await applier.stop({ removeTable: true });
  expect((await lab.nft()(["list", "ruleset"])).stdout.trim()).toBe("");
  const [r] = lab.request("tcp", 80);
  expect(r?.reply).toBeUndefined();
});

// The chart's Pods, run from Herald's image in the lab (podman in the nodes' namespaces, as a
// kubelet would run the rendered DaemonSet and Deployment), with the chart's own ServiceAccounts,
// RBAC, Secret and CRDs: what a user who ran `docker build` and `helm install` sees.
import { join } from "node:path";
import { eventually, REPO } from "../controller/lab-controller.js";
import { exec } from "../lab/exec.js";
import { LAB_START_TIMEOUT_MS } from "../lab/fixture.js";
import type { Lab } from "../lab/lab.js";
import { waitForOutput } from "../lab/process.js";
import {
  type ArpRun,
  announcedNode,
  arpReplies,
  httpFromClient,
  nodesServing,
} from "../speaker/lab-speaker.js";
import { type ChartLab, startChartLab } from "./chart-lab.js";

const ARP_PING = join(REPO, "dist", "test", "speaker", "arp-ping.js");
const MAIN = join(REPO, "dist", "src", "cli", "main.js");

let h: ChartLab;
let lab: Lab;
let macs: Map<string, string>;
let vip = "";
const answeringNode = (address: string) => h.answeringNode(address);

beforeAll(async () => {
  // The image build is cached: seconds when scripts/check has built it already.
  h = await startChartLab(3);
  ({ lab, macs } = h);
  await Promise.all(
    h.nodes.map((n, i) => lab.createPod({ name: `web-${i + 1}`, node: n, labels: { app: "web" } })),
  );
  await lab.kubectlRun(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "default" },
      spec: { type: "LoadBalancer", selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
    }),
  });
  vip = await eventually("web gets an address", async () => {
    const ip = await lab.kubectlRun([
      "get",
      "svc",
      "web",
      "-o",
      "jsonpath={.status.loadBalancer.ingress[0].ip}",
    ]);
    return ip.trim() || undefined;
  });
}, LAB_START_TIMEOUT_MS + 900_000);

afterAll(async () => {
  await h?.stop();
});

test("the containerised controller assigns an address from the chart's pool; kubectl get svc shows it", async () => {
  const table = await lab.kubectlRun(["get", "svc", "web"]);
  expect(table).toMatch(new RegExp(`^web\\s+LoadBalancer\\s+\\S+\\s+${vip.replaceAll(".", "\\.")}\\s`, "m"));
  expect(vip).toMatch(/^192\.0\.2\.20\d$/);
  // Every Pod the chart asked for runs from the image, confined as the chart says.
  for (const pod of [...h.controllers, ...h.speakerPods.values()]) expect(pod.process.running()).toBe(true);
  expect(h.controllers).toHaveLength(h.chart.controllerReplicas);
  expect(h.speakerPods.size).toBe(3);
});

test("exactly one MAC answers 100 ARP requests, the node its ServiceAnnouncement names", async () => {
  const node = await answeringNode(vip);
  const replies = await arpReplies(lab, vip, 100);
  expect(replies.length).toBeGreaterThanOrEqual(98);
  expect(new Set(replies)).toEqual(new Set([macs.get(node)]));
  expect(await eventually("announcement", () => announcedNode(lab, "default", "web"))).toBe(node);
});

test("HTTP through the address reaches Pods on the owner and on the other nodes", async () => {
  const node = await answeringNode(vip);
  const seen = await nodesServing(lab, vip);
  expect(seen).toContain(node);
  expect(seen.size).toBeGreaterThanOrEqual(2);
});

test("cut cable of the owner: another node answers and serves; the cable back makes one owner again", async () => {
  const first = await answeringNode(vip);
  await lab.cutLink(first);
  try {
    const next = await answeringNode(vip);
    expect(next).not.toBe(first);
    await eventually("HTTP through the new owner", () => httpFromClient(lab, `http://${vip}/`, 1));
  } finally {
    await lab.restoreLink(first);
  }
  await eventually(
    "a single owner after the link returns, the node it had before",
    async () => {
      const replies = await arpReplies(lab, vip, 20);
      return replies.length >= 18 && new Set(replies).size === 1 && replies[0] === macs.get(first);
    },
    40_000,
  );
}, 90_000);

test("podman stop with the Pod's grace period hands over: every ARP request meanwhile is answered", async () => {
  const first = await answeringNode(vip);
  const probe = lab.spawn("client", {
    name: "arp-ping",
    command: process.execPath,
    args: [ARP_PING, "eth0", lab.client.v4, vip, "200", "10"],
  });
  try {
    await waitForOutput(probe, "first reply", 10_000);
    const exit = await h.speakers.get(first)?.stop(h.chart.speakerGraceMs);
    await probe.exited;
    const run = JSON.parse(probe.output().trim().split("\n").pop() ?? "{}") as ArpRun;
    expect(exit?.code).toBe(0);
    // As in the host-process suite: a request counts as answered when a reply follows within 100 ms.
    const unanswered = run.sent.filter((t) => !run.replies.some(([r]) => r >= t && r < t + 100));
    expect(unanswered).toEqual([]);
    expect(await answeringNode(vip)).not.toBe(first);
  } finally {
    await h.ensureSpeaker(first);
    await eventually(`${vip} back on ${first}`, async () => (await answeringNode(vip)) === first, 30_000);
  }
}, 120_000);

test("the audit log is readable from the speaker's hostPath on its node", async () => {
  const node = await answeringNode(vip);
  const dir = join(
    h.chart.nodeRoot(node),
    h.chart.speakerTemplate.spec.volumes.find((v: { name: string }) => v.name === "audit").hostPath.path,
  );
  const rows = await eventually("an announce row for the address", async () => {
    const out = await exec(process.execPath, [
      MAIN,
      "audit",
      "query",
      "--dir",
      dir,
      "--address",
      vip,
      "--format",
      "json",
    ]);
    const events = out
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as { kind: string; node?: string; addresses?: string[] });
    return events.some((e) => e.kind === "announce" && e.node === node) ? events : undefined;
  });
  expect(rows.every((e) => e.addresses?.includes(vip))).toBe(true);
});

test("no liveness probe failed in any container", () => {
  for (const pod of [...h.controllers, ...h.speakerPods.values()])
    expect([pod.podName, pod.livenessFailures()]).toEqual([pod.podName, 0]);
});

// Running `herald speaker` in the lab: one real process per node, inside the node's network
// namespace (hostNetwork), next to the node's kube-proxy, against the real API server.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Rest } from "../../src/k8s/rest.js";
import {
  apiOf,
  applyPool,
  createService,
  eventually,
  ingress,
  installCrds,
  lbService,
  leading,
  REPO,
  startController,
} from "../controller/lab-controller.js";
import { startLab } from "../lab/fixture.js";
import type { Lab } from "../lab/lab.js";
import type { LabProcess } from "../lab/process.js";

// HERALD_LAB_MAIN runs another build of the CLI (a soak against a deliberately broken copy).
const MAIN = process.env.HERALD_LAB_MAIN ?? join(REPO, "dist", "src", "cli", "main.js");
export const SPEAKER_HTTP_PORT = 7473;

export function writeHeartbeatKey(lab: Lab): string {
  const file = join(lab.dir, "heartbeat.key");
  writeFileSync(file, "bGFiLWhlYXJ0YmVhdC1rZXktbm90LWEtc2VjcmV0LWF0LWFsbC0xMjM0NQ==\n");
  return file;
}

export function startSpeaker(lab: Lab, node: string, keyFile: string): LabProcess {
  return lab.spawn(node, {
    name: `speaker-${node}`,
    command: process.execPath,
    args: [
      MAIN,
      "speaker",
      "--kubeconfig",
      lab.innerKubeconfig,
      "--node-name",
      node,
      "--http-port",
      `${SPEAKER_HTTP_PORT}`,
      "--heartbeat-key-file",
      keyFile,
      "--audit-dir",
      join(lab.dir, `audit-${node}`),
      // The harness reads /debug/state over the node's loopback, without a token.
      "--http-auth",
      "none",
    ],
    env: { POD_NAMESPACE: "herald-system", HERALD_LOG_LEVEL: "info" },
  });
}

export async function speakerState(lab: Lab, node: string): Promise<Record<string, unknown>> {
  const out = await lab.exec(node, [
    "curl",
    "-sf",
    "--max-time",
    "2",
    `http://127.0.0.1:${SPEAKER_HTTP_PORT}/debug/state`,
  ]);
  return JSON.parse(out) as Record<string, unknown>;
}

export async function macOf(lab: Lab, node: string): Promise<string> {
  return (await lab.exec(node, ["cat", "/sys/class/net/eth0/address"])).trim().toLowerCase();
}

const ARP_PING = join(REPO, "dist", "test", "speaker", "arp-ping.js");

export interface ArpRun {
  sent: number[];
  replies: [number, string][];
}

/** ARP requests from the client every `intervalMs`; every reply with its time and MAC. */
export async function arpRun(lab: Lab, address: string, count: number, intervalMs = 10): Promise<ArpRun> {
  const out = await lab.exec("client", [
    process.execPath,
    ARP_PING,
    "eth0",
    lab.client.v4,
    address,
    `${count}`,
    `${intervalMs}`,
  ]);
  const line = out.trim().split("\n").pop() ?? "{}";
  return JSON.parse(line) as ArpRun;
}

/** MACs (lower case) of the ARP replies to `count` requests from the client, one entry per reply. */
export async function arpReplies(
  lab: Lab,
  address: string,
  count: number,
  intervalMs = 10,
): Promise<string[]> {
  return (await arpRun(lab, address, count, intervalMs)).replies.map(([, mac]) => mac.toLowerCase());
}

/** Link-layer addresses (lower case) of every neighbour advertisement ndisc6 receives for `address`. */
export async function ndpAnswers(lab: Lab, address: string): Promise<string[]> {
  const r = await lab.tryExec("client", ["ndisc6", "-m", "-n", "-r", "2", "-w", "500", address, "eth0"]);
  return [...r.stdout.matchAll(/Target link-layer address: ([0-9A-Fa-f:]+)/g)].map((m) =>
    (m[1] as string).toLowerCase(),
  );
}

/** The client kernel's neighbour entry for `address` (IPv4 or IPv6): its MAC, if it has one. */
export async function neighbourMac(lab: Lab, address: string): Promise<string | undefined> {
  const out = await lab.exec("client", ["ip", "neigh", "show", address, "dev", "eth0"]);
  return /lladdr ([0-9a-f:]+)/.exec(out)?.[1];
}

/** One HTTP request from the client; the echo server's JSON answer. */
export async function httpFromClient(
  lab: Lab,
  url: string,
  maxTime = 2,
): Promise<{ pod: string; node: string; client: string }> {
  const out = await lab.exec("client", ["curl", "-sf", "--max-time", `${maxTime}`, url]);
  return JSON.parse(out) as { pod: string; node: string; client: string };
}

/** The node named in the Service's ServiceAnnouncement, as `kubectl get sann` shows it. */
/** The nodes whose Pods answer HTTP through `address` over up to 40 requests (stops at 3). */
export async function nodesServing(lab: Lab, address: string): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 40 && seen.size < 3; i++)
    seen.add((await httpFromClient(lab, `http://${address}/`)).node);
  return seen;
}

export async function announcedNode(lab: Lab, ns: string, name: string): Promise<string | undefined> {
  const out = await lab
    .kubectlRun(["get", "sann", "-n", ns, name, "-o", "jsonpath={.status.node}"])
    .catch(() => "");
  return out.trim() || undefined;
}

/** A lab with Herald installed: CRDs, one pool on the LAN, an L2Advertisement for it, the controller. */
export interface HeraldLab {
  lab: Lab;
  api: Rest;
  keyFile: string;
  nodes: string[];
  /** eth0 MAC of every node, lower case. */
  macs: Map<string, string>;
  speakers: Map<string, LabProcess>;
  /** Starts the node's speaker unless it runs, and waits until it serves its state. */
  ensureSpeaker(node: string): Promise<void>;
  /** The node whose MAC answers ARP for `address` from the client, once exactly one does. */
  answeringNode(address: string): Promise<string>;
  /** Creates a LoadBalancer Service and returns its first ingress address. */
  loadBalancer(name: string, extra?: Record<string, unknown>): Promise<string>;
}

/**
 * The two ways a lab test reaches a Service from outside, whatever runs Herald (host processes or
 * the chart's containers): the node answering ARP for an address, and a new LoadBalancer Service.
 */
export function serviceProbes(
  lab: Lab,
  api: Rest,
  macs: ReadonlyMap<string, string>,
): Pick<HeraldLab, "answeringNode" | "loadBalancer"> {
  return {
    answeringNode: (address) =>
      eventually(`one node answering ARP for ${address}`, async () => {
        const distinct = [...new Set(await arpReplies(lab, address, 3, 50))];
        if (distinct.length !== 1) return undefined;
        return [...macs].find(([, mac]) => mac === distinct[0])?.[0];
      }),
    async loadBalancer(name, extra = {}) {
      await createService(api, "default", lbService(name, extra));
      return eventually(`${name} gets an address`, async () => (await ingress(api, "default", name))[0]);
    },
  };
}

/**
 * `controller: false` leaves Service status to the test (in a single-stack lab only a
 * hand-written status gives a Service an IPv6 address); `dualStack: true` starts a dual-stack lab.
 */
export async function startHeraldLab(
  nodeCount: number,
  options: { controller?: boolean; dualStack?: boolean } = {},
): Promise<HeraldLab> {
  const lab = await startLab({ nodes: nodeCount, dualStack: options.dualStack === true });
  const api = apiOf(lab);
  await installCrds(lab);
  const keyFile = writeHeartbeatKey(lab);
  await applyPool(api, "lan", { addresses: ["192.0.2.200-192.0.2.209", "2001:db8::200-2001:db8::209"] });
  await lab.kubectlRun(["apply", "-f", "-"], {
    input:
      "apiVersion: herald.dev/v1alpha1\nkind: L2Advertisement\nmetadata:\n  name: lan\nspec:\n  ipAddressPools: [lan]\n",
  });
  const ctl = options.controller === false ? undefined : startController(lab, "controller-0", 7472);
  const nodes = lab.nodes.map((n) => n.name);
  const macs = new Map<string, string>();
  for (const node of nodes) macs.set(node, await macOf(lab, node));
  const speakers = new Map<string, LabProcess>();
  const h: HeraldLab = {
    lab,
    api,
    keyFile,
    nodes,
    macs,
    speakers,
    async ensureSpeaker(node) {
      if (speakers.get(node)?.running()) return;
      speakers.set(node, startSpeaker(lab, node, keyFile));
      await eventually(
        `speaker on ${node} ready`,
        async () => (await speakerState(lab, node)).node === node,
        30_000,
      );
    },
    ...serviceProbes(lab, api, macs),
  };
  if (ctl) await eventually("controller leading", () => leading(ctl));
  await Promise.all(nodes.map((n) => h.ensureSpeaker(n)));
  return h;
}

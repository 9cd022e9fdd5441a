// The lab's own promises to the tests built on it: the LAN carries IPv4 and IPv6 (NDP),
// nodes keep their heartbeats until their link is cut, processes started in a node can be
// stopped or killed, Pod readiness reaches Endpoints, and nothing of a lab outlives it,
// not even after a crash.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoordinationV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { listNetns } from "./cleanup.js";
import { waitFor } from "./exec.js";
import { LAB_START_TIMEOUT_MS, startLab } from "./fixture.js";
import type { Lab } from "./lab.js";
import { waitForOutput } from "./process.js";

let lab: Lab;
const HEARTBEAT_MS = 500;

beforeAll(async () => {
  lab = await startLab({ nodes: 2, heartbeatMs: HEARTBEAT_MS });
}, LAB_START_TIMEOUT_MS);

afterAll(async () => {
  await lab?.stop();
});

async function reachable(from: string, address: string): Promise<boolean> {
  const r = await lab.tryExec(from, ["ping", "-c", "1", "-W", "1", address]);
  return r.code === 0;
}

async function renewTime(node: string): Promise<number> {
  const leases = lab.kc.makeApiClient(CoordinationV1Api);
  const lease = await leases.readNamespacedLease({ name: node, namespace: "kube-node-lease" });
  return new Date(lease.spec?.renewTime ?? 0).getTime();
}

test("the client reaches every node over IPv4 and IPv6, and learns their link addresses by ARP and NDP", async () => {
  for (const node of lab.nodes) {
    expect(await reachable("client", node.v4)).toBe(true);
    expect(await reachable("client", node.v6)).toBe(true);
  }
  const mac = (await lab.exec("node-1", ["cat", "/sys/class/net/eth0/address"])).trim();
  const neighbours = await lab.exec("client", ["ip", "neigh", "show", "dev", "eth0"]);
  expect(neighbours).toMatch(new RegExp(`192\\.0\\.2\\.11 lladdr ${mac}`));
  expect(neighbours).toMatch(new RegExp(`2001:db8::11 lladdr ${mac}`));
});

test("a cut link stops a node's heartbeats and traffic; restoring it brings both back", async () => {
  const before = await renewTime("node-2");
  await waitFor(
    "node-2's lease renewal",
    async () => ((await renewTime("node-2")) > before ? true : undefined),
    10_000,
  );

  await lab.cutLink("node-2");
  expect(await reachable("client", "192.0.2.12")).toBe(false);
  const frozen = await renewTime("node-2");
  // node-1 renewing twice more shows that time has passed in which node-2 would have renewed.
  const node1 = await renewTime("node-1");
  await waitFor(
    "two lease renewals of node-1 after the cut",
    async () => ((await renewTime("node-1")) >= node1 + 2 * HEARTBEAT_MS ? true : undefined),
    10_000,
  );
  expect(await renewTime("node-2")).toBe(frozen);
  expect(await renewTime("node-1")).toBeGreaterThan(frozen);

  await lab.restoreLink("node-2");
  expect(await reachable("client", "192.0.2.12")).toBe(true);
  await waitFor(
    "node-2's heartbeats again",
    async () => ((await renewTime("node-2")) > frozen ? true : undefined),
    10_000,
  );
});

test("a process spawned in a node sees the node's network and its environment, and stops on SIGTERM or SIGKILL", async () => {
  const p = lab.spawn("node-1", {
    name: "greeter",
    command: "sh",
    args: ["-c", 'echo "$GREETING from $(cat /sys/class/net/eth0/address)"; exec sleep 300'],
    env: { GREETING: "hello" },
  });
  const mac = (await lab.exec("node-1", ["cat", "/sys/class/net/eth0/address"])).trim();
  await waitFor(
    "the greeting",
    async () => (p.output().includes(`hello from ${mac}`) ? true : undefined),
    5000,
    20,
  );
  expect(p.running()).toBe(true);
  expect(await p.stop()).toEqual({ code: null, signal: "SIGTERM" });
  expect(p.running()).toBe(false);

  const q = lab.spawn("client", {
    command: "sh",
    args: ["-c", "trap '' TERM; echo deaf to TERM; exec sleep 300"],
  });
  await waitForOutput(q, "deaf to TERM", 5000);
  expect(await q.kill()).toEqual({ code: null, signal: "SIGKILL" });
});

test("kube-proxy of a node can be restarted and programs Services again", async () => {
  const old = lab.node("node-1").kubeProxy;
  await old.stop();
  // Without its rules, only a kube-proxy that really syncs brings the Service back.
  await lab.exec("node-1", ["iptables", "-w", "-t", "nat", "-F", "KUBE-SERVICES"]);
  const fresh = await lab.restartKubeProxy("node-1");
  expect(old.running()).toBe(false);
  expect(fresh.running()).toBe(true);
  expect(lab.node("node-1").kubeProxy).toBe(fresh);
  const rules = await lab.exec("node-1", ["iptables", "-w", "-t", "nat", "-S", "KUBE-SERVICES"]);
  expect(rules).toContain("default/kubernetes");
});

test("RBAC is on: a new identity is known but may do nothing until it is bound to a role, from root or from a node", async () => {
  const alice = await lab.kubeconfigFor({ user: "alice", groups: ["lab-testers"] });
  const kc = new KubeConfig();
  kc.loadFromFile(alice.root);
  const asAlice = kc.makeApiClient(CoreV1Api);
  await expect(asAlice.listNamespace()).rejects.toMatchObject({ code: 403 });
  const fromNode = await lab.tryExec("node-1", [
    lab.kubectl,
    `--kubeconfig=${alice.inner}`,
    "get",
    "namespaces",
  ]);
  expect(fromNode.stderr).toContain('User "alice" cannot list resource "namespaces"');

  await lab.kc.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
    body: {
      metadata: { name: "lab-testers-view" },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "system:aggregate-to-view",
      },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "lab-testers" }],
    },
  });
  const names = await waitFor(
    "alice's new permission",
    async () =>
      (await asAlice.listNamespacedService({ namespace: "default" })).items.map((x) => x.metadata?.name),
    10_000,
  );
  expect(names).toContain("kubernetes");
  const viaNode = await lab.exec("node-1", [
    lab.kubectl,
    `--kubeconfig=${alice.inner}`,
    "get",
    "services",
    "-o",
    "name",
  ]);
  expect(viaNode).toContain("service/kubernetes");
});

test("a Pod marked not Ready moves to the Service's not-ready addresses, and back", async () => {
  const core = lab.kc.makeApiClient(CoreV1Api);
  const pod = await lab.createPod({ name: "flappy", node: "node-2", labels: { app: "flappy" } });
  await core.createNamespacedService({
    namespace: "default",
    body: {
      metadata: { name: "flappy" },
      spec: { selector: { app: "flappy" }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  });
  const addresses = async () => {
    const ep = await core.readNamespacedEndpoints({ name: "flappy", namespace: "default" });
    const subset = ep.subsets?.[0];
    return {
      ready: (subset?.addresses ?? []).map((a) => a.ip),
      notReady: (subset?.notReadyAddresses ?? []).map((a) => a.ip),
    };
  };
  const want = (ready: string[], notReady: string[]) => async () => {
    const a = await addresses();
    return JSON.stringify(a) === JSON.stringify({ ready, notReady }) ? a : undefined;
  };
  await waitFor("the pod as a ready address", want([pod.ip], []), 15_000);
  await lab.setPodReady("flappy", false);
  await waitFor("the pod as a not-ready address", want([], [pod.ip]), 15_000);
  await lab.setPodReady("flappy", true);
  await waitFor("the pod ready again", want([pod.ip], []), 15_000);
});

test("a deleted Pod's address goes to the next Pod on its node at once, though the kernel has not torn its namespace down yet", async () => {
  const first = await lab.createPod({ name: "reuse-a", node: "node-1", labels: { app: "reuse" } });
  // Something still inside the namespace keeps it, and its veth, alive after `ip netns delete`,
  // as the kernel's deferred teardown does on a loaded machine.
  const holder = spawn("ip", ["netns", "exec", first.netns, "sleep", "60"], { stdio: "ignore" });
  try {
    await lab.deletePod("reuse-a");
    const next = await lab.createPod({ name: "reuse-b", node: "node-1", labels: { app: "reuse" } });
    expect(next.ip).toBe(first.ip);
    await lab.deletePod("reuse-b");
  } finally {
    holder.kill("SIGKILL");
  }
});

test("a crashed run's lab is removed by the next start; stop() leaves nothing behind", async () => {
  const crashed = await startLab({ nodes: 1 });
  // Two labs side by side: each answers on its own forwarder.
  expect((await crashed.get("/readyz")).status).toBe(200);
  expect((await lab.get("/readyz")).status).toBe(200);
  const crashedPids = [crashed.apiServer?.pid ?? 0, crashed.node("node-1").kubeProxy.pid];
  // What a crash leaves: the state file names an owner that no longer runs.
  const deadPid = spawnSync("true").pid;
  const statePath = join(crashed.dir, "state.json");
  writeFileSync(
    statePath,
    JSON.stringify({ ...JSON.parse(readFileSync(statePath, "utf8")), ownerPid: deadPid }),
  );

  const next = await startLab({ nodes: 1 });
  const namespaces = await listNetns();
  expect(namespaces.filter((n) => n.startsWith(`${crashed.prefix}-`))).toEqual([]);
  expect(existsSync(crashed.dir)).toBe(false);
  for (const pid of crashedPids) expect(existsSync(`/proc/${pid}`)).toBe(false);
  // The live labs are untouched.
  expect(namespaces.filter((n) => n.startsWith(`${lab.prefix}-`)).length).toBeGreaterThan(0);
  expect((await lab.get("/readyz")).status).toBe(200);

  const nextPids = [next.apiServer?.pid ?? 0, next.controlPlane.etcd.pid, next.node("node-1").agent.pid];
  await next.stop();
  expect((await listNetns()).filter((n) => n.startsWith(`${next.prefix}-`))).toEqual([]);
  expect(existsSync(next.dir)).toBe(false);
  for (const pid of nextPids) expect(existsSync(`/proc/${pid}`)).toBe(false);
}, 120_000);

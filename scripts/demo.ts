// Herald's main job, on one machine: a lab cluster (real API server,
// kube-proxy on three nodes, a client on the LAN) with Herald running in it
// (the controller, a speaker per node), an IPAddressPool, two echo Pods behind
// a LoadBalancer Service, the EXTERNAL-IP that `kubectl get svc` shows, the
// node that announces it, and a page fetched through it from the client. The
// lab stays up afterwards; scripts/down removes it. Run through scripts/up.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
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
} from "../test/controller/lab-controller.js";
import { Lab } from "../test/lab/lab.js";
import {
  announcedNode,
  httpFromClient,
  startSpeaker,
  writeHeartbeatKey,
} from "../test/speaker/lab-speaker.js";

const POOL = { addresses: ["192.0.2.200-192.0.2.220", "2001:db8::200/124"] };

async function main(): Promise<void> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const lab = await Lab.start({
    nodes: 3,
    persistent: true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  say(`lab ${lab.prefix} up in ${lab.startedInMs} ms`);
  const api = apiOf(lab);
  await installCrds(lab);
  const ctl = startController(lab, "herald-controller", 7472);
  await eventually("the controller to lead", () => leading(ctl), 60_000);
  // The speaker DaemonSet's part: one speaker per node, in the node's network namespace.
  const keyFile = writeHeartbeatKey(lab);
  for (const node of lab.nodes) startSpeaker(lab, node.name, keyFile);

  const manifest = join(lab.dir, "demo.yaml");
  writeFileSync(
    manifest,
    [
      { apiVersion: "herald.dev/v1alpha1", kind: "IPAddressPool", metadata: { name: "lan" }, spec: POOL },
      { apiVersion: "herald.dev/v1alpha1", kind: "L2Advertisement", metadata: { name: "lan" }, spec: {} },
    ]
      .map((o) => stringify(o))
      .join("---\n"),
  );
  say(`\n$ kubectl apply -f ${manifest}`);
  say((await lab.kubectlRun(["apply", "-f", manifest])).trimEnd());
  await applyPool(api, "lan", POOL);

  for (const [name, node] of [
    ["web-1", "node-1"],
    ["web-2", "node-2"],
  ] as const) {
    await lab.createPod({ name, node, labels: { app: "web" } });
  }
  await createService(api, "default", lbService("web", { selector: { app: "web" } }));
  const [vip] = await eventually("an EXTERNAL-IP", async () => {
    const got = await ingress(api, "default", "web");
    return got.length > 0 ? got : undefined;
  });
  say("\n$ kubectl get svc web");
  say((await lab.kubectlRun(["get", "svc", "web"])).trimEnd());
  await eventually("a node to announce it", () => announcedNode(lab, "default", "web"), 60_000);
  say("\n$ kubectl get sann -A");
  say((await lab.kubectlRun(["--cache-dir", join(lab.dir, "kubectl-cache"), "get", "sann", "-A"])).trimEnd());
  say(`\n$ curl http://${vip}/          # from the client on the LAN`);
  const page = await eventually(
    "a page through the address",
    () => httpFromClient(lab, `http://${vip}/`),
    60_000,
  );
  say(JSON.stringify(page));
  say("\n$ kubectl get ipp");
  say((await lab.kubectlRun(["--cache-dir", join(lab.dir, "kubectl-cache"), "get", "ipp"])).trimEnd());

  say(
    [
      "",
      `Herald gave the Service ${vip}; a node answers ARP for it and Pod ${page.pod} served the page. Try it:`,
      `  export KUBECONFIG=${lab.kubeconfig}`,
      `  ${lab.kubectl} get svc,ipp -A`,
      `  ${lab.kubectl} describe svc web          # the IPAllocated event`,
      `  ip netns exec ${lab.labNetns} curl -s http://127.0.0.1:7472/audit?address=${vip}`,
      `  ip netns exec ${lab.client.netns} curl -s http://${vip}/   # from the LAN client`,
      `  ip netns exec ${lab.client.netns} arping -c 3 ${vip}`,
      `logs: ${lab.dir}/logs/    repository: ${REPO}`,
      "remove everything with: scripts/down",
    ].join("\n"),
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`demo: ${(e as Error).stack ?? String(e)}\n`);
    process.stderr.write("remove what was started with: scripts/down\n");
    process.exit(1);
  },
);

// The chart's Pods, run from Herald's image in the lab: the chart is installed with the real helm
// (`helm install` against the lab's API server, so its CRDs, ServiceAccounts, RBAC and the
// heartbeat Secret are there as a user gets them, and the components run with the chart's own
// rights), and what a kubelet does for the speaker's DaemonSet and the controller's Deployment is
// done with podman: the Pod templates of the manifest helm installed (`helm get manifest`) are
// translated by pod-spec.ts, which refuses what it cannot honour. The lab has no scheduler, so the
// Pods the API server's controllers create for them stay Pending and never run twice.
//
//   const chart = await installChart(lab, { image: "localhost/herald:dev" });
//   const speaker = await chart.startSpeaker("node-1");       // in node-1's namespace
//   const controllers = await chart.startControllers();        // in pod namespaces
//   await speaker.stop(chart.speakerGraceMs);                   // podman stop -t <grace>
//
// Containers are named `<lab prefix>-...`, so the lab's cleanup (podman.ts) finds what a crashed
// run left.
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { CHART } from "../helm/helm-tool.js";
import { labHelm } from "../helm/lab-helm.js";
import { find, type K8sObject, NAMESPACE, parseStream, RELEASE } from "../helm/render.js";
import { LabError } from "./errors.js";
import { tryExec, waitFor } from "./exec.js";
import type { Lab, LabNode, PodNetwork } from "./lab.js";
import { KUBERNETES_SERVICE_IP } from "./plan.js";
import { containerPlan, type HttpProbe, nodeSelected, type PodPlacement } from "./pod-spec.js";
import { ContainerProcess, podman, podmanArgs, removeContainers } from "./podman.js";

export { builtImage } from "./podman.js";

import type { LabProcess } from "./process.js";

/** One running Pod of the chart. */
export interface ChartPod {
  readonly podName: string;
  readonly node: string;
  /** The namespace it runs in: the node's (hostNetwork) or its own pod namespace. */
  readonly netns: string;
  readonly ip: string;
  readonly process: LabProcess;
  /** The podman command line it was started with (after `podman run`). */
  readonly runArgs: readonly string[];
  /** Liveness probes that failed so far (a kubelet would restart the container after a few). */
  livenessFailures(): number;
}

export interface ChartOptions {
  /** The image to run, as scripts/image.sh printed it (`localhost/herald:dev`). */
  image: string;
  /** More chart values (YAML), on top of what fits the lab. */
  values?: string;
}

/** Chart values that fit the lab: its image, and the harness reading /debug/state over loopback. */
export function labValues(image: string): string {
  const colon = image.lastIndexOf(":");
  return [
    `image: {repository: "${image.slice(0, colon)}", tag: "${image.slice(colon + 1)}", pullPolicy: Never}`,
    // The harness reads /debug/state over each Pod's loopback, without a token.
    "httpAuth: none",
    "",
  ].join("\n");
}

export class ChartInstall {
  readonly objects: K8sObject[];
  readonly speakerTemplate: K8sObject;
  readonly controllerTemplate: K8sObject;
  readonly controllerReplicas: number;
  /** terminationGracePeriodSeconds of the speaker, in ms: what `podman stop` waits. */
  readonly speakerGraceMs: number;
  private readonly pods: ChartPod[] = [];
  private readonly networks: PodNetwork[] = [];
  private imageUser: number | undefined;
  private count = 0;

  constructor(
    private readonly lab: Lab,
    readonly image: string,
    objects: K8sObject[],
  ) {
    this.objects = objects;
    const ds = find(objects, "DaemonSet", "herald-speaker");
    const deploy = find(objects, "Deployment", "herald-controller");
    this.speakerTemplate = ds.spec.template;
    this.controllerTemplate = deploy.spec.template;
    this.controllerReplicas = deploy.spec.replicas ?? 1;
    this.speakerGraceMs = 1000 * (this.speakerTemplate.spec.terminationGracePeriodSeconds ?? 30);
  }

  /** Nodes the speaker's DaemonSet selects. */
  speakerNodes(): LabNode[] {
    return this.lab.nodes.filter((n) =>
      nodeSelected(this.speakerTemplate, { "kubernetes.io/os": "linux", "kubernetes.io/hostname": n.name }),
    );
  }

  /** Runs the speaker Pod on `node` (removing an exited one of the same name first). */
  async startSpeaker(node: string): Promise<ChartPod> {
    const n = this.lab.node(node);
    if (!this.speakerNodes().includes(n))
      throw new LabError("LAB_BAD_ARGUMENT", `the DaemonSet does not select ${node}`);
    if (this.speakerTemplate.spec.hostNetwork !== true) {
      throw new LabError("LAB_POD_SPEC_UNSUPPORTED", "the speaker must run with hostNetwork");
    }
    return this.run(`speaker-${node}`, this.speakerTemplate, `herald-speaker-${node}`, n, {
      netns: n.netns,
      ip: n.v4,
    });
  }

  /** Runs the Deployment's replicas, spread over the nodes (its preferred anti-affinity). */
  async startControllers(): Promise<ChartPod[]> {
    const started: ChartPod[] = [];
    for (let i = 0; i < this.controllerReplicas; i++) {
      const node = this.lab.nodes[i % this.lab.nodes.length] as LabNode;
      const name = `herald-controller-${i}`;
      if (this.controllerTemplate.spec.hostNetwork === true) {
        started.push(
          await this.run(name, this.controllerTemplate, name, node, { netns: node.netns, ip: node.v4 }),
        );
        continue;
      }
      const net = await this.lab.podNetwork(node.name);
      this.networks.push(net);
      started.push(await this.run(name, this.controllerTemplate, name, node, net));
    }
    return started;
  }

  /** Stops every container (podman stop with its grace period) and frees the pod namespaces. */
  async stop(): Promise<void> {
    await Promise.all(this.pods.map((p) => p.process.kill()));
    await removeContainers(this.lab.prefix);
    for (const net of this.networks.splice(0)) await net.remove();
  }

  private async run(
    role: string,
    template: K8sObject,
    podName: string,
    node: LabNode,
    net: { netns: string; ip: string },
  ): Promise<ChartPod> {
    const containerName = `${this.lab.prefix}-${role}`;
    await tryExec("podman", podmanArgs(["rm", "--force", "--time", "0", containerName]));
    this.count += 1;
    const podDir = join(this.lab.dir, "pods", `${podName}-${this.count}`);
    mkdirSync(podDir, { recursive: true });
    const spec = template.spec;
    const fsGroup: number | undefined = spec.securityContext?.fsGroup;
    const volumeDirs = await this.prepareVolumes(spec, podDir, node, fsGroup);
    const serviceAccountDir =
      spec.automountServiceAccountToken === false
        ? undefined
        : await this.serviceAccountFiles(spec.serviceAccountName ?? "default", podDir, fsGroup);
    const placement: PodPlacement = {
      containerName,
      podName,
      namespace: NAMESPACE,
      nodeName: node.name,
      podIP: net.ip,
      hostIP: node.v4,
      netnsPath: `/run/netns/${net.netns}`,
      image: this.image,
      volumeDirs,
      serviceAccountDir,
      kubernetesService: { host: KUBERNETES_SERVICE_IP, port: 443 },
      logPath: join(this.lab.dir, "logs", `${containerName}-${this.count}.log`),
    };
    const plan = containerPlan(template, placement, await this.defaultUser());
    await podman(["run", ...plan.args]);
    const pid = Number((await podman(["inspect", "--format", "{{.State.Pid}}", containerName])).trim());
    const process = new ContainerProcess(containerName, pid, placement.logPath);
    let failures = 0;
    const pod: ChartPod = {
      podName,
      node: node.name,
      netns: net.netns,
      ip: net.ip,
      process,
      runArgs: plan.args,
      livenessFailures: () => failures,
    };
    this.pods.push(pod);
    if (plan.readiness) await this.waitReady(pod, plan.readiness);
    if (plan.liveness) this.watchLiveness(pod, plan.liveness, () => failures++);
    return pod;
  }

  /** The kubelet probes from the node, at the Pod's address. */
  private probeOnce(pod: ChartPod, probe: HttpProbe): Promise<boolean> {
    const url = `http://${pod.ip}:${probe.port}${probe.path}`;
    return tryExec("ip", [
      "netns",
      "exec",
      this.lab.node(pod.node).netns,
      "curl",
      "-sf",
      "--max-time",
      "1",
      url,
    ]).then((r) => r.code === 0);
  }

  private async waitReady(pod: ChartPod, probe: HttpProbe): Promise<void> {
    await waitFor(
      `${pod.podName} ready (readinessProbe ${probe.path})`,
      async () => {
        if (!pod.process.running()) {
          throw new LabError(
            "LAB_PROCESS_FAILED",
            `${pod.podName} exited; log: ${pod.process.logPath}\n${pod.process.output().slice(-2000)}`,
          );
        }
        return (await this.probeOnce(pod, probe)) ? true : undefined;
      },
      60_000,
      200,
    );
  }

  private watchLiveness(pod: ChartPod, probe: HttpProbe, failed: () => void): void {
    const timer = setInterval(() => {
      if (!pod.process.running()) return clearInterval(timer);
      void this.probeOnce(pod, probe).then((ok) => {
        if (!ok && pod.process.running()) failed();
      });
    }, probe.periodSeconds * 1000);
    timer.unref();
  }

  /** The image's USER, which a kubelet runs as when the Pod names none. */
  private async defaultUser(): Promise<number> {
    if (this.imageUser === undefined) {
      const user = (await podman(["image", "inspect", "--format", "{{.Config.User}}", this.image])).trim();
      if (!/^\d+$/.test(user))
        throw new LabError("LAB_POD_SPEC_UNSUPPORTED", `image user ${user} is not numeric`);
      this.imageUser = Number(user);
    }
    return this.imageUser;
  }

  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML
  private async prepareVolumes(spec: any, podDir: string, node: LabNode, fsGroup: number | undefined) {
    const dirs = new Map<string, string>();
    const core = this.lab.kc.makeApiClient(CoreV1Api);
    for (const v of spec.volumes ?? []) {
      const dir = join(podDir, "volumes", v.name);
      if (v.secret) {
        refuseUnknown(v.secret, ["secretName", "items", "defaultMode"], `secret volume ${v.name}`);
        const secret = await core.readNamespacedSecret({
          name: v.secret.secretName,
          namespace: NAMESPACE,
        });
        const data = secret.data ?? {};
        const items: { key: string; path: string; mode?: number }[] =
          v.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
        mkdirSync(dir, { recursive: true, mode: 0o755 });
        for (const item of items) {
          const value = data[item.key];
          if (value === undefined)
            throw new LabError(
              "LAB_POD_SPEC_UNSUPPORTED",
              `Secret ${v.secret.secretName} has no key ${item.key}`,
            );
          const file = join(dir, item.path);
          writeFileSync(file, Buffer.from(value, "base64"));
          chmodSync(file, item.mode ?? v.secret.defaultMode ?? 0o644);
          if (fsGroup !== undefined) chownSync(file, 0, fsGroup);
        }
      } else if (v.hostPath) {
        refuseUnknown(v.hostPath, ["path", "type"], `hostPath volume ${v.name}`);
        // Each lab node has its own filesystem for hostPath volumes, under the run directory.
        const onNode = join(this.nodeRoot(node.name), v.hostPath.path);
        const type = v.hostPath.type ?? "";
        if (type === "DirectoryOrCreate") mkdirSync(onNode, { recursive: true, mode: 0o755 });
        else if (type !== "Directory")
          throw new LabError("LAB_POD_SPEC_UNSUPPORTED", `hostPath type ${type || "(none)"}`);
        dirs.set(v.name, onNode);
        continue;
      } else if (v.emptyDir) {
        // sizeLimit is enforced by a kubelet's eviction, which the lab does not do; memory media are refused.
        refuseUnknown(v.emptyDir, ["sizeLimit"], `emptyDir volume ${v.name}`);
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, 0o777);
        if (fsGroup !== undefined) {
          chownSync(dir, 0, fsGroup);
          chmodSync(dir, 0o2777);
        }
      }
      dirs.set(v.name, dir);
    }
    return dirs;
  }

  /** Where a node's hostPath volumes live. */
  nodeRoot(node: string): string {
    return join(this.lab.dir, "node-fs", node);
  }

  /** The ServiceAccount's token Secret (Kubernetes 1.20's token controller makes it), as the kubelet mounts it. */
  private async serviceAccountFiles(
    account: string,
    podDir: string,
    fsGroup: number | undefined,
  ): Promise<string> {
    const core = this.lab.kc.makeApiClient(CoreV1Api);
    const data = await waitFor(
      `token of ServiceAccount ${NAMESPACE}/${account}`,
      async () => {
        const sa = await core.readNamespacedServiceAccount({ name: account, namespace: NAMESPACE });
        const name = sa.secrets?.[0]?.name;
        if (!name) return undefined;
        const secret = await core.readNamespacedSecret({ name, namespace: NAMESPACE });
        return secret.data?.token ? secret.data : undefined;
      },
      30_000,
      200,
    );
    const dir = join(podDir, "serviceaccount");
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const key of ["token", "ca.crt", "namespace"]) {
      const file = join(dir, key);
      writeFileSync(file, Buffer.from(data[key] ?? "", "base64"));
      chmodSync(file, 0o644);
      if (fsGroup !== undefined) chownSync(file, 0, fsGroup);
    }
    return dir;
  }
}

function refuseUnknown(o: Record<string, unknown>, known: string[], what: string): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new LabError("LAB_POD_SPEC_UNSUPPORTED", `${what}: ${k} is not supported`);
  }
}

/**
 * Renders the chart with values that fit the lab, applies everything but the two workloads to the
 * lab's API server (CRDs first), and returns the install from which the Pods are started.
 */
export async function installChart(lab: Lab, options: ChartOptions): Promise<ChartInstall> {
  const values = join(lab.dir, "chart-values.yaml");
  writeFileSync(values, `${labValues(options.image)}${options.values ?? ""}`);
  await labHelm(lab, [
    "install",
    RELEASE,
    CHART,
    "--namespace",
    NAMESPACE,
    "--create-namespace",
    "-f",
    values,
  ]);
  const manifest = await labHelm(lab, ["get", "manifest", RELEASE, "--namespace", NAMESPACE]);
  return new ChartInstall(lab, options.image, parseStream(manifest));
}

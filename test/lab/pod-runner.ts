// The kubelet's part for Pods: a pod namespace on the chosen node with routes to it
// from every other node (the CNI's part), the echo server running in it, and the
// Pod's status written through the status subresource.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { LabError } from "./errors.js";
import { settleAll, tryExec, waitFor } from "./exec.js";
import { addPodNetwork, routePod, unroutePod } from "./network.js";
import { type NetnsNames, nextPodAddress, podAddress, podAddressV6 } from "./plan.js";
import { podManifest, runningStatus } from "./pods.js";
import { type LabProcess, waitForOutput } from "./process.js";

/** A Pod made by the lab: a real echo server in its own namespace on a node. */
export interface LabPod {
  readonly name: string;
  readonly namespace: string;
  readonly node: string;
  readonly ip: string;
  /** Its IPv6 address in a dual-stack lab. */
  readonly ipv6?: string;
  readonly netns: string;
  readonly httpPort: number;
  readonly udpPort: number;
  /** The echo server; killing it does not change the Pod object (as a crashed container). */
  readonly process: LabProcess;
}

/** A pod namespace made by `network`. */
export interface PodNetwork {
  readonly ip: string;
  readonly netns: string;
  remove(): Promise<void>;
}

export interface CreatePodOptions {
  name: string;
  /** Default "default"; created when missing. */
  namespace?: string;
  /** Node name, such as "node-2". */
  node: string;
  labels?: Record<string, string>;
  /** TCP port of the HTTP echo (default 8080). */
  httpPort?: number;
  /** UDP port of the datagram echo (default 8080). */
  udpPort?: number;
  /** Mark the Pod Ready (default true); false leaves it Running but not Ready. */
  ready?: boolean;
}

/** What the runner needs to know of a node. */
export interface PodHost {
  name: string;
  netns: string;
  v4: string;
  v6: string;
}

export interface PodRunnerDeps {
  kc: KubeConfig;
  names: NetnsNames;
  /** Every node, current at the time of the call. */
  nodes: () => readonly PodHost[];
  /** Throws LAB_UNKNOWN_NODE for a name that is not a node. */
  node: (name: string) => PodHost;
  /** Starts the echo server in the pod's namespace. */
  spawn: (netns: string, name: string, command: string, args: string[]) => LabProcess;
  /** Path of the echo server program, run with node. */
  echoServer: string;
  /** Pods get an IPv6 address too (status.podIPs both, routes for both). */
  dualStack?: boolean;
}

/** The node's end of pod address n's veth. */
const podLink = (n: number) => `pod${n}`;

export class PodRunner {
  private readonly pods = new Map<string, LabPod>();
  private readonly usedAddresses = new Set<number>();

  constructor(private readonly deps: PodRunnerDeps) {}

  async create(o: CreatePodOptions): Promise<LabPod> {
    const node = this.deps.node(o.node);
    const namespace = o.namespace ?? "default";
    const key = `${namespace}/${o.name}`;
    if (this.pods.has(key)) throw new LabError("LAB_BAD_ARGUMENT", `pod ${key} exists already`);
    const httpPort = o.httpPort ?? 8080;
    const udpPort = o.udpPort ?? 8080;
    const n = nextPodAddress(this.usedAddresses);
    this.usedAddresses.add(n);
    const ip = podAddress(n);
    const ipv6 = this.deps.dualStack ? podAddressV6(n) : undefined;
    const netns = this.deps.names.pod(n);
    const core = this.deps.kc.makeApiClient(CoreV1Api);
    let createdObject = false;
    try {
      await this.ensureNamespace(namespace);
      await addPodNetwork({ nodeNetns: node.netns, podNetns: netns, nodePort: podLink(n), ip, ipv6 });
      const others = [
        ...this.deps
          .nodes()
          .filter((x) => x.name !== node.name)
          .map((x) => x.netns),
        this.deps.names.lab,
      ];
      await settleAll([
        ...others.map((x) => routePod(x, ip, node.v4)),
        ...(ipv6 ? others.map((x) => routePod(x, ipv6, node.v6)) : []),
      ]);
      const server = this.deps.spawn(netns, `pod-${namespace}-${o.name}`, process.execPath, [
        this.deps.echoServer,
        `--pod=${o.name}`,
        `--namespace=${namespace}`,
        `--node=${node.name}`,
        `--http-port=${httpPort}`,
        `--udp-port=${udpPort}`,
      ]);
      const pod: LabPod = {
        name: o.name,
        namespace,
        node: node.name,
        ip,
        ...(ipv6 ? { ipv6 } : {}),
        netns,
        httpPort,
        udpPort,
        process: server,
      };
      this.pods.set(key, pod);
      const manifest = podManifest({
        name: o.name,
        namespace,
        node: node.name,
        labels: o.labels ?? {},
        httpPort,
        udpPort,
      });
      const [created] = await settleAll([
        core.createNamespacedPod({ namespace, body: manifest }).then((p) => {
          createdObject = true;
          return p;
        }),
        waitForOutput(server, "echo-server ready", 10_000),
      ]);
      const now = new Date();
      await core.replaceNamespacedPodStatus({
        name: o.name,
        namespace,
        body: {
          ...created,
          status: runningStatus({
            podIp: ip,
            podIpV6: ipv6,
            hostIp: node.v4,
            ready: o.ready ?? true,
            startedAt: now,
            now,
          }),
        },
      });
      return pod;
    } catch (e) {
      if (createdObject) {
        await core
          .deleteNamespacedPod({ name: o.name, namespace, gracePeriodSeconds: 0 })
          .catch(() => undefined);
      }
      await this.remove(namespace, o.name, n, node.netns);
      throw e;
    }
  }

  /**
   * A pod namespace on the node with an address and the routes to it, and nothing running in it:
   * for a Pod whose program the caller runs itself (a container). `remove` frees it again.
   */
  async network(nodeName: string): Promise<PodNetwork> {
    const node = this.deps.node(nodeName);
    const n = nextPodAddress(this.usedAddresses);
    this.usedAddresses.add(n);
    const ip = podAddress(n);
    const netns = this.deps.names.pod(n);
    const remove = () => this.release(n, node.netns);
    try {
      await addPodNetwork({ nodeNetns: node.netns, podNetns: netns, nodePort: podLink(n), ip });
      await settleAll([
        ...this.deps
          .nodes()
          .filter((x) => x.name !== node.name)
          .map((x) => routePod(x.netns, ip, node.v4)),
        routePod(this.deps.names.lab, ip, node.v4),
      ]);
    } catch (e) {
      await remove();
      throw e;
    }
    return { ip, netns, remove };
  }

  async setReady(name: string, namespace: string, ready: boolean): Promise<void> {
    const pod = this.get(name, namespace);
    const core = this.deps.kc.makeApiClient(CoreV1Api);
    // Read-modify-write; a conflict with another writer is retried.
    await waitFor(
      `pod ${namespace}/${name} status update`,
      async () => {
        const current: V1Pod = await core.readNamespacedPod({ name, namespace });
        const status = runningStatus({
          podIp: pod.ip,
          podIpV6: pod.ipv6,
          hostIp: this.deps.node(pod.node).v4,
          ready,
          startedAt: current.status?.startTime ?? new Date(),
          now: new Date(),
        });
        await core.replaceNamespacedPodStatus({ name, namespace, body: { ...current, status } });
        return true;
      },
      10_000,
      50,
    );
  }

  get(name: string, namespace: string): LabPod {
    const p = this.pods.get(`${namespace}/${name}`);
    if (!p) throw new LabError("LAB_UNKNOWN_POD", `no lab pod ${namespace}/${name}`);
    return p;
  }

  async delete(name: string, namespace: string): Promise<void> {
    const pod = this.get(name, namespace);
    const core = this.deps.kc.makeApiClient(CoreV1Api);
    // Grace period 0: without a kubelet to confirm, a graceful delete would never finish.
    await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
    await this.remove(namespace, name, Number(pod.ip.split(".")[3]), this.deps.node(pod.node).netns);
  }

  private async remove(namespace: string, name: string, n: number, nodeNetns: string): Promise<void> {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (pod) await pod.process.kill();
    this.pods.delete(`${namespace}/${name}`);
    await this.release(n, nodeNetns);
  }

  /** Pod address n's routes, veth and namespace go, and the address is free again. */
  private async release(n: number, nodeNetns: string): Promise<void> {
    const ips = this.deps.dualStack ? [podAddress(n), podAddressV6(n)] : [podAddress(n)];
    await settleAll(
      [...this.deps.nodes().map((x) => x.netns), this.deps.names.lab].flatMap((netns) =>
        ips.map((ip) => unroutePod(netns, ip)),
      ),
    );
    // The kernel tears a deleted namespace down later, veth and all: the node's end goes now, so
    // that the next Pod given this address can make its own at once.
    await tryExec("ip", ["-n", nodeNetns, "link", "del", podLink(n)]);
    await tryExec("ip", ["netns", "delete", this.deps.names.pod(n)]);
    this.usedAddresses.delete(n);
  }

  private async ensureNamespace(namespace: string): Promise<void> {
    const core = this.deps.kc.makeApiClient(CoreV1Api);
    try {
      await core.createNamespace({ body: { metadata: { name: namespace } } });
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e;
    }
    // Pod admission needs the namespace's default ServiceAccount, which the controller manager makes.
    await waitFor(
      `ServiceAccount ${namespace}/default`,
      async () =>
        (await core.readNamespacedServiceAccount({ name: "default", namespace })) ? true : undefined,
      30_000,
      100,
    );
  }
}

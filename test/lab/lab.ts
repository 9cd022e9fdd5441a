// The lab: a real Kubernetes 1.20 control plane, real kube-proxy on every node and a
// LAN, all in network namespaces of one machine. Herald's tests run against it.
//
//   const lab = await Lab.start({ nodes: 3 });
//   const core = lab.kc.makeApiClient(CoreV1Api);        // test process, root namespace
//   await lab.createPod({ name: "web-1", node: "node-1", labels: { app: "web" } });
//   await lab.exec("client", ["curl", "-s", "http://192.0.2.11:30080/"]);
//   await lab.stop();
//
// What `start` builds, with a fresh prefix per run (`hlab` + 6 hex digits, in every
// namespace name, so a crashed run is found and removed by the next start or by
// `npm run lab:down`):
//   <prefix>-lab      bridge br0 (192.0.2.1/24, 2001:db8::1/64), etcd, kube-apiserver on
//                     192.0.2.1:6443 (client certificates, RBAC), kube-controller-manager
//                     (all controllers but nodeipam and nodelifecycle), and a socat that
//                     serves the API on a unix socket in the run directory
//   <prefix>-node-N   eth0 192.0.2.(10+N) and 2001:db8::(10+N), kube-proxy (iptables mode),
//                     a heartbeat agent for Node `node-N` (Ready condition and Lease)
//   <prefix>-pod-K    one per Pod made with createPod: 198.51.100.K/32, an echo server
//   <prefix>-client   eth0 192.0.2.100 and 2001:db8::100
// In the root namespace there is only a socat that forwards 127.0.0.1:<free port> to the
// unix socket: that is how the test process (and whatever it spawns in the root
// namespace) reaches the API server, via `lab.kubeconfig`. Two labs can run side by side.
//
// The kubelet's part is played by the harness: it registers Nodes, keeps them Ready, runs
// each Pod's program in a pod namespace and writes the Pod's status. The controller
// manager then maintains Endpoints and EndpointSlices, and kube-proxy programs the nodes.
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoordinationV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { httpsGet, startApiForwarder } from "./api-access.js";
import { defaultStateRoot, type LabState, removeLab, removeLabs } from "./cleanup.js";
import {
  apiServerArgs,
  type ControlPlaneFiles,
  controllerManagerArgs,
  etcdArgs,
  kubeProxyConfig,
} from "./control-plane.js";
import { LabError } from "./errors.js";
import { type ExecOptions, type ExecResult, exec, settleAll, tryExec, waitFor } from "./exec.js";
import { type KubeconfigSpec, renderKubeconfig } from "./kubeconfig.js";
import { addHost, createLan, setLink } from "./network.js";
import { K8S_VERSION, nodeLease, nodeManifest, readyNodeStatus } from "./nodes.js";
import { type ClientIdentity, Pki } from "./pki.js";
import {
  API_PORT,
  CLIENT_V4,
  CLIENT_V6,
  KUBERNETES_SERVICE_IP,
  LAN_V4,
  MAX_NODES,
  netnsNames,
  newPrefix,
  nodeAddresses,
  nodeName,
} from "./plan.js";
import { type CreatePodOptions, type LabPod, type PodNetwork, PodRunner } from "./pod-runner.js";
import { type LabProcess, spawnLabProcess } from "./process.js";

export type { CreatePodOptions, LabPod, PodNetwork } from "./pod-runner.js";
export type { ExitInfo, LabProcess } from "./process.js";

export interface LabOptions {
  /** Number of nodes, `node-1` .. `node-N` (default 3). */
  nodes?: number;
  /** How often each node's agent refreshes its Ready condition and Lease (default 10000 ms). */
  heartbeatMs?: number;
  /** Directory with kube-apiserver, kube-controller-manager, kube-proxy, kubectl (v1.20.2). */
  binDir?: string;
  /** Kept after the creating process exits, until `lab:down` (what `lab:up` makes). */
  persistent?: boolean;
  /** Progress lines while starting and stopping; silent by default. */
  log?: (line: string) => void;
  /** Parent of the run directories (default $HERALD_LAB_DIR or <tmpdir>/herald-lab). */
  stateRoot?: string;
  /**
   * More kube-apiserver flags; a flag given here wins over the lab's own. Benchmarks widen the
   * Service and NodePort ranges with it (e.g. an IPv6 /108 from 2001:db8::/32 for 10,000 Services).
   */
  apiServerFlags?: readonly string[];
  /** Wait for every kube-proxy's first sync before returning (default true; benchmarks that stop kube-proxy skip it). */
  awaitKubeProxy?: boolean;
  /**
   * Dual-stack (default false): the IPv6DualStack gate on every component, an IPv6 Service range
   * (2001:db8:20::/112) and pod range (2001:db8:10::/112) beside the IPv4 ones, Pods with both
   * addresses, kube-proxy programming ip6tables too.
   */
  dualStack?: boolean;
}

/** A node: a network namespace on the LAN with kube-proxy, and its Node object. */
export interface LabNode {
  /** Node object name, `node-N`. */
  readonly name: string;
  readonly index: number;
  readonly netns: string;
  /** Its address on the LAN (192.0.2.(10+N)) and the IPv6 one (2001:db8::(10+N)). */
  readonly v4: string;
  readonly v6: string;
  /** Its LAN interface inside its namespace. */
  readonly interface: "eth0";
  /** Its port on the bridge, in the lab namespace (what cutLink takes down). */
  readonly bridgePort: string;
  /** Its kube-proxy; stop or kill it, or call `restartKubeProxy`. */
  readonly kubeProxy: LabProcess;
  /** Its heartbeat agent (the kubelet's status updates). */
  readonly agent: LabProcess;
}

export interface SpawnOptions {
  /** Names the log file; default the command's base name. */
  name?: string;
  command: string;
  args?: readonly string[];
  /** Added to the test process's environment. */
  env?: Record<string, string>;
}

/** Where a command runs: a node name ("node-1"), "client", or "lab" (the bridge's namespace). */
export type Place = string;

export interface Kubeconfigs {
  /** For the root namespace (through the forwarder on 127.0.0.1). */
  root: string;
  /** For processes inside the lab's namespaces (https://192.0.2.1:6443). */
  inner: string;
}

const BINARIES = ["kube-apiserver", "kube-controller-manager", "kube-proxy", "kubectl"] as const;

export function defaultBinDir(): string {
  if (process.env.HERALD_K8S_BIN) return process.env.HERALD_K8S_BIN;
  const cache = process.env.HERALD_CACHE ?? join(homedir(), ".cache", "herald");
  return join(cache, `k8s-${K8S_VERSION}`);
}

/** The lab programs (echo server, node agent) run by node: compiled .js in dist, .ts in the sources. */
function programPath(name: string): string {
  for (const ext of [".js", ".ts"]) {
    const p = fileURLToPath(new URL(`./${name}${ext}`, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new LabError("LAB_BINARIES_MISSING", `lab program ${name} not found next to ${import.meta.url}`);
}

export class Lab {
  /** Milliseconds from `start` being called to the lab being ready. */
  startedInMs = 0;
  /** Milliseconds per start step (certificates, network, control plane, nodes, kube-proxy sync). */
  readonly timings: Record<string, number> = {};
  readonly nodes: LabNode[] = [];
  /** The test process's client configuration (root namespace). */
  readonly kc = new KubeConfig();
  /** Kubeconfig file for the root namespace: kubectl, the test process, Herald run from it. */
  readonly kubeconfig: string;
  /** Kubeconfig file for processes inside node or client namespaces. */
  readonly innerKubeconfig: string;
  /** The API server as seen from inside the lab: https://192.0.2.1:6443. */
  readonly innerServer = `https://${LAN_V4.gateway}:${API_PORT}`;
  /** The API server as seen from the root namespace: https://127.0.0.1:<port>. */
  rootServer = "";
  readonly client: { readonly netns: string; readonly v4: string; readonly v6: string };
  readonly labNetns: string;
  /** The kubectl binary of the lab (v1.20.2). */
  readonly kubectl: string;
  readonly caCert: string;
  /** Started with `dualStack: true`. */
  readonly dualStack: boolean;

  private readonly names: ReturnType<typeof netnsNames>;
  private readonly log: (line: string) => void;
  private readonly heartbeatMs: number;
  private readonly podRunner: PodRunner;
  private readonly processes = new Set<LabProcess>();
  private pki!: Pki;
  private files!: ControlPlaneFiles;
  private etcd!: LabProcess;
  private apiServerProcess: LabProcess | undefined;
  private controllerManager!: LabProcess;
  private stopped = false;
  private spawnCount = 0;
  private stateFields: Partial<LabState> = {};
  private readonly createdAt = new Date().toISOString();
  /** Root-namespace kubeconfigs, written once the forwarder's port is known. */
  private readonly rootKubeconfigs: { path: string; spec: Omit<KubeconfigSpec, "server"> }[] = [];

  private constructor(
    /** This run's prefix, such as `hlab3f9a0c`. */
    readonly prefix: string,
    /** The run directory: certificates, kubeconfigs, logs, etcd data, state.json. */
    readonly dir: string,
    private readonly binDir: string,
    private readonly options: LabOptions,
  ) {
    this.names = netnsNames(prefix);
    this.labNetns = this.names.lab;
    this.client = { netns: this.names.client, v4: CLIENT_V4, v6: CLIENT_V6 };
    this.kubeconfig = join(dir, "admin.kubeconfig");
    this.innerKubeconfig = join(dir, "admin-inner.kubeconfig");
    this.kubectl = join(binDir, "kubectl");
    this.caCert = join(dir, "pki", "ca.crt");
    this.log = options.log ?? (() => undefined);
    this.heartbeatMs = options.heartbeatMs ?? 10_000;
    this.dualStack = options.dualStack === true;
    this.podRunner = new PodRunner({
      dualStack: this.dualStack,
      kc: this.kc,
      names: this.names,
      nodes: () => this.nodes,
      node: (name) => this.node(name),
      spawn: (netns, name, command, args) => this.spawnIn(netns, name, command, args),
      echoServer: programPath("echo-server"),
    });
  }

  /**
   * Builds and starts a lab, and resolves once it is ready: API server serving, Nodes
   * registered and Ready, kube-proxy synced on every node, `default` ServiceAccount made.
   * Removes crashed labs first. On failure, removes what it made and rethrows (LabError).
   */
  static async start(options: LabOptions = {}): Promise<Lab> {
    const t0 = performance.now();
    const nodes = options.nodes ?? 3;
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) {
      throw new LabError("LAB_BAD_ARGUMENT", `nodes must be 1..${MAX_NODES}, got ${nodes}`);
    }
    if (process.getuid?.() !== 0) {
      throw new LabError("LAB_NOT_ROOT", "the lab needs root (network namespaces, iptables)");
    }
    const binDir = options.binDir ?? defaultBinDir();
    const missing = BINARIES.filter((b) => !existsSync(join(binDir, b)));
    if (missing.length > 0) {
      throw new LabError(
        "LAB_BINARIES_MISSING",
        `${missing.join(", ")} not in ${binDir}; build them with scripts/k8s-binaries.sh`,
      );
    }
    const tools = ["etcd", "socat", "openssl", "ip", "iptables", "curl"];
    for (const tool of options.dualStack ? [...tools, "ip6tables"] : tools) {
      if ((await tryExec("sh", ["-c", `command -v ${tool}`])).code !== 0) {
        throw new LabError(
          "LAB_BINARIES_MISSING",
          `${tool} not found; install it with scripts/deps-debian.sh`,
        );
      }
    }
    const stateRoot = options.stateRoot ?? defaultStateRoot();
    const removed = await removeLabs({ stateRoot });
    if (removed.length > 0) options.log?.(`removed labs left by crashed runs: ${removed.join(", ")}`);

    const prefix = newPrefix();
    const dir = join(stateRoot, prefix);
    // The run directory appears with its state file already in it (made under another
    // name, then renamed), so another lab's cleanup never sees it without an owner.
    // Private: it holds the lab's keys.
    const staging = join(stateRoot, `.${prefix}`);
    mkdirSync(join(staging, "logs"), { recursive: true, mode: 0o700 });
    const lab = new Lab(prefix, dir, binDir, options);
    lab.writeState({ ready: false, rootPids: [] }, staging);
    renameSync(staging, dir);
    try {
      await lab.build(nodes);
    } catch (e) {
      lab.log(`lab ${prefix} failed to start: ${(e as Error).message}`);
      await lab.stop();
      throw e;
    }
    lab.startedInMs = Math.round(performance.now() - t0);
    lab.writeState({ ready: true });
    lab.log(`lab ${prefix} ready in ${lab.startedInMs} ms (${nodes} nodes)`);
    return lab;
  }

  /** Rewrites state.json atomically: cleanup elsewhere may read it at any moment. */
  private writeState(update: Partial<LabState>, dir = this.dir): void {
    this.stateFields = { ...this.stateFields, ...update };
    const state: LabState = {
      prefix: this.prefix,
      dir: this.dir,
      ownerPid: process.pid,
      persistent: this.options.persistent === true,
      createdAt: this.createdAt,
      rootPids: [],
      ready: false,
      ...this.stateFields,
      kubeconfig: this.kubeconfig,
      innerKubeconfig: this.innerKubeconfig,
      kubectl: this.kubectl,
      rootServer: this.rootServer,
      innerServer: this.innerServer,
      labNetns: this.labNetns,
      client: this.client,
      nodes: this.nodes.map((n) => ({ name: n.name, netns: n.netns, v4: n.v4, v6: n.v6 })),
    };
    writeFileSync(join(dir, "state.json.new"), `${JSON.stringify(state, null, 2)}\n`);
    renameSync(join(dir, "state.json.new"), join(dir, "state.json"));
  }

  private async build(nodeCount: number): Promise<void> {
    const step = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const r = await f();
      this.timings[what] = Math.round(performance.now() - t);
      this.log(`  ${what}: ${this.timings[what]} ms`);
      return r;
    };
    const pkiDir = join(this.dir, "pki");
    mkdirSync(pkiDir, { recursive: true });
    // Certificates and the LAN do not depend on each other.
    const [pki] = await settleAll([
      step("certificates", () => this.makePki(pkiDir, nodeCount)),
      step("network", () => this.makeLan(nodeCount)),
    ]);
    this.pki = pki;
    await step("control plane", () => this.startControlPlane());
    await step("nodes", () => this.registerNodes(nodeCount));
    await step("kube-proxy sync", () => this.waitUntilReady());
  }

  private async makePki(dir: string, nodeCount: number): Promise<Pki> {
    const pki = await Pki.create(dir);
    const sa = pki.serviceAccountKeys();
    const [server, , kcm, proxy] = await settleAll([
      pki.server(
        "kube-apiserver",
        [LAN_V4.gateway, "127.0.0.1", KUBERNETES_SERVICE_IP],
        [
          "kubernetes",
          "kubernetes.default",
          "kubernetes.default.svc",
          "kubernetes.default.svc.cluster.local",
        ],
      ),
      this.writeKubeconfigs(pki, "admin", { user: "lab-admin", groups: ["system:masters"] }),
      pki.client("kube-controller-manager", {
        user: "system:kube-controller-manager",
        groups: ["system:masters"],
      }),
      pki.client("kube-proxy", { user: "system:kube-proxy" }),
      ...Array.from({ length: nodeCount }, (_, i) =>
        pki.client(nodeName(i + 1), { user: `system:node:${nodeName(i + 1)}`, groups: ["system:nodes"] }),
      ),
    ]);
    if (!server || !kcm || !proxy) throw new LabError("LAB_COMMAND_FAILED", "certificates missing");
    this.files = {
      etcdDataDir: join(this.dir, "etcd"),
      caCert: pki.caCert,
      caKey: join(dir, "ca.key"),
      apiServerCert: server.cert,
      apiServerKey: server.key,
      serviceAccountKey: sa.privateKey,
      serviceAccountPub: sa.publicKey,
      controllerManagerKubeconfig: join(this.dir, "kube-controller-manager.kubeconfig"),
      flexVolumeDir: join(this.dir, "flexvolume"),
    };
    writeFileSync(
      this.files.controllerManagerKubeconfig,
      renderKubeconfig({
        server: this.innerServer,
        caFile: pki.caCert,
        certFile: kcm.cert,
        keyFile: kcm.key,
        user: "system:kube-controller-manager",
      }),
    );
    writeFileSync(
      join(this.dir, "kube-proxy.kubeconfig"),
      renderKubeconfig({
        server: this.innerServer,
        caFile: pki.caCert,
        certFile: proxy.cert,
        keyFile: proxy.key,
        user: "system:kube-proxy",
      }),
    );
    return pki;
  }

  /** Root and inner kubeconfigs for an identity; the root one names the forwarder's port once known. */
  private async writeKubeconfigs(pki: Pki, fileName: string, who: ClientIdentity): Promise<Kubeconfigs> {
    const cert = await pki.client(fileName, who);
    const paths = {
      root: join(this.dir, `${fileName}.kubeconfig`),
      inner: join(this.dir, `${fileName}-inner.kubeconfig`),
    };
    const spec = { caFile: pki.caCert, certFile: cert.cert, keyFile: cert.key, user: who.user };
    writeFileSync(paths.inner, renderKubeconfig({ ...spec, server: this.innerServer }));
    this.rootKubeconfigs.push({ path: paths.root, spec });
    if (this.rootServer) writeFileSync(paths.root, renderKubeconfig({ ...spec, server: this.rootServer }));
    return paths;
  }

  /**
   * Kubeconfigs for another identity (client certificate), for running a component
   * under its own RBAC rules: `await lab.kubeconfigFor({ user: "system:serviceaccount:herald-system:speaker" })`.
   */
  kubeconfigFor(who: ClientIdentity): Promise<Kubeconfigs> {
    const fileName = who.user.replace(/[^A-Za-z0-9_.-]/g, "_");
    return this.writeKubeconfigs(this.pki, fileName, who);
  }

  private async makeLan(nodeCount: number): Promise<void> {
    await createLan(this.names.lab);
    await settleAll([
      addHost({
        labNetns: this.names.lab,
        netns: this.names.client,
        bridgePort: "client",
        v4: CLIENT_V4,
        v6: CLIENT_V6,
        router: false,
      }),
      ...Array.from({ length: nodeCount }, (_, i) => {
        const index = i + 1;
        const a = nodeAddresses(index);
        return addHost({
          labNetns: this.names.lab,
          netns: this.names.node(index),
          bridgePort: nodeName(index),
          v4: a.v4,
          v6: a.v6,
          router: true,
        });
      }),
    ]);
  }

  private spawnIn(
    netns: string | undefined,
    name: string,
    command: string,
    args: readonly string[],
    env?: Record<string, string>,
  ): LabProcess {
    if (this.stopped) throw new LabError("LAB_STOPPED", "the lab is stopped");
    this.spawnCount += 1;
    const p = spawnLabProcess({
      name,
      netns,
      command,
      args,
      env: env ? { ...process.env, ...env } : process.env,
      logPath: join(this.dir, "logs", `${name}.log`),
    });
    this.processes.add(p);
    void p.exited.then(() => this.processes.delete(p));
    return p;
  }

  private async startControlPlane(): Promise<void> {
    const lab = this.names.lab;
    this.etcd = this.spawnIn(lab, "etcd", "etcd", etcdArgs(this.files));
    this.apiServerProcess = this.spawnIn(lab, "kube-apiserver", join(this.binDir, "kube-apiserver"), [
      ...apiServerArgs(this.files, this.dualStack),
      ...(this.options.apiServerFlags ?? []),
    ]);
    this.controllerManager = this.spawnIn(
      lab,
      "kube-controller-manager",
      join(this.binDir, "kube-controller-manager"),
      controllerManagerArgs(this.files, this.dualStack),
    );
    await this.startForwarder();
    await this.waitForApiServer(60_000);
  }

  private async startForwarder(): Promise<void> {
    const forwarder = await startApiForwarder(
      (netns, name, command, args) => this.spawnIn(netns, name, command, args),
      this.names.lab,
      this.dir,
    );
    this.rootServer = forwarder.server;
    this.writeState({ rootPids: [forwarder.root.pid] });
    for (const k of this.rootKubeconfigs) {
      writeFileSync(k.path, renderKubeconfig({ ...k.spec, server: this.rootServer }));
    }
    this.kc.loadFromFile(this.kubeconfig);
  }

  private async waitForApiServer(timeoutMs: number): Promise<void> {
    const api = this.apiServerProcess;
    await waitFor(
      "kube-apiserver /readyz",
      async () => {
        if (!api?.running()) {
          throw new LabError("LAB_APISERVER_NOT_READY", `kube-apiserver exited; see ${api?.logPath}`);
        }
        return (await this.get("/readyz")).status === 200 ? true : undefined;
      },
      timeoutMs,
      100,
    ).catch((e: Error) => {
      throw new LabError("LAB_APISERVER_NOT_READY", `${e.message}; log: ${api?.logPath}`);
    });
  }

  /** GET on the API server with the admin identity, from the root namespace (any status resolves). */
  get(path: string): Promise<{ status: number; body: string }> {
    const admin = join(this.dir, "pki", "admin");
    return httpsGet(new URL(path, this.rootServer), {
      ca: this.caCert,
      cert: `${admin}.crt`,
      key: `${admin}.key`,
    });
  }

  private async registerNodes(nodeCount: number): Promise<void> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const leases = this.kc.makeApiClient(CoordinationV1Api);
    const proxyConfigDir = join(this.dir, "kube-proxy");
    mkdirSync(proxyConfigDir, { recursive: true });
    await settleAll(
      Array.from({ length: nodeCount }, async (_, i) => {
        const index = i + 1;
        const name = nodeName(index);
        const a = nodeAddresses(index);
        const created = await core.createNode({ body: nodeManifest(name) });
        await core.replaceNodeStatus({
          name,
          body: { ...created, status: readyNodeStatus(name, a.v4, a.v6, new Date()) },
        });
        await leases.createNamespacedLease({
          namespace: "kube-node-lease",
          body: nodeLease(name, created.metadata?.uid ?? ""),
        });
        const netns = this.names.node(index);
        const configPath = join(proxyConfigDir, `${name}.yaml`);
        writeFileSync(
          configPath,
          kubeProxyConfig({
            nodeName: name,
            nodeIp: a.v4,
            kubeconfig: join(this.dir, "kube-proxy.kubeconfig"),
            dualStack: this.dualStack,
          }),
        );
        const kubeProxy = this.spawnIn(netns, `kube-proxy-${name}`, join(this.binDir, "kube-proxy"), [
          `--config=${configPath}`,
          "--v=1",
        ]);
        const certBase = join(this.dir, "pki", name);
        const agent = this.spawnIn(netns, `agent-${name}`, process.execPath, [programPath("node-agent")], {
          LAB_NODE: name,
          LAB_SERVER: this.innerServer,
          LAB_CA: this.caCert,
          LAB_CERT: `${certBase}.crt`,
          LAB_KEY: `${certBase}.key`,
          LAB_HEARTBEAT_MS: String(this.heartbeatMs),
        });
        this.nodes.push({
          name,
          index,
          netns,
          v4: a.v4,
          v6: a.v6,
          interface: "eth0",
          bridgePort: name,
          kubeProxy,
          agent,
        });
      }),
    );
    this.nodes.sort((x, y) => x.index - y.index);
  }

  private async waitUntilReady(): Promise<void> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const proxies = this.options.awaitKubeProxy === false ? [] : this.nodes;
    await settleAll([
      ...proxies.map((n) => this.waitForKubeProxy(n)),
      waitFor(
        "the default ServiceAccount (controller manager running)",
        async () =>
          (await core.readNamespacedServiceAccount({ name: "default", namespace: "default" }))
            ? true
            : undefined,
        60_000,
        200,
      ).catch((e: Error) => {
        // The run directory goes with the lab: say here what the controller manager said.
        const cm = this.controllerManager;
        const tail = cm.output().trim().split("\n").slice(-15).join("\n");
        throw new LabError(
          "LAB_TIMEOUT",
          `${e.message}; kube-controller-manager ${cm.running() ? "runs" : "exited"}, its last lines:\n${tail}`,
        );
      }),
    ]);
  }

  /**
   * kube-proxy has synced once this process reports a rules sync in its metrics (rules
   * left by an earlier kube-proxy do not count) and the `kubernetes` Service is programmed.
   */
  private async waitForKubeProxy(node: LabNode): Promise<void> {
    await waitFor(
      `kube-proxy on ${node.name} to program Services`,
      async () => {
        if (!node.kubeProxy.running()) {
          throw new LabError(
            "LAB_PROCESS_FAILED",
            `kube-proxy on ${node.name} exited; see ${node.kubeProxy.logPath}`,
          );
        }
        const metrics = await this.tryExec(node.name, [
          "curl",
          "-s",
          "--max-time",
          "1",
          `http://${node.v4}:10249/metrics`,
        ]);
        const last = /^kubeproxy_sync_proxy_rules_last_timestamp_seconds (\S+)$/m.exec(metrics.stdout);
        if (!last || !(Number(last[1]) > 0)) return undefined;
        const rules = await this.tryExec(node.name, ["iptables", "-w", "-t", "nat", "-S", "KUBE-SERVICES"]);
        if (!rules.stdout.includes("default/kubernetes")) return undefined;
        // The `kubernetes` Service is IPv4; the IPv6 proxier has synced once its chain exists.
        if (!this.dualStack) return true;
        const v6 = await this.tryExec(node.name, ["ip6tables", "-w", "-t", "nat", "-S", "KUBE-SERVICES"]);
        return v6.code === 0 ? true : undefined;
      },
      60_000,
      200,
    );
  }

  // ---- using the lab -------------------------------------------------------------

  /** The node called `name` ("node-1"), or LAB_UNKNOWN_NODE. */
  node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n)
      throw new LabError(
        "LAB_UNKNOWN_NODE",
        `no node ${name} (nodes: ${this.nodes.map((x) => x.name).join(", ")})`,
      );
    return n;
  }

  /** The network namespace of a place: a node name, "client" or "lab". */
  netnsOf(place: Place): string {
    if (place === "client") return this.names.client;
    if (place === "lab") return this.names.lab;
    return this.node(place).netns;
  }

  /** Runs a command in a node, the client or the lab namespace; throws LAB_COMMAND_FAILED on non-zero exit. */
  exec(place: Place, argv: readonly string[], options: ExecOptions = {}): Promise<string> {
    const [cmd, ...args] = argv;
    if (!cmd) throw new LabError("LAB_BAD_ARGUMENT", "exec needs a command");
    return exec("ip", ["netns", "exec", this.netnsOf(place), cmd, ...args], options);
  }

  /** Like `exec`, but resolves with the exit code and output instead of throwing. */
  tryExec(place: Place, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return tryExec("ip", ["netns", "exec", this.netnsOf(place), ...argv], options);
  }

  /**
   * Starts a long-lived process in a node, the client or the lab namespace (a speaker,
   * tcpdump, a load generator). It runs in its own process group with its output in
   * `<run dir>/logs/<name>-<n>.log`; `lab.stop()` kills it if still running.
   */
  spawn(place: Place, options: SpawnOptions): LabProcess {
    if (this.stopped) throw new LabError("LAB_STOPPED", "the lab is stopped");
    const base = options.name ?? options.command.split("/").pop() ?? "process";
    return this.spawnIn(
      this.netnsOf(place),
      `${base}-${this.spawnCount + 1}`,
      options.command,
      options.args ?? [],
      options.env,
    );
  }

  /**
   * Creates a Pod bound to `node`, runs its echo server in a new pod namespace (which
   * every node and the lab namespace route to), and writes its status Running (and
   * Ready unless `ready: false`) through the status subresource. The echo server answers
   * HTTP on `httpPort` and UDP on `udpPort` with JSON {pod, namespace, node, protocol,
   * client, clientPort, path | echo}.
   */
  createPod(o: CreatePodOptions): Promise<LabPod> {
    if (this.stopped) throw new LabError("LAB_STOPPED", "the lab is stopped");
    return this.podRunner.create(o);
  }

  /** A pod namespace on `node` (address, routes from every node), for a Pod the caller runs itself. */
  podNetwork(node: string): Promise<PodNetwork> {
    if (this.stopped) throw new LabError("LAB_STOPPED", "the lab is stopped");
    return this.podRunner.network(node);
  }

  /** Flips a Pod's Ready condition (as a failing or recovering readiness probe would). */
  setPodReady(name: string, ready: boolean, namespace = "default"): Promise<void> {
    return this.podRunner.setReady(name, namespace, ready);
  }

  /** A Pod made with `createPod`, or LAB_UNKNOWN_POD. */
  pod(name: string, namespace = "default"): LabPod {
    return this.podRunner.get(name, namespace);
  }

  /** Deletes the Pod object at once (grace period 0), stops its server and removes its namespace and routes. */
  deletePod(name: string, namespace = "default"): Promise<void> {
    return this.podRunner.delete(name, namespace);
  }

  /** Takes the node's bridge port down: the node loses carrier and the LAN (a pulled cable). */
  async cutLink(node: string): Promise<void> {
    await setLink(this.names.lab, this.node(node).bridgePort, false);
  }

  /** Brings the node's bridge port back up. */
  async restoreLink(node: string): Promise<void> {
    await setLink(this.names.lab, this.node(node).bridgePort, true);
  }

  /** The running kube-apiserver process, or undefined while it is stopped. */
  get apiServer(): LabProcess | undefined {
    return this.apiServerProcess?.running() ? this.apiServerProcess : undefined;
  }

  /** Stops kube-apiserver (SIGTERM, or SIGKILL with `kill: true`); etcd keeps running with all objects. */
  async stopApiServer(options: { kill?: boolean } = {}): Promise<void> {
    const api = this.apiServerProcess;
    this.apiServerProcess = undefined;
    if (api) await (options.kill ? api.kill() : api.stop(10_000));
  }

  /**
   * Starts kube-apiserver again on the same etcd data and waits until it is ready and the
   * cluster reacts to changes again. The second wait matters: after an outage of 30 s,
   * kube-proxy 1.20 backs its watches off for up to about 40 s (measured in this lab) and the
   * controller manager its own, each watch on its own clock. Until every one is back, a new
   * Service's NodePort is not programmed, or is programmed without endpoints, and refuses.
   */
  async startApiServer(): Promise<void> {
    if (this.stopped) throw new LabError("LAB_STOPPED", "the lab is stopped");
    if (this.apiServer) return;
    this.apiServerProcess = this.spawnIn(
      this.names.lab,
      `kube-apiserver-${this.spawnCount + 1}`,
      join(this.binDir, "kube-apiserver"),
      [...apiServerArgs(this.files, this.dualStack), ...(this.options.apiServerFlags ?? [])],
    );
    await this.waitForApiServer(60_000);
    await this.waitForClusterToWatch();
  }

  /**
   * Waits until every running kube-proxy has programmed the Service `namespace/name`: by
   * default any rule that names it will do (without ready endpoints that is a reject rule);
   * with `endpoints`, only a DNAT rule to an endpoint, so kube-proxy has its EndpointSlices too.
   */
  async waitForKubeProxies(
    key: string,
    options: { endpoints?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    const proxies = this.nodes.filter((n) => n.kubeProxy.running());
    const names = new RegExp(`${key}[ :"]`);
    await settleAll(
      proxies.map((n) =>
        waitFor(
          `kube-proxy on ${n.name} to program ${key}${options.endpoints ? " with endpoints" : ""}`,
          async () => {
            const rules = await this.tryExec(n.name, ["iptables-save"]);
            // An IPv6-only Service is in ip6tables only.
            const v6 = this.dualStack ? (await this.tryExec(n.name, ["ip6tables-save"])).stdout : "";
            const lines = `${rules.stdout}\n${v6}`.split("\n").filter((line) => names.test(line));
            const programmed = options.endpoints
              ? lines.some((line) => line.includes("-j DNAT"))
              : lines.length > 0;
            return programmed ? true : undefined;
          },
          options.timeoutMs ?? 120_000,
          200,
        ),
      ),
    );
  }

  /**
   * Proves every watch a new Service depends on is back, with two throwaway Services: one
   * without a selector whose EndpointSlice the lab writes (every kube-proxy must program its
   * endpoint: its Service and EndpointSlice watches work), and one with a selector that
   * matches nothing (the controller manager must write its EndpointSlice: its Service watch
   * and its writes work). The endpoint, 203.0.113.9, is only ever a rule: nothing connects.
   */
  private async waitForClusterToWatch(): Promise<void> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const proxied = `lab-canary-${this.spawnCount}`;
    const selected = `lab-canary-${this.spawnCount}-selected`;
    const version = (await this.get("/apis/discovery.k8s.io/v1")).status === 200 ? "v1" : "v1beta1";
    const slices = `/apis/discovery.k8s.io/${version}/namespaces/default/endpointslices`;
    const port = { name: "canary", port: 9, protocol: "TCP" };
    try {
      await core.createNamespacedService({
        namespace: "default",
        body: { metadata: { name: proxied }, spec: { ports: [port] } },
      });
      await this.kubectlRun(["apply", "-f", "-"], {
        input: JSON.stringify({
          apiVersion: `discovery.k8s.io/${version}`,
          kind: "EndpointSlice",
          metadata: {
            name: proxied,
            namespace: "default",
            labels: { "kubernetes.io/service-name": proxied },
          },
          addressType: "IPv4",
          endpoints: [{ addresses: ["203.0.113.9"], conditions: { ready: true } }],
          ports: [port],
        }),
      });
      await core.createNamespacedService({
        namespace: "default",
        body: { metadata: { name: selected }, spec: { selector: { "lab-canary": selected }, ports: [port] } },
      });
      await Promise.all([
        // Without a running kube-proxy this settles at once.
        this.waitForKubeProxies(`default/${proxied}`, { endpoints: true }),
        waitFor(
          `the controller manager to write the EndpointSlice of default/${selected}`,
          async () => {
            const answer = await this.get(`${slices}?labelSelector=kubernetes.io/service-name%3D${selected}`);
            const items =
              answer.status === 200 ? (JSON.parse(answer.body) as { items: unknown[] }).items : [];
            return items.length > 0 ? true : undefined;
          },
          120_000,
          200,
        ),
      ]);
    } finally {
      for (const name of [proxied, selected]) {
        await core.deleteNamespacedService({ name, namespace: "default" }).catch(() => {});
      }
      await this.kubectlRun(["delete", "endpointslice", proxied, "--ignore-not-found"]).catch(() => "");
    }
  }

  /** Restarts a node's kube-proxy and waits until it has programmed Services again. */
  async restartKubeProxy(node: string): Promise<LabProcess> {
    const n = this.node(node);
    await n.kubeProxy.stop();
    const kubeProxy = this.spawnIn(
      n.netns,
      `kube-proxy-${n.name}-${this.spawnCount + 1}`,
      join(this.binDir, "kube-proxy"),
      [`--config=${join(this.dir, "kube-proxy", `${n.name}.yaml`)}`, "--v=1"],
    );
    const replaced: LabNode = { ...n, kubeProxy };
    this.nodes[this.nodes.indexOf(n)] = replaced;
    await this.waitForKubeProxy(replaced);
    return kubeProxy;
  }

  /** The lab's own processes: etcd, kube-controller-manager (kube-apiserver is `apiServer`). */
  get controlPlane(): { etcd: LabProcess; controllerManager: LabProcess } {
    return { etcd: this.etcd, controllerManager: this.controllerManager };
  }

  /**
   * Removes everything the lab made: processes, namespaces (with their links and
   * rules), the forwarder and the run directory. Idempotent.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const t = performance.now();
    await settleAll([...this.processes].map((p) => p.kill()));
    await removeLab(this.prefix, this.options.stateRoot ?? defaultStateRoot());
    this.log(`lab ${this.prefix} removed in ${Math.round(performance.now() - t)} ms`);
  }

  /** kubectl against this lab from the root namespace: `await lab.kubectlRun(["get", "nodes"])`. */
  kubectlRun(args: readonly string[], options: ExecOptions = {}): Promise<string> {
    return exec(this.kubectl, [`--kubeconfig=${this.kubeconfig}`, ...args], options);
  }
}

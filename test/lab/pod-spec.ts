// What a kubelet does with a Pod template, as `podman run` arguments: a pure function of the
// template and of where the Pod runs. Every field it meets is either translated or refused with
// LAB_POD_SPEC_UNSUPPORTED, so a chart change that the lab cannot honour fails a test instead of
// being dropped without a word.
import { LabError } from "./errors.js";
import { MACHINE_ULIMITS } from "./podman.js";

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML
type Obj = Record<string, any>;

/** Where one Pod runs, decided by the harness (the scheduler's and the kubelet's part). */
export interface PodPlacement {
  /** Container name for podman (unique per lab run). */
  containerName: string;
  podName: string;
  namespace: string;
  nodeName: string;
  /** The Pod's address: the node's for hostNetwork Pods. */
  podIP: string;
  hostIP: string;
  /** Path of the network namespace the Pod joins (the node's, or a pod namespace). */
  netnsPath: string;
  /** The image the chart must name: the lab runs only the image it built. */
  image: string;
  /** Host directory per volume name (secret, emptyDir, hostPath), filled by the harness. */
  volumeDirs: ReadonlyMap<string, string>;
  /** Host directory with token, ca.crt, namespace; undefined when the Pod does not mount one. */
  serviceAccountDir: string | undefined;
  /** The `kubernetes` Service as a kubelet hands it to every Pod. */
  kubernetesService: { host: string; port: number };
  /** Where podman writes the container's output. */
  logPath: string;
}

export interface HttpProbe {
  path: string;
  port: number;
  periodSeconds: number;
  failureThreshold: number;
  initialDelaySeconds: number;
}

export interface ContainerPlan {
  /** Everything after `podman run`. */
  args: string[];
  /** Seconds podman stop waits before SIGKILL (terminationGracePeriodSeconds, default 30). */
  graceSeconds: number;
  readiness: HttpProbe | undefined;
  liveness: HttpProbe | undefined;
}

const POD_FIELDS = new Set([
  "serviceAccountName",
  "automountServiceAccountToken",
  "hostNetwork",
  "dnsPolicy",
  "terminationGracePeriodSeconds",
  "securityContext",
  "containers",
  "volumes",
  "nodeSelector",
  "tolerations",
  "affinity",
  "priorityClassName",
  "imagePullSecrets",
]);
const CONTAINER_FIELDS = new Set([
  "name",
  "image",
  "imagePullPolicy",
  "command",
  "args",
  "env",
  "ports",
  "livenessProbe",
  "readinessProbe",
  "securityContext",
  "resources",
  "volumeMounts",
]);

function refuse(what: string): never {
  throw new LabError("LAB_POD_SPEC_UNSUPPORTED", `the lab cannot run this Pod as a kubelet would: ${what}`);
}

function onlyKnown(o: Obj, known: ReadonlySet<string>, where: string): void {
  for (const k of Object.keys(o)) if (!known.has(k)) refuse(`${where}.${k} is not supported`);
}

/** The value of a downward-API field, as the kubelet fills it in. */
function fieldRef(path: string, p: PodPlacement, spec: Obj): string {
  switch (path) {
    case "spec.nodeName":
      return p.nodeName;
    case "metadata.name":
      return p.podName;
    case "metadata.namespace":
      return p.namespace;
    case "status.podIP":
      return p.podIP;
    case "status.hostIP":
      return p.hostIP;
    case "spec.serviceAccountName":
      return spec.serviceAccountName ?? "default";
    default:
      return refuse(`env fieldRef ${path}`);
  }
}

function environment(container: Obj, spec: Obj, p: PodPlacement): string[] {
  const { host, port } = p.kubernetesService;
  // What a kubelet adds to every container (the `kubernetes` Service of the default namespace).
  const env: [string, string][] = [
    ["KUBERNETES_SERVICE_HOST", host],
    ["KUBERNETES_SERVICE_PORT", String(port)],
    ["KUBERNETES_SERVICE_PORT_HTTPS", String(port)],
    ["KUBERNETES_PORT", `tcp://${host}:${port}`],
  ];
  for (const e of (container.env ?? []) as Obj[]) {
    if (typeof e.value === "string") env.push([e.name, e.value]);
    else if (e.valueFrom?.fieldRef && Object.keys(e.valueFrom).length === 1) {
      env.push([e.name, fieldRef(e.valueFrom.fieldRef.fieldPath, p, spec)]);
    } else if (e.value === undefined && e.valueFrom === undefined) env.push([e.name, ""]);
    else refuse(`env ${e.name}: only value and valueFrom.fieldRef`);
  }
  return env.flatMap(([k, v]) => ["--env", `${k}=${v}`]);
}

function probe(p: Obj | undefined, ports: Obj[], what: string): HttpProbe | undefined {
  if (p === undefined) return undefined;
  onlyKnown(
    p,
    new Set(["httpGet", "initialDelaySeconds", "periodSeconds", "failureThreshold", "timeoutSeconds"]),
    what,
  );
  if (!p.httpGet) refuse(`${what}: only httpGet probes`);
  onlyKnown(p.httpGet, new Set(["path", "port", "scheme"]), `${what}.httpGet`);
  if ((p.httpGet.scheme ?? "HTTP") !== "HTTP") refuse(`${what}: scheme ${p.httpGet.scheme}`);
  const port =
    typeof p.httpGet.port === "number"
      ? p.httpGet.port
      : ports.find((x) => x.name === p.httpGet.port)?.containerPort;
  if (typeof port !== "number") refuse(`${what}: no container port named ${p.httpGet.port}`);
  return {
    path: p.httpGet.path ?? "/",
    port,
    periodSeconds: p.periodSeconds ?? 10,
    failureThreshold: p.failureThreshold ?? 3,
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
  };
}

/** Kubernetes quantities the chart uses: memory in Ki/Mi/Gi or bytes, cpu in millicores or cores. */
export function memoryBytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) return refuse(`memory quantity ${q}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit;
}

export function cpuMillis(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(q);
  if (!m) return refuse(`cpu quantity ${q}`);
  return m[2] ? Number(m[1]) : Math.round(Number(m[1]) * 1000);
}

function resources(r: Obj | undefined): string[] {
  if (!r) return [];
  onlyKnown(r, new Set(["requests", "limits"]), "resources");
  onlyKnown(r.requests ?? {}, new Set(["cpu", "memory"]), "resources.requests");
  onlyKnown(r.limits ?? {}, new Set(["cpu", "memory"]), "resources.limits");
  const args: string[] = [];
  // As the kubelet maps them onto cgroups: a limit is a hard cap, a cpu request a share.
  if (r.limits?.memory) args.push("--memory", String(memoryBytes(r.limits.memory)));
  if (r.limits?.cpu) args.push("--cpus", String(cpuMillis(r.limits.cpu) / 1000));
  if (r.requests?.cpu)
    args.push("--cpu-shares", String(Math.max(2, Math.round((cpuMillis(r.requests.cpu) * 1024) / 1000))));
  return args;
}

/** runAsUser/runAsGroup/runAsNonRoot, container settings over the Pod's, as the kubelet resolves them. */
function identity(pod: Obj, c: Obj, imageUser: number): { user: number; group: number | undefined } {
  const user = c.runAsUser ?? pod.runAsUser ?? imageUser;
  const group = c.runAsGroup ?? pod.runAsGroup;
  const nonRoot = c.runAsNonRoot ?? pod.runAsNonRoot;
  if (nonRoot === true && user === 0) refuse("runAsNonRoot with a user that is root");
  return { user, group };
}

function securityArgs(spec: Obj, c: Obj, imageUser: number): string[] {
  const pod = spec.securityContext ?? {};
  onlyKnown(
    pod,
    new Set(["runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "seccompProfile"]),
    "securityContext",
  );
  const sc = c.securityContext ?? {};
  onlyKnown(
    sc,
    new Set([
      "runAsUser",
      "runAsGroup",
      "runAsNonRoot",
      "allowPrivilegeEscalation",
      "readOnlyRootFilesystem",
      "capabilities",
      "privileged",
      "seccompProfile",
    ]),
    "container securityContext",
  );
  const args: string[] = [];
  const { user, group } = identity(pod, sc, imageUser);
  args.push("--user", group === undefined ? String(user) : `${user}:${group}`);
  if (pod.fsGroup !== undefined) args.push("--group-add", String(pod.fsGroup));
  for (const seccomp of [pod.seccompProfile, sc.seccompProfile]) {
    // podman's default profile is the runtime's default.
    if (seccomp && seccomp.type !== "RuntimeDefault") refuse(`seccompProfile ${seccomp.type}`);
  }
  if (sc.privileged === true) args.push("--privileged");
  if (sc.allowPrivilegeEscalation === false) args.push("--security-opt", "no-new-privileges");
  // Without podman's own tmpfs on /run, /tmp and /var/tmp: a kubelet adds none.
  if (sc.readOnlyRootFilesystem === true) args.push("--read-only", "--read-only-tmpfs=false");
  const caps = sc.capabilities ?? {};
  onlyKnown(caps, new Set(["add", "drop"]), "capabilities");
  for (const d of caps.drop ?? []) args.push("--cap-drop", String(d));
  for (const a of caps.add ?? []) args.push("--cap-add", String(a));
  return args;
}

function mounts(c: Obj, spec: Obj, p: PodPlacement): string[] {
  const volumes = new Map<string, Obj>(((spec.volumes ?? []) as Obj[]).map((v) => [v.name, v]));
  for (const v of volumes.values()) {
    const kinds = Object.keys(v).filter((k) => k !== "name");
    if (kinds.length !== 1 || !["secret", "hostPath", "emptyDir"].includes(kinds[0] ?? "")) {
      refuse(`volume ${v.name}: only secret, hostPath and emptyDir`);
    }
  }
  const args: string[] = [];
  for (const m of (c.volumeMounts ?? []) as Obj[]) {
    onlyKnown(m, new Set(["name", "mountPath", "readOnly"]), `volumeMount ${m.name}`);
    const v = volumes.get(m.name);
    if (!v) refuse(`volumeMount ${m.name} names no volume`);
    const dir = p.volumeDirs.get(m.name);
    if (!dir) refuse(`volume ${m.name} was not prepared`);
    // A kubelet mounts Secret volumes read-only whatever the mount says.
    const ro = m.readOnly === true || v.secret !== undefined;
    args.push("--volume", `${dir}:${m.mountPath}:${ro ? "ro" : "rw"}`);
  }
  if (p.serviceAccountDir) {
    args.push("--volume", `${p.serviceAccountDir}:/var/run/secrets/kubernetes.io/serviceaccount:ro`);
  }
  return args;
}

/**
 * `podman run` arguments for the Pod template's one container at the given place. `imageUser` is
 * the image's USER (the kubelet's default for runAsUser).
 */
export function containerPlan(template: Obj, p: PodPlacement, imageUser: number): ContainerPlan {
  const spec: Obj = template.spec ?? refuse("no spec in the Pod template");
  onlyKnown(spec, POD_FIELDS, "spec");
  if ((spec.imagePullSecrets ?? []).length > 0) refuse("imagePullSecrets (the lab pulls nothing)");
  if (spec.affinity) {
    onlyKnown(spec.affinity, new Set(["podAntiAffinity"]), "affinity");
    // Preferred spreading is honoured by placing replicas on different nodes; a required rule is not.
    onlyKnown(
      spec.affinity.podAntiAffinity,
      new Set(["preferredDuringSchedulingIgnoredDuringExecution"]),
      "podAntiAffinity",
    );
  }
  // No cluster DNS in the lab: Herald resolves no names (the API server comes as an address).
  if (!["ClusterFirst", "ClusterFirstWithHostNet", "Default", undefined].includes(spec.dnsPolicy)) {
    refuse(`dnsPolicy ${spec.dnsPolicy}`);
  }
  const containers = (spec.containers ?? []) as Obj[];
  if (containers.length !== 1) refuse(`${containers.length} containers (the harness runs one)`);
  const c = containers[0] as Obj;
  onlyKnown(c, CONTAINER_FIELDS, `container ${c.name}`);
  if (c.image !== p.image) refuse(`image ${c.image}: the lab runs ${p.image}`);
  if (c.imagePullPolicy === "Always") refuse("imagePullPolicy Always (the lab pulls nothing)");
  const ports = (c.ports ?? []) as Obj[];
  for (const port of ports) {
    onlyKnown(port, new Set(["name", "containerPort", "protocol"]), `port ${port.name}`);
  }
  const graceSeconds = spec.terminationGracePeriodSeconds ?? 30;
  const command = (c.command ?? []) as string[];
  const args = [
    "--name",
    p.containerName,
    "--detach",
    "--pull",
    "never",
    "--network",
    `ns:${p.netnsPath}`,
    "--hostname",
    spec.hostNetwork === true ? p.nodeName : p.podName,
    "--log-driver",
    "k8s-file",
    "--log-opt",
    `path=${p.logPath}`,
    "--stop-timeout",
    String(graceSeconds),
    ...MACHINE_ULIMITS,
    ...securityArgs(spec, c, imageUser),
    ...resources(c.resources),
    ...environment(c, spec, p),
    ...mounts(c, spec, p),
    ...(command.length > 0 ? ["--entrypoint", JSON.stringify(command)] : []),
    p.image,
    ...((c.args ?? []) as string[]).map(String),
  ];
  return {
    args,
    graceSeconds,
    readiness: probe(c.readinessProbe, ports, "readinessProbe"),
    liveness: probe(c.livenessProbe, ports, "livenessProbe"),
  };
}

/** Whether a node's labels satisfy the template's nodeSelector (the scheduler's first filter). */
export function nodeSelected(template: Obj, labels: Readonly<Record<string, string>>): boolean {
  const selector = (template.spec?.nodeSelector ?? {}) as Record<string, string>;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

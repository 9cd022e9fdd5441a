// The kubelet's translation of the chart's Pod templates into podman arguments: what the chart
// asks for reaches the container, and what the harness cannot honour is refused.
import { BUILD_TIMEOUT_MS, find, type K8sObject, render } from "../helm/render.js";
import { labValues } from "./containers.js";
import { containerPlan, cpuMillis, memoryBytes, type PodPlacement } from "./pod-spec.js";

const IMAGE = "localhost/herald:dev";
let speaker: K8sObject;
let controller: K8sObject;

beforeAll(() => {
  const objects = render({ values: labValues(IMAGE) });
  speaker = find(objects, "DaemonSet", "herald-speaker").spec.template;
  controller = find(objects, "Deployment", "herald-controller").spec.template;
}, BUILD_TIMEOUT_MS);

const placement = (over: Partial<PodPlacement> = {}): PodPlacement => ({
  containerName: "hlab000000-speaker",
  podName: "herald-speaker-node-1",
  namespace: "herald-system",
  nodeName: "node-1",
  podIP: "192.0.2.11",
  hostIP: "192.0.2.11",
  netnsPath: "/run/netns/hlab000000-node-1",
  image: IMAGE,
  volumeDirs: new Map([
    ["heartbeat-key", "/lab/pods/s/volumes/heartbeat-key"],
    ["audit", "/lab/node-fs/node-1/var/lib/herald/audit"],
    ["tmp", "/lab/pods/s/volumes/tmp"],
  ]),
  serviceAccountDir: "/lab/pods/s/serviceaccount",
  kubernetesService: { host: "203.0.113.1", port: 443 },
  logPath: "/lab/logs/s.log",
  ...over,
});

/** Values of a repeated flag, in order. */
const values = (args: readonly string[], flag: string) =>
  args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));

const clone = (o: K8sObject): K8sObject => structuredClone(o);

test("the speaker runs as root with only NET_RAW, NET_ADMIN and SYS_NICE, read-only, in the node's namespace", () => {
  const { args, graceSeconds } = containerPlan(speaker, placement(), 1000);
  expect(values(args, "--user")).toEqual(["0"]);
  expect(values(args, "--cap-drop")).toEqual(["ALL"]);
  expect(values(args, "--cap-add").sort()).toEqual(["NET_ADMIN", "NET_RAW", "SYS_NICE"]);
  expect(args).toContain("--read-only");
  expect(values(args, "--security-opt")).toEqual(["no-new-privileges"]);
  expect(args).not.toContain("--privileged");
  expect(values(args, "--network")).toEqual(["ns:/run/netns/hlab000000-node-1"]);
  expect(graceSeconds).toBe(speaker.spec.terminationGracePeriodSeconds);
  expect(values(args, "--stop-timeout")).toEqual([String(graceSeconds)]);
  // The command line is the chart's: the image, then its args.
  const at = args.indexOf(IMAGE);
  expect(args.slice(at + 1)).toEqual(speaker.spec.containers[0].args);
});

test("env takes the downward API from where the Pod runs, plus the kubernetes Service", () => {
  const env = values(containerPlan(speaker, placement(), 1000).args, "--env");
  expect(env).toEqual(
    expect.arrayContaining([
      "NODE_NAME=node-1",
      "POD_NAMESPACE=herald-system",
      "HERALD_HEARTBEAT_KEY_FILE=/etc/herald/heartbeat/key",
      "KUBERNETES_SERVICE_HOST=203.0.113.1",
      "KUBERNETES_SERVICE_PORT=443",
    ]),
  );
  const ctl = values(
    containerPlan(controller, placement({ podName: "herald-controller-0", podIP: "198.51.100.5" }), 1000)
      .args,
    "--env",
  );
  expect(ctl).toEqual(
    expect.arrayContaining(["POD_NAME=herald-controller-0", "POD_NAMESPACE=herald-system"]),
  );
});

test("the Secret volume is mounted read-only, the hostPath read-write, the token where a kubelet puts it", () => {
  const mounts = values(containerPlan(speaker, placement(), 1000).args, "--volume");
  expect(mounts).toEqual([
    "/lab/pods/s/volumes/heartbeat-key:/etc/herald/heartbeat:ro",
    "/lab/node-fs/node-1/var/lib/herald/audit:/var/lib/herald/audit:rw",
    "/lab/pods/s/volumes/tmp:/tmp:rw",
    "/lab/pods/s/serviceaccount:/var/run/secrets/kubernetes.io/serviceaccount:ro",
  ]);
});

test("the controller runs as the non-root user and group the chart names, with no capability", () => {
  const { args } = containerPlan(
    controller,
    placement({
      volumeDirs: new Map([
        ["audit", "/a"],
        ["tmp", "/t"],
      ]),
    }),
    1000,
  );
  expect(values(args, "--user")).toEqual(["1000:1000"]);
  expect(values(args, "--group-add")).toEqual(["1000"]);
  expect(values(args, "--cap-drop")).toEqual(["ALL"]);
  expect(values(args, "--cap-add")).toEqual([]);
  expect(values(args, "--memory")).toEqual([String(memoryBytes("256Mi"))]);
});

test("probes are the chart's httpGet paths on its named ports", () => {
  const plan = containerPlan(speaker, placement(), 1000);
  expect(plan.readiness).toMatchObject({ path: "/readyz", port: 7473 });
  expect(plan.liveness).toMatchObject({ path: "/healthz", port: 7473 });
});

test.each([
  ["an init container", (t: K8sObject) => (t.spec.initContainers = [{ name: "x", image: IMAGE }])],
  ["a ConfigMap volume", (t: K8sObject) => t.spec.volumes.push({ name: "c", configMap: { name: "c" } })],
  [
    "an env var from a Secret",
    (t: K8sObject) =>
      t.spec.containers[0].env.push({ name: "K", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }),
  ],
  [
    "a fieldRef the kubelet has no value for",
    (t: K8sObject) =>
      t.spec.containers[0].env.push({
        name: "K",
        valueFrom: { fieldRef: { fieldPath: "metadata.labels['x']" } },
      }),
  ],
  ["an exec probe", (t: K8sObject) => (t.spec.containers[0].livenessProbe = { exec: { command: ["true"] } })],
  ["a subPath mount", (t: K8sObject) => (t.spec.containers[0].volumeMounts[0].subPath = "key")],
  ["a second container", (t: K8sObject) => t.spec.containers.push({ ...t.spec.containers[0], name: "two" })],
  ["another image", (t: K8sObject) => (t.spec.containers[0].image = "herald:0.1.0")],
  ["runAsNonRoot with root", (t: K8sObject) => (t.spec.containers[0].securityContext.runAsNonRoot = true)],
  [
    "a seccomp profile other than the runtime's",
    (t: K8sObject) => (t.spec.securityContext.seccompProfile = { type: "Unconfined" }),
  ],
  [
    "a container field it does not know",
    (t: K8sObject) => (t.spec.containers[0].lifecycle = { preStop: {} }),
  ],
])("refuses %s loudly", (_, change) => {
  const t = clone(speaker);
  change(t);
  expect(() => containerPlan(t, placement(), 1000)).toThrow(/LAB_POD_SPEC_UNSUPPORTED/);
});

test("quantities as the chart writes them", () => {
  expect(memoryBytes("96Mi")).toBe(96 * 1024 * 1024);
  expect(memoryBytes("1Gi")).toBe(1024 ** 3);
  expect(cpuMillis("50m")).toBe(50);
  expect(cpuMillis("1.5")).toBe(1500);
  expect(() => memoryBytes("1G")).toThrow(/LAB_POD_SPEC_UNSUPPORTED/);
});

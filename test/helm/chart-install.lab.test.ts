// The chart installed by the real helm on the lab's Kubernetes 1.20: install, an upgrade that
// rolls out and keeps the heartbeat key, uninstall that leaves only what the chart keeps, and a
// second install that takes the kept key back (the chart's `lookup`, which `helm template`
// cannot do). The lab has no kubelet: Pods never run, so nothing here waits for them.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { FINALIZER } from "../../src/api/service.js";
import { exec, waitFor } from "../lab/exec.js";
import { Lab } from "../lab/lab.js";
import { CHART } from "./helm-tool.js";
import { labHelm } from "./lab-helm.js";
import {
  find,
  type K8sObject,
  kindsAndNames,
  NAMESPACE as NS,
  parseStream,
  RELEASE,
  render,
} from "./render.js";

const KEY = /^[A-Za-z0-9]{64}$/;
const OTHER_KEY = "a-key-in-another-namespace-that-the-release-must-not-take";

let lab: Lab;

beforeAll(async () => {
  lab = await Lab.start({ nodes: 1 });
  // A Secret of the same name in another namespace: the chart's lookup must not find it.
  await lab.kubectlRun(["create", "namespace", "elsewhere"]);
  await lab.kubectlRun([
    "-n",
    "elsewhere",
    "create",
    "secret",
    "generic",
    "herald-heartbeat",
    `--from-literal=key=${OTHER_KEY}`,
  ]);
}, 180_000);

afterAll(async () => {
  await lab?.stop();
});

const helm = (args: string[]) => labHelm(lab, args);

const installed = async (): Promise<K8sObject[]> =>
  parseStream(await helm(["get", "manifest", RELEASE, "-n", NS]));

async function getJson<T = K8sObject>(args: string[]): Promise<T> {
  return JSON.parse(await lab.kubectlRun(["get", ...args, "-o", "json"])) as T;
}

const secretKey = async (namespace = NS) => {
  const secret = await getJson(["-n", namespace, "secret", "herald-heartbeat"]);
  return Buffer.from(secret.data?.key ?? "", "base64").toString("utf8");
};

/** Which of these objects the API server has, as kubectl names them (kind/name). */
async function present(objects: K8sObject[]): Promise<string[]> {
  const file = join(lab.dir, `objects-${objects.length}.yaml`);
  writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
  const out = await lab.kubectlRun(["get", "-f", file, "--ignore-not-found", "-o", "name"]);
  return out.split("\n").filter((l) => l !== "");
}

let firstKey = "";

test("helm install creates the CRDs and every object of the chart, for Kubernetes 1.20", async () => {
  const out = await helm(["install", RELEASE, CHART, "-n", NS, "--create-namespace"]);
  expect(out).toContain("STATUS: deployed");
  expect(out).toContain("kubectl get serviceannouncements -A"); // the NOTES
  const crds = await lab.kubectlRun(["get", "crd", "-o", "name"]);
  for (const crd of ["ipaddresspools", "l2advertisements", "serviceannouncements"]) {
    expect(crds).toContain(`customresourcedefinition.apiextensions.k8s.io/${crd}.herald.dev`);
  }
  const objects = await installed();
  // The same objects `helm template` renders offline, and the API server holds each one.
  expect(kindsAndNames(objects)).toEqual(kindsAndNames(render()));
  expect(await present(objects)).toHaveLength(objects.length);
  // Kubernetes 1.20, the oldest supported, serves no policy/v1, and admissionregistration.k8s.io/v1
  // (webhooks) without ValidatingAdmissionPolicy: the chart asks the cluster and adapts.
  const versions = await lab.kubectlRun(["api-versions"]);
  expect(versions).toContain("admissionregistration.k8s.io/v1\n");
  expect(versions).not.toContain("policy/v1\n");
  expect(find(objects, "PodDisruptionBudget", "herald-controller").apiVersion).toBe("policy/v1beta1");
  expect(objects.filter((o) => o.kind.startsWith("ValidatingAdmissionPolicy"))).toEqual([]);
  firstKey = await secretKey();
  expect(firstKey).toMatch(KEY);
  expect(firstKey).not.toBe(OTHER_KEY);
  expect(await secretKey("elsewhere")).toBe(OTHER_KEY);
});

test("helm upgrade with a changed value rolls out both workloads and keeps the heartbeat key", async () => {
  const before = {
    ds: await getJson(["-n", NS, "daemonset", "herald-speaker"]),
    deploy: await getJson(["-n", NS, "deployment", "herald-controller"]),
  };
  const out = await helm([
    "upgrade",
    RELEASE,
    CHART,
    "-n",
    NS,
    "--reuse-values",
    "--set",
    "logLevel=debug",
    "--set",
    "speaker.podAnnotations.rollout=two",
  ]);
  expect(out).toContain("REVISION: 2");
  const ds = await getJson(["-n", NS, "daemonset", "herald-speaker"]);
  const deploy = await getJson(["-n", NS, "deployment", "herald-controller"]);
  for (const [was, now] of [
    [before.ds, ds],
    [before.deploy, deploy],
  ] as const) {
    expect(was.metadata.generation).toBeGreaterThanOrEqual(1);
    expect(now.metadata.generation).toBe((was.metadata.generation ?? 0) + 1);
    const env = now.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    expect(env.find((e) => e.name === "HERALD_LOG_LEVEL")?.value).toBe("debug");
  }
  expect(ds.spec.template.metadata.annotations).toMatchObject({ rollout: "two" });
  expect(await secretKey()).toBe(firstKey);
});

let keptKey = "";

test("an upgrade after the key was emptied writes a fresh one", async () => {
  await lab.kubectlRun([
    "-n",
    NS,
    "patch",
    "secret",
    "herald-heartbeat",
    "--type=json",
    "-p",
    '[{"op":"remove","path":"/data/key"}]',
  ]);
  expect(await secretKey()).toBe("");
  await helm(["upgrade", RELEASE, CHART, "-n", NS, "--reuse-values"]);
  keptKey = await secretKey();
  expect(keptKey).toMatch(KEY);
  expect(keptKey).not.toBe(firstKey);
});

test("helm uninstall removes every object but the heartbeat Secret; the CRDs stay", async () => {
  const objects = await installed();
  await helm(["uninstall", RELEASE, "-n", NS]);
  // Deletion finishes asynchronously for objects with dependents (the workloads' ReplicaSets).
  const left = await waitFor(
    "only the kept Secret left",
    async () => {
      const now = await present(objects);
      return now.length <= 1 ? now : undefined;
    },
    30_000,
    250,
  );
  expect(left).toEqual(["secret/herald-heartbeat"]);
  expect(await secretKey()).toBe(keptKey);
  expect(await lab.kubectlRun(["get", "crd", "-o", "name"])).toContain("ipaddresspools.herald.dev");
  const releases = await helm(["list", "-n", NS, "-q"]);
  expect(releases.trim()).toBe("");
});

test("after uninstalling, the guide's command takes Herald's finalizer off every Service, and only it", async () => {
  await lab.kubectlRun(["create", "namespace", "kept"]);
  await lab.kubectlRun(["-n", "kept", "create", "service", "loadbalancer", "web", "--tcp=80:8080"]);
  await lab.kubectlRun([
    "-n",
    "kept",
    "patch",
    "svc",
    "web",
    "--type=merge",
    "-p",
    JSON.stringify({ metadata: { finalizers: [FINALIZER, "example.com/keep"] } }),
  ]);
  const guide = readFileSync("docs/install.md", "utf8");
  const from = guide.indexOf("remove Herald's finalizer from them");
  const block = /```sh\n([\s\S]*?)```/.exec(guide.slice(from))?.[1];
  expect(from > 0 && block?.includes(FINALIZER)).toBe(true);
  await exec("sh", ["-c", block ?? "false"], {
    env: { ...process.env, KUBECONFIG: lab.kubeconfig, PATH: `${dirname(lab.kubectl)}:${process.env.PATH}` },
  });
  const svc = await getJson(["-n", "kept", "svc", "web"]);
  expect((svc.metadata as { finalizers?: string[] }).finalizers).toEqual(["example.com/keep"]);
});

test("a second helm install takes the kept key back, so speakers of both installs trust each other", async () => {
  const out = await helm(["install", RELEASE, CHART, "-n", NS]);
  expect(out).toContain("STATUS: deployed");
  expect(await secretKey()).toBe(keptKey);
  const objects = await installed();
  expect(await present(objects)).toHaveLength(objects.length);
});

// The chart against a real API server: both renderings (helm template for the lab's
// Kubernetes 1.20) pass server-side dry run, the ServiceAccounts may do exactly what the RBAC expectations say, and
// the controller does its whole job under its own ServiceAccount's rights.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import {
  apiOf,
  applyPool,
  createService,
  eventsOf,
  eventually,
  getService,
  installCrds,
  lbService,
  leading,
  startController,
} from "../controller/lab-controller.js";
import { tryExec } from "../lab/exec.js";
import { Lab } from "../lab/lab.js";
import { renderOn } from "./lab-helm.js";
import {
  CONTROLLER_SA,
  describeCheck,
  kubectlCanIArgs,
  RBAC_CHECKS,
  RELEASE_NAMESPACE,
} from "./rbac-expectations.js";
import { ALL_ON, type K8sObject } from "./render.js";

let lab: Lab;

beforeAll(async () => {
  lab = await Lab.start({ nodes: 1 });
  await installCrds(lab);
}, 180_000);

afterAll(async () => {
  await lab?.stop();
});

function writeManifest(name: string, objects: K8sObject[]): string {
  const file = join(lab.dir, name);
  writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
  return file;
}

// ServiceMonitor needs the Prometheus Operator's CRD, which a bare cluster lacks; the lab's
// Kubernetes 1.20 serves no ValidatingAdmissionPolicy (the all-on values force it on). helm
// refuses to render for a cluster kinds it does not serve, so these values turn both off.
const SERVED_HERE = [
  "--set",
  "metrics.serviceMonitor.enabled=false",
  "--set",
  "speaker.leaseAdmissionPolicy=auto",
];

test.each([
  ["default values", [] as string[]],
  ["every option on", ["-f", ALL_ON, ...SERVED_HERE]],
])("the chart with %s passes server-side dry run", async (_name, args) => {
  const objects = await renderOn(lab, args);
  const out = await lab.kubectlRun([
    "apply",
    "--server-side",
    "--dry-run=server",
    "-f",
    writeManifest(`chart-${args.length}.yaml`, objects),
  ]);
  expect(out).toContain("serviceaccount/herald-controller serverside-applied (server dry run)");
  expect(out).toContain("daemonset.apps/herald-speaker serverside-applied (server dry run)");
});

test("each ServiceAccount may do exactly what it needs, no more", async () => {
  await lab.kubectlRun(["apply", "--server-side", "-f", writeManifest("chart.yaml", await renderOn(lab))]);
  const wrong: string[] = [];
  for (const check of RBAC_CHECKS) {
    const r = await tryExec(lab.kubectl, ["--kubeconfig", lab.kubeconfig, ...kubectlCanIArgs(check)]);
    const allowed = r.stdout.trim() === "yes";
    if (allowed !== check.allowed) wrong.push(`${describeCheck(check)}: server says ${r.stdout.trim()}`);
  }
  expect(wrong).toEqual([]);
  expect(RBAC_CHECKS.length).toBeGreaterThan(50);
}, 120_000);

test("the controller does its job with only its ServiceAccount's rights", async () => {
  const api = apiOf(lab);
  const identity = await lab.kubeconfigFor({
    user: `system:serviceaccount:${RELEASE_NAMESPACE}:${CONTROLLER_SA}`,
    groups: ["system:serviceaccounts", `system:serviceaccounts:${RELEASE_NAMESPACE}`],
  });
  const ctl = startController(lab, "controller-sa", 7480, [], identity.inner);
  await eventually("controller leading under its ServiceAccount", () => leading(ctl), 30_000);
  await applyPool(api, "lan", { addresses: ["192.0.2.200/30"] });
  await createService(api, "default", lbService("web"));
  const svc = await eventually("web assigned", async () => {
    const s = await getService(api, "default", "web");
    return s.status?.loadBalancer?.ingress?.length ? s : undefined;
  });
  expect(svc.status?.loadBalancer?.ingress?.[0]?.ip).toBe("192.0.2.200");
  // The pool annotation goes through services/status too: no write access to Services is needed.
  expect(svc.metadata?.annotations?.["herald.dev/allocated-from-pool"]).toBe("lan");
  await eventually("IPAllocated event", async () =>
    (await eventsOf(api, "default", "web")).some((e) => e.includes("IPAllocated")),
  );
  const pool = await eventually("pool status", async () => {
    const p = await api.request<{ status?: { assigned?: string } }>(
      "GET",
      "/apis/herald.dev/v1alpha1/ipaddresspools/lan",
    );
    return p.status?.assigned === "1" ? p : undefined;
  });
  expect(pool.status?.assigned).toBe("1");
  // A refused request would be logged with its status; timestamps hold digits too, hence the word boundaries.
  expect(ctl.proc.output()).not.toMatch(/\b403\b|[Ff]orbidden/);
}, 90_000);

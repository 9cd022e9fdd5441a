// Running `herald controller` in the lab: as a real process (from dist/, built
// by `npm run test:lab`) in the lab's namespace, talking to the real API server.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { V1Service } from "@kubernetes/client-node";
import { loadKubeConfig } from "../../src/k8s/kubeconfig.js";
import { MERGE_PATCH, type Rest, restFromKubeConfig } from "../../src/k8s/rest.js";
import { waitFor } from "../lab/exec.js";
import type { Lab } from "../lab/lab.js";
import type { LabProcess } from "../lab/process.js";

/** The repository root, whether this runs from the sources or from dist/. */
export const REPO = (() => {
  let dir = fileURLToPath(new URL(".", import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
// HERALD_LAB_MAIN runs another build of the CLI (a soak against a deliberately broken copy).
const MAIN = process.env.HERALD_LAB_MAIN ?? join(REPO, "dist", "src", "cli", "main.js");

export function apiOf(lab: Lab): Rest {
  return restFromKubeConfig(loadKubeConfig(lab.kubeconfig));
}

/** CRDs and the install namespace, as `helm install` would leave them. */
export async function installCrds(lab: Lab): Promise<void> {
  await lab.kubectlRun(["apply", "-f", join(REPO, "crds")]);
  await lab.kubectlRun(["create", "namespace", "herald-system"]).catch(() => undefined);
  await lab.kubectlRun(["wait", "--for=condition=Established", "crd", "--all", "--timeout=30s"]);
}

export interface RunningController {
  proc: LabProcess;
  port: number;
  state(): Promise<Record<string, unknown>>;
  metrics(): Promise<string>;
  get(path: string): Promise<string>;
}

/** Runs `herald controller` in the lab namespace; kubeconfig defaults to the lab's admin (inner) one. */
export function startController(
  lab: Lab,
  name: string,
  port: number,
  extra: string[] = [],
  kubeconfig = lab.innerKubeconfig,
): RunningController {
  const proc = lab.spawn("lab", {
    name,
    command: process.execPath,
    args: [
      MAIN,
      "controller",
      "--kubeconfig",
      kubeconfig,
      "--http-port",
      `${port}`,
      "--http-address",
      "127.0.0.1",
      "--audit-dir",
      `${lab.dir}/audit-${name}`,
      // The harness reads /debug/state over loopback, without a token.
      "--http-auth",
      "none",
      ...extra,
    ],
    env: {
      POD_NAME: name,
      POD_NAMESPACE: "herald-system",
      HERALD_LOG_LEVEL: "info",
      // As the image sets it (Dockerfile); HERALD_NODE_OPTIONS adds to it (heap snapshots, say).
      NODE_OPTIONS: `--max-semi-space-size=2 ${process.env.HERALD_NODE_OPTIONS ?? ""}`.trim(),
      ...(process.env.HERALD_MALLOC_ARENA_MAX
        ? { MALLOC_ARENA_MAX: process.env.HERALD_MALLOC_ARENA_MAX }
        : {}),
    },
  });
  const curl = async (path: string) =>
    lab.exec("lab", ["curl", "-sf", "--max-time", "2", `http://127.0.0.1:${port}${path}`]);
  return {
    proc,
    port,
    state: async () => JSON.parse(await curl("/debug/state")) as Record<string, unknown>,
    metrics: () => curl("/metrics"),
    get: curl,
  };
}

/** Polls fn until it returns something other than undefined or false (the lab's waitFor, with a default timeout). */
export function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  return waitFor(
    what,
    async () => {
      const v = await fn();
      return v === false ? undefined : v;
    },
    timeoutMs,
  );
}

export async function leading(c: RunningController): Promise<boolean> {
  const s = await c.state().catch(() => undefined);
  return s?.leader === true && s.ready === true && Number(s.leaderPasses) > 0;
}

export function lbService(
  name: string,
  extra: Record<string, unknown> = {},
  annotations: Record<string, string> = {},
) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, annotations },
    spec: {
      type: "LoadBalancer",
      selector: { app: name },
      ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }],
      ...extra,
    },
  };
}

export async function createService(api: Rest, ns: string, body: object): Promise<V1Service> {
  return api.request<V1Service>("POST", `/api/v1/namespaces/${ns}/services`, body);
}

export async function getService(api: Rest, ns: string, name: string): Promise<V1Service> {
  return api.request<V1Service>("GET", `/api/v1/namespaces/${ns}/services/${name}`);
}

export async function patchService(api: Rest, ns: string, name: string, patch: object): Promise<V1Service> {
  return api.request<V1Service>("PATCH", `/api/v1/namespaces/${ns}/services/${name}`, patch, MERGE_PATCH);
}

export async function deleteService(api: Rest, ns: string, name: string): Promise<void> {
  await api.request("DELETE", `/api/v1/namespaces/${ns}/services/${name}`);
}

export function ingressOf(svc: V1Service): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? "");
}

export async function ingress(api: Rest, ns: string, name: string): Promise<string[]> {
  return ingressOf(await getService(api, ns, name));
}

export async function applyPool(api: Rest, name: string, spec: object): Promise<void> {
  const body = { apiVersion: "herald.dev/v1alpha1", kind: "IPAddressPool", metadata: { name }, spec };
  try {
    const cur = await api.request<{ metadata: { resourceVersion: string } }>(
      "GET",
      `/apis/herald.dev/v1alpha1/ipaddresspools/${name}`,
    );
    await api.request("PUT", `/apis/herald.dev/v1alpha1/ipaddresspools/${name}`, {
      ...body,
      metadata: { name, resourceVersion: cur.metadata.resourceVersion },
    });
  } catch {
    await api.request("POST", "/apis/herald.dev/v1alpha1/ipaddresspools", body);
  }
}

export async function deletePool(api: Rest, name: string): Promise<void> {
  await api.request("DELETE", `/apis/herald.dev/v1alpha1/ipaddresspools/${name}`);
}

/** Events on one object, newest last, as "Type Reason: message". */
export async function eventsOf(api: Rest, ns: string, name: string): Promise<string[]> {
  const list = await api.request<{
    items: { type: string; reason: string; message: string; involvedObject: { name: string } }[];
  }>("GET", `/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.name%3D${name}`);
  return list.items.map((e) => `${e.type} ${e.reason}: ${e.message}`);
}

export async function createNamespace(
  api: Rest,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  await api.request("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels },
  });
}

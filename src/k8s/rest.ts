// A small JSON client for the Kubernetes API: requests and watch streams over
// node:https with the credentials of a ClusterAccess (kubeconfig.ts). Herald
// keeps the HTTP layer this thin so that content types (merge patches), status
// codes (404, 409, 410) and watch streams are handled where it can see them.
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import { codedError } from "../errors.js";
import type { ClusterAccess } from "./kubeconfig.js";

export class KubeError extends codedError("HERALD_KUBE_HTTP") {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** From a 429's or 503's Retry-After header, in seconds. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const MERGE_PATCH = "application/merge-patch+json";

export type WatchEvent = {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
};

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string | Date;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
}

export interface Rest {
  /** JSON request; resolves with the parsed body of a 2xx answer, rejects with KubeError otherwise. */
  request<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<T>;
  /** Streams watch events until the server ends the stream (resolve) or it fails (reject). */
  watch(path: string, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void>;
}

export function restFromKubeConfig(access: ClusterAccess, timeoutMs = 30_000): Rest {
  const base = new URL(access.server);
  const https = base.protocol === "https:";
  const send = https ? httpsRequest : httpRequest;
  // One keep-alive agent: requests reuse connections instead of a TLS handshake each.
  const agent = https
    ? new HttpsAgent({
        keepAlive: true,
        ...(access.ca ? { ca: access.ca } : {}),
        ...(access.cert ? { cert: access.cert } : {}),
        ...(access.key ? { key: access.key } : {}),
        rejectUnauthorized: !access.insecureSkipTLSVerify,
      })
    : new HttpAgent({ keepAlive: true });

  async function options(
    method: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<RequestOptions> {
    const token = access.token?.();
    return {
      method,
      agent,
      hostname: base.hostname.replace(/^\[|\]$/g, ""),
      port: base.port || (https ? 443 : 80),
      path: `${base.pathname.replace(/\/$/, "")}${path}`,
      headers: {
        Accept: "application/json",
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
    };
  }

  return {
    async request<T>(method: string, path: string, body?: unknown, contentType = "application/json") {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      // Content-Length always: node:http sends a DELETE's body unframed otherwise, and the
      // server reads it as the start of the next request on the kept-alive connection.
      const headers: Record<string, string> = payload
        ? { "Content-Type": contentType, "Content-Length": String(payload.length) }
        : {};
      const opts = await options(method, path, headers);
      return new Promise<T>((resolve, reject) => {
        const req = send({ ...opts, timeout: timeoutMs }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            if (status >= 200 && status < 300) resolve(json as T);
            else reject(toKubeError(status, json ?? text, `${method} ${path}`, res.headers["retry-after"]));
          });
        });
        req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end(payload);
      });
    },

    async watch(path: string, onEvent: (e: WatchEvent) => void, signal: AbortSignal) {
      const opts = await options("GET", path, {});
      return new Promise<void>((resolve, reject) => {
        const req = send({ ...opts, signal }, (res) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              let json: unknown;
              try {
                json = JSON.parse(text);
              } catch {
                json = undefined;
              }
              reject(toKubeError(status, json ?? text, `watch ${path}`));
            });
            return;
          }
          let buffered = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            buffered += chunk;
            let nl = buffered.indexOf("\n");
            while (nl >= 0) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (line) {
                try {
                  onEvent(JSON.parse(line) as WatchEvent);
                } catch (e) {
                  req.destroy(e as Error);
                  return;
                }
              }
              nl = buffered.indexOf("\n");
            }
          });
          res.on("end", () => resolve());
          res.on("error", reject);
        });
        req.on("error", (e) => (signal.aborted ? resolve() : reject(e)));
        req.end();
      });
    },
  };
}

/** `body`: the answer's Status, or its text when it was not JSON (a proxy's or Go's own error page). */
function toKubeError(status: number, body: unknown, what: string, retryAfter?: string): KubeError {
  const b = (typeof body === "string" ? { message: body.trim().slice(0, 200) } : (body ?? {})) as {
    reason?: string;
    message?: string;
  };
  return new KubeError(
    status,
    b.reason ?? "",
    [`${what}: ${status}`, b.reason, b.message].filter((part) => part).join(" "),
    retryAfterSeconds(retryAfter),
  );
}

/** Retry-After as the API server sends it: whole seconds (the HTTP-date form is not used by it). */
export function retryAfterSeconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d{1,6}\s*$/.test(value)) return undefined;
  return Number(value);
}

export function isStatus(e: unknown, status: number): boolean {
  return e instanceof KubeError && e.status === status;
}

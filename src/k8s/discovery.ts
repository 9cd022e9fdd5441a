// What the API server can do, from /version and API discovery.
import type { Rest } from "./rest.js";

export interface ServerVersion {
  major: string;
  minor: string;
  gitVersion?: string;
}

/** status.loadBalancer.ingress[].ipMode exists from Kubernetes 1.29 on. */
export function supportsIPMode(v: ServerVersion): boolean {
  const major = Number.parseInt(v.major, 10);
  const minor = Number.parseInt(v.minor, 10); // "29+" on some distributions
  return major > 1 || (major === 1 && minor >= 29);
}

export async function serverVersion(rest: Rest): Promise<ServerVersion> {
  return rest.request<ServerVersion>("GET", "/version");
}

/** The newest EndpointSlice version the server serves: v1 (1.21+) or v1beta1 (1.17-1.20). */
export async function endpointSliceVersion(rest: Rest): Promise<"v1" | "v1beta1"> {
  const group = await rest.request<{ versions?: { version: string }[] }>("GET", "/apis/discovery.k8s.io");
  const served = new Set((group.versions ?? []).map((v) => v.version));
  if (served.has("v1")) return "v1";
  if (served.has("v1beta1")) return "v1beta1";
  throw new Error(
    "the API server serves no EndpointSlice version Herald knows (discovery.k8s.io v1 or v1beta1)",
  );
}

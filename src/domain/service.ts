// What the allocator needs to know of a Service, and nothing of Kubernetes.
import type { Family } from "./address.js";
import type { Tenant } from "./pool.js";

export type FamilyPolicy = "SingleStack" | "PreferDualStack" | "RequireDualStack";

export interface ServicePort {
  readonly protocol: string;
  readonly port: number;
}

export interface ServiceRequest extends Tenant {
  /** namespace/name */
  readonly key: string;
  /** spec.ipFamilies in order; the first is the primary family. */
  readonly families: readonly Family[];
  readonly familyPolicy: FamilyPolicy;
  /** Addresses asked for (spec.loadBalancerIP or herald.dev/loadBalancerIPs), as written. */
  readonly requestedAddresses: readonly string[];
  /** herald.dev/address-pool */
  readonly requestedPool: string | undefined;
  /** herald.dev/allow-shared-ip */
  readonly sharingKey: string | undefined;
  readonly ports: readonly ServicePort[];
  /**
   * "" for externalTrafficPolicy Cluster; for Local the namespace and the pod selector (two Local
   * Services share only with equal keys: the same Pods, so the same nodes may announce them).
   */
  readonly backendKey: string;
}

/** The families a Service should hold, in order, before looking at what pools offer. */
export function wantedFamilies(req: ServiceRequest): Family[] {
  const [primary, secondary] = req.families;
  if (primary === undefined) return ["IPv4"];
  if (req.familyPolicy === "SingleStack" || secondary === undefined || secondary === primary)
    return [primary];
  return [primary, secondary];
}

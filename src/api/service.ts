// Kubernetes Services as Herald reads and writes them: which ones it handles,
// what they ask for (spec + herald.dev annotations), and the status it owes them.
import { isDeepStrictEqual } from "node:util";
import type { V1Service } from "@kubernetes/client-node";
import { type Family, familyOf } from "../domain/address.js";
import type { Assignment } from "../domain/allocator.js";
import { type Labels, labelsKey } from "../domain/selector.js";
import type { FamilyPolicy, ServiceRequest } from "../domain/service.js";

export const ANNOTATION = {
  loadBalancerIPs: "herald.dev/loadBalancerIPs",
  addressPool: "herald.dev/address-pool",
  allowSharedIP: "herald.dev/allow-shared-ip",
  allocatedFromPool: "herald.dev/allocated-from-pool",
  ignoreAddressConflicts: "herald.dev/ignore-address-conflicts",
} as const;

/**
 * Herald's finalizer on a Service that holds addresses: the Service is not gone from the API until
 * a leading controller has released them (and recorded it), even when it was deleted while no
 * controller led. The Kubernetes service controller keeps cloud load balancers the same way
 * (`service.kubernetes.io/load-balancer-cleanup`).
 */
export const FINALIZER = "herald.dev/load-balancer-cleanup";

export type IPMode = "VIP" | "Proxy";

export function serviceKey(svc: V1Service): string {
  return `${svc.metadata?.namespace ?? ""}/${svc.metadata?.name ?? ""}`;
}

/**
 * Whether Herald is responsible for this Service: type LoadBalancer, and the
 * class Herald runs for (no class at all unless started with --lb-class).
 */
export function isHandled(svc: V1Service, lbClass: string | undefined): boolean {
  if (svc.spec?.type !== "LoadBalancer") return false;
  return (svc.spec.loadBalancerClass ?? undefined) === lbClass;
}

/** What the allocator needs to know of this Service. */
export function toServiceRequest(svc: V1Service, namespaceLabels: Labels): ServiceRequest {
  const meta = svc.metadata ?? {};
  const spec = svc.spec ?? {};
  const annotations = meta.annotations ?? {};
  const listed = annotations[ANNOTATION.loadBalancerIPs];
  const requestedAddresses =
    listed !== undefined
      ? listed
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "")
      : spec.loadBalancerIP
        ? [spec.loadBalancerIP]
        : [];
  const families = (spec.ipFamilies ?? []).filter((f): f is Family => f === "IPv4" || f === "IPv6");
  if (families.length === 0) families.push(familyOf(spec.clusterIP ?? "") === "IPv6" ? "IPv6" : "IPv4");
  const policy = spec.ipFamilyPolicy;
  const familyPolicy: FamilyPolicy =
    policy === "PreferDualStack" || policy === "RequireDualStack" ? policy : "SingleStack";
  const local = spec.externalTrafficPolicy === "Local";
  return {
    key: serviceKey(svc),
    namespace: meta.namespace ?? "",
    namespaceLabels,
    labels: meta.labels ?? {},
    families,
    familyPolicy,
    requestedAddresses,
    requestedPool: nonEmpty(annotations[ANNOTATION.addressPool]),
    sharingKey: nonEmpty(annotations[ANNOTATION.allowSharedIP]),
    ports: (spec.ports ?? []).map((p) => ({ protocol: p.protocol ?? "TCP", port: p.port })),
    // The namespace is part of it: a selector picks Pods of its own namespace only.
    backendKey: local ? `local:${meta.namespace ?? ""}/${labelsKey(spec.selector ?? {})}` : "",
  };
}

/** The ingress addresses the Service's status shows now. */
export function ingressAddresses(svc: V1Service): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []));
}

/**
 * The operator's override of the conflict probe: announce the Service's addresses even when a
 * foreign host answers for them. "true" or "false"; anything else is refused (and means false).
 */
export function ignoresAddressConflicts(svc: V1Service): { value: boolean; error?: string } {
  const raw = svc.metadata?.annotations?.[ANNOTATION.ignoreAddressConflicts];
  if (raw === undefined) return { value: false };
  const v = raw.trim();
  if (v === "true") return { value: true };
  if (v === "false") return { value: false };
  return {
    value: false,
    error: `annotation ${ANNOTATION.ignoreAddressConflicts} must be "true" or "false", not ${JSON.stringify(raw.slice(0, 64))}`,
  };
}

export function allocatedPool(svc: V1Service): string | undefined {
  return nonEmpty(svc.metadata?.annotations?.[ANNOTATION.allocatedFromPool]);
}

export interface ServiceStatusPatch {
  /** Merge patch for the status subresource, or undefined when status is already right. */
  readonly status: object | undefined;
}

/** True once the Service is being deleted (it stays in the API until its finalizers are gone). */
export function isTerminating(svc: V1Service): boolean {
  return svc.metadata?.deletionTimestamp != null;
}

export function hasFinalizer(svc: V1Service): boolean {
  return (svc.metadata?.finalizers ?? []).includes(FINALIZER);
}

/**
 * The finalizer list with Herald's added or taken out, for a merge patch. A merge patch replaces a
 * list whole, so the patch carries the resourceVersion it was computed from: the API server
 * answers 409 (retried) rather than drop a finalizer another controller added meanwhile.
 */
export function finalizersPatch(
  svc: V1Service,
  want: boolean,
): { resourceVersion?: string; finalizers: string[] } {
  const others = (svc.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER);
  const rv = svc.metadata?.resourceVersion;
  return { ...(rv ? { resourceVersion: rv } : {}), finalizers: want ? [...others, FINALIZER] : others };
}

/**
 * The status (and pool annotation, and finalizer) the Service should have for this assignment;
 * undefined parts are already correct, so steady state writes nothing. The finalizer goes on with
 * the first address and comes off with the last. ipMode is set only where the API server knows
 * the field (1.29+). The status subresource takes metadata too, as it does for the Kubernetes
 * service controller's finalizer.
 */
export function statusPatch(
  svc: V1Service,
  assignment: Assignment | undefined,
  ipMode: IPMode | undefined,
): ServiceStatusPatch {
  const want = (assignment?.addresses ?? []).map((ip) => (ipMode ? { ip, ipMode } : { ip }));
  const have = (svc.status?.loadBalancer?.ingress ?? []).map((i) => {
    const mode = (i as { ipMode?: string }).ipMode;
    return ipMode && mode ? { ip: i.ip, ipMode: mode } : { ip: i.ip };
  });
  const poolWanted = assignment?.pool;
  const poolHave = allocatedPool(svc);
  const ingressSame = isDeepStrictEqual(want, have);
  const finalizerWanted = assignment !== undefined;
  const finalizerSame = hasFinalizer(svc) === finalizerWanted;
  if (ingressSame && poolWanted === poolHave && finalizerSame) return { status: undefined };
  return {
    status: {
      metadata: {
        annotations: { [ANNOTATION.allocatedFromPool]: poolWanted ?? null },
        ...(finalizerSame ? {} : finalizersPatch(svc, finalizerWanted)),
      },
      status: { loadBalancer: { ingress: want } },
    },
  };
}

function nonEmpty(s: string | undefined): string | undefined {
  const t = s?.trim();
  return t ? t : undefined;
}

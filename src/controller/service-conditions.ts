// The Service's own view of an address conflict: speakers never write Services (they would need
// services/status on every node, which also holds the addresses), so the controller mirrors
// the AddressConflict condition a speaker puts on the ServiceAnnouncement onto the Service's
// `status.conditions` (Kubernetes 1.20+), where `kubectl get svc -o yaml` and tools that read
// conditions see it. True while the ServiceAnnouncement says so; False once it no longer does
// (a Service that never had a conflict gets no condition at all, and no write). Pure.
import type { V1Service } from "@kubernetes/client-node";

export const SERVICE_CONFLICT_CONDITION = "herald.dev/AddressConflict";

export interface ConditionSource {
  status?: {
    conditions?: readonly { type?: string; status?: string; reason?: string; message?: string }[];
  };
}

export interface ServiceCondition {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** The merge patch for the Service's status subresource, or undefined when it is right already. */
export function conflictConditionPatch(
  svc: V1Service,
  announcement: ConditionSource | undefined,
  now: string,
): { status: { conditions: object[] } } | undefined {
  const current = (svc.status?.conditions ?? []) as unknown as Partial<ServiceCondition>[];
  const mine = current.find((c) => c.type === SERVICE_CONFLICT_CONDITION);
  const source = announcement?.status?.conditions?.find(
    (c) => c.type === "AddressConflict" && c.status === "True",
  );
  const generation = svc.metadata?.generation;
  let want: ServiceCondition;
  if (source) {
    want = {
      type: SERVICE_CONFLICT_CONDITION,
      status: "True",
      reason: validReason(source.reason) ?? "AddressInUse",
      message: (source.message ?? "").slice(0, 32_768),
      lastTransitionTime: mine?.status === "True" && mine.lastTransitionTime ? mine.lastTransitionTime : now,
    };
  } else if (mine?.status === "True") {
    want = {
      type: SERVICE_CONFLICT_CONDITION,
      status: "False",
      reason: "NoConflict",
      message: "no host outside the cluster answers for the Service's addresses any more",
      lastTransitionTime: now,
    };
  } else return undefined;
  if (typeof generation === "number") want.observedGeneration = generation;
  if (
    mine &&
    mine.status === want.status &&
    mine.reason === want.reason &&
    mine.message === want.message &&
    mine.observedGeneration === want.observedGeneration
  )
    return undefined;
  // A merge patch replaces the list: keep everyone else's conditions as they are.
  return {
    status: { conditions: [...current.filter((c) => c.type !== SERVICE_CONFLICT_CONDITION), want] },
  };
}

/** metav1.Condition's reason pattern; a speaker's reason that does not fit is replaced. */
function validReason(reason: string | undefined): string | undefined {
  return reason && /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/.test(reason) && reason.length <= 1024
    ? reason
    : undefined;
}

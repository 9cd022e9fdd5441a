// Herald's conditions in the Service's `status.conditions` (Kubernetes 1.20+), where `kubectl get
// svc -o yaml` and tools that read conditions see them. Pure.
// - herald.dev/AddressConflict: speakers never write Services (they would need services/status
//   on every node, which also holds the addresses), so the controller mirrors the
//   AddressConflict condition a speaker puts on the ServiceAnnouncement. True while the
//   ServiceAnnouncement says so; False once it no longer does.
// - herald.dev/StatusWritten: False while the API server refuses the status write for good.
// A Service that never had either gets no condition at all, and no write.
import type { V1Service } from "@kubernetes/client-node";

export const SERVICE_CONFLICT_CONDITION = "herald.dev/AddressConflict";
/** False while the API server refuses the status Herald decided for the Service (say, a 422). */
export const SERVICE_STATUS_CONDITION = "herald.dev/StatusWritten";

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

/** A status write the API server refused for good (a 4xx other than 409 and 429). */
export interface WriteRejection {
  readonly reason: string;
  readonly message: string;
}

export interface ConditionInputs {
  /** The Service's ServiceAnnouncement, whose AddressConflict condition is mirrored. */
  announcement: ConditionSource | undefined;
  /** The status write Herald could not make, while it stands. */
  rejection: WriteRejection | undefined;
}

type Current = Partial<ServiceCondition>;

/** The merge patch for the Service's status subresource, or undefined when it is right already. */
export function serviceConditionsPatch(
  svc: V1Service,
  inputs: ConditionInputs,
  now: string,
): { status: { conditions: object[] } } | undefined {
  const current = (svc.status?.conditions ?? []) as unknown as Current[];
  const find = (type: string) => current.find((c) => c.type === type);
  const generation = svc.metadata?.generation;
  const wants = [
    conflictCondition(find(SERVICE_CONFLICT_CONDITION), inputs.announcement, now),
    statusWrittenCondition(find(SERVICE_STATUS_CONDITION), inputs.rejection, now),
  ].flatMap((w) => (w === undefined ? [] : [w]));
  for (const w of wants) if (typeof generation === "number") w.observedGeneration = generation;
  const changed = wants.filter((w) => !same(find(w.type), w));
  if (changed.length === 0) return undefined;
  // A merge patch replaces the list: keep everyone else's conditions as they are.
  const mine = new Set(changed.map((w) => w.type));
  return { status: { conditions: [...current.filter((c) => !mine.has(c.type ?? "")), ...changed] } };
}

/** True while the ServiceAnnouncement says so; False once it no longer does; none if never. */
function conflictCondition(
  mine: Current | undefined,
  announcement: ConditionSource | undefined,
  now: string,
): ServiceCondition | undefined {
  const source = announcement?.status?.conditions?.find(
    (c) => c.type === "AddressConflict" && c.status === "True",
  );
  if (source) {
    return {
      type: SERVICE_CONFLICT_CONDITION,
      status: "True",
      reason: validReason(source.reason) ?? "AddressInUse",
      message: (source.message ?? "").slice(0, 32_768),
      lastTransitionTime: mine?.status === "True" && mine.lastTransitionTime ? mine.lastTransitionTime : now,
    };
  }
  if (mine?.status !== "True") return undefined;
  return {
    type: SERVICE_CONFLICT_CONDITION,
    status: "False",
    reason: "NoConflict",
    message: "no host outside the cluster answers for the Service's addresses any more",
    lastTransitionTime: now,
  };
}

/** False while the API server refuses the status Herald decided; True once it took it; none if never refused. */
function statusWrittenCondition(
  mine: Current | undefined,
  rejection: WriteRejection | undefined,
  now: string,
): ServiceCondition | undefined {
  if (rejection) {
    return {
      type: SERVICE_STATUS_CONDITION,
      status: "False",
      reason: validReason(rejection.reason) ?? "Rejected",
      message: rejection.message.slice(0, 32_768),
      lastTransitionTime: mine?.status === "False" && mine.lastTransitionTime ? mine.lastTransitionTime : now,
    };
  }
  if (mine?.status !== "False") return undefined;
  return {
    type: SERVICE_STATUS_CONDITION,
    status: "True",
    reason: "Written",
    message: "the Service's status shows what Herald decided",
    lastTransitionTime: now,
  };
}

function same(mine: Current | undefined, want: ServiceCondition): boolean {
  return (
    mine !== undefined &&
    mine.status === want.status &&
    mine.reason === want.reason &&
    mine.message === want.message &&
    mine.observedGeneration === want.observedGeneration
  );
}

/** metav1.Condition's reason pattern; a speaker's reason that does not fit is replaced. */
export function validReason(reason: string | undefined): string | undefined {
  return reason && /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/.test(reason) && reason.length <= 1024
    ? reason
    : undefined;
}

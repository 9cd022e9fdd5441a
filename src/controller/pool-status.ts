// The status an IPAddressPool should show: exact counts per family (as text,
// since a /64 does not fit an int64) and the Valid and Exhausted conditions.
import { isDeepStrictEqual } from "node:util";
import { formatFieldErrors } from "../api/field-error.js";
import type { PoolParse } from "../api/ipaddresspool.js";
import type { PoolCounts } from "../domain/allocator.js";

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export interface PoolStatus {
  observedGeneration?: number;
  assigned: string;
  available: string;
  families: Record<string, { total: string; assigned: string; available: string }>;
  conditions: Condition[];
}

export function desiredPoolStatus(
  parse: PoolParse,
  counts: PoolCounts | undefined,
  generation: number | undefined,
): PoolStatus {
  const families: PoolStatus["families"] = {};
  let assigned = 0n;
  let available = 0n;
  let total = 0n;
  for (const family of ["IPv4", "IPv6"] as const) {
    const c = counts?.[family];
    if (c === undefined || c.total + c.assigned === 0n) continue;
    families[family] = { total: `${c.total}`, assigned: `${c.assigned}`, available: `${c.available}` };
    assigned += c.assigned;
    available += c.available;
    total += c.total;
  }
  const valid: Condition = parse.ok
    ? { type: "Valid", status: "True", reason: "Valid", message: "the pool hands out addresses" }
    : {
        type: "Valid",
        status: "False",
        reason: parse.errors.some((e) => e.message.includes(" of pool ")) ? "Overlap" : "InvalidSpec",
        message: `${formatFieldErrors(parse.errors)}; no new addresses are handed out, existing ones stay`,
      };
  const exhausted: Condition =
    parse.ok && total > 0n && available === 0n
      ? {
          type: "Exhausted",
          status: "True",
          reason: "NoFreeAddress",
          message: `all ${total} addresses are in use`,
        }
      : {
          type: "Exhausted",
          status: "False",
          reason: "FreeAddresses",
          message: `${available} of ${total} free`,
        };
  const conditions = [valid, exhausted].map((c) =>
    generation === undefined ? c : { ...c, observedGeneration: generation },
  );
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    assigned: `${assigned}`,
    available: `${available}`,
    families,
    conditions,
  };
}

/**
 * Carries lastTransitionTime over from the current conditions when the status
 * did not change, so rewriting the same status is a no-op and times mean what they say.
 */
export function withTransitionTimes(
  want: PoolStatus,
  current: Condition[] | undefined,
  now: string,
): PoolStatus {
  const conditions = want.conditions.map((c) => {
    const old = current?.find((o) => o.type === c.type);
    return {
      ...c,
      lastTransitionTime:
        old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now,
    };
  });
  return { ...want, conditions };
}

/** True when the current status already says what want says (ignoring times). */
export function sameStatus(want: PoolStatus, current: unknown): boolean {
  return isDeepStrictEqual(strip(want), strip(current));
}

function strip(s: unknown): unknown {
  if (typeof s !== "object" || s === null) return s;
  const o = s as Partial<PoolStatus>;
  return {
    observedGeneration: o.observedGeneration ?? null,
    assigned: o.assigned,
    available: o.available,
    families: o.families ?? {},
    conditions: (o.conditions ?? []).map(({ type, status, reason, message, observedGeneration }) => ({
      type,
      status,
      reason,
      message,
      observedGeneration: observedGeneration ?? null,
    })),
  };
}

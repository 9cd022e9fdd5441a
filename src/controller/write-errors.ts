// How the controller takes a failed write. Retryable errors (409, 429, 5xx, network) are thrown
// on: the work queue retries them with backoff. Terminal ones (any other 4xx) will fail the
// same way however often they are retried, so they become a Warning event and a condition on
// the object, and the write waits until the object or what Herald wants to write changes, or
// for `REFUSED_RETRY_MS`: what refused it (RBAC, an admission webhook, a quota) can be fixed
// without touching the object, and the controller must then heal on its own.
import { codeOf, isRetryable } from "../errors.js";
import type { WriteRejection } from "./service-conditions.js";

export type WriteFailure =
  /** The object is gone (404): its deletion reaches the controller on its own. */
  | { readonly kind: "gone" }
  | { readonly kind: "rejected"; readonly rejection: WriteRejection; readonly log: object };

export const REJECTED_EVENT_REASON = "StatusWriteRejected";

/** A refused write is tried again after this long even when nothing changed (client-go's backoff cap is ~17 min). */
export const REFUSED_RETRY_MS = 10 * 60_000;

/** Throws e on when a retry may succeed; otherwise says what to report. */
export function terminalWriteFailure(e: unknown, what: string): WriteFailure {
  if (isRetryable(e)) throw e;
  const { status, reason } = e as { status?: unknown; reason?: unknown };
  if (status === 404) return { kind: "gone" };
  const why = e instanceof Error ? e.message : String(e);
  return {
    kind: "rejected",
    rejection: {
      reason: typeof reason === "string" && reason !== "" ? reason : "Rejected",
      message: `the API server refused ${what} (${why}); Herald tries again when the object changes, and every ${REFUSED_RETRY_MS / 60_000} minutes`,
    },
    log: { code: codeOf(e) ?? "unknown", status, err: why },
  };
}

/** A write refused for good, remembered so that it is neither repeated nor reported again. */
export interface Refused {
  readonly uid: string;
  readonly resourceVersion: string;
  /** What Herald wanted to write, as JSON. */
  readonly want: string;
  readonly rejection: WriteRejection;
  /** When it was refused (monotonic ms). */
  readonly at: number;
}

/** True when the same write to the same object version was refused less than REFUSED_RETRY_MS ago. */
export function refusedAlready(
  r: Refused | undefined,
  uid: string,
  resourceVersion: string,
  want: string,
  now: number,
): boolean {
  return (
    r !== undefined &&
    r.uid === uid &&
    r.resourceVersion === resourceVersion &&
    r.want === want &&
    now - r.at < REFUSED_RETRY_MS
  );
}

/** True when this refusal says something the last one for the same object did not (worth an event). */
export function newRefusal(last: Refused | undefined, uid: string, rejection: WriteRejection): boolean {
  return last === undefined || last.uid !== uid || last.rejection.message !== rejection.message;
}

// The flags both components share for what their HTTP server shows and how long
// their audit log keeps files, and the access policy they turn into.
import type { RetentionLimits } from "../audit/retention.js";
import { AccessReviewer } from "../http/access.js";
import type { DebugAccess } from "../http/server.js";
import type { Rest } from "../k8s/rest.js";
import { kubeReviews } from "../k8s/reviews.js";
import { bytesFlag, durationFlag, FlagError, type FlagSpec } from "./flags.js";

export function servingFlags(maxBytes: string) {
  return {
    "http-auth": {
      default: "kubernetes",
      help:
        "who may read /debug/state and /audit: kubernetes (a Bearer token that TokenReview accepts and " +
        "SubjectAccessReview allows) or none (callers on loopback only); /healthz /readyz /metrics stay open",
    },
    "audit-max-bytes": {
      env: "HERALD_AUDIT_MAX_BYTES",
      default: maxBytes,
      help: "remove the oldest audit Parquet files beyond this total (512Mi, 2Gi; 0: no limit)",
    },
    "audit-max-age": {
      env: "HERALD_AUDIT_MAX_AGE",
      default: "30d",
      help: "remove audit Parquet files written longer ago than this (12h, 30d; 0: no limit)",
    },
  } satisfies Record<string, FlagSpec>;
}

export interface Serving {
  auth: "kubernetes" | "none";
  retention: RetentionLimits;
}

export function parseServing(
  flags: Record<"http-auth" | "audit-max-bytes" | "audit-max-age", string | undefined>,
): Serving {
  const auth = flags["http-auth"];
  if (auth !== "kubernetes" && auth !== "none") {
    throw new FlagError(`--http-auth must be kubernetes or none, got "${auth}"`);
  }
  const maxBytes = bytesFlag("audit-max-bytes", flags["audit-max-bytes"]);
  const maxAgeMs = durationFlag("audit-max-age", flags["audit-max-age"]);
  return {
    auth,
    retention: {
      ...(maxBytes === undefined ? {} : { maxBytes }),
      ...(maxAgeMs === undefined ? {} : { maxAgeMs }),
    },
  };
}

export function debugAccess(
  serving: Serving,
  rest: Rest,
  component: "speaker" | "controller",
  namespace: string,
): DebugAccess {
  if (serving.auth === "none") return { mode: "localhost" };
  return {
    mode: "kubernetes",
    reviewer: new AccessReviewer({ reviews: kubeReviews(rest), now: Date.now }),
    component,
    namespace,
  };
}

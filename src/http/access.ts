// Who may read /debug/state and /audit, the way kube-rbac-proxy decides it: the
// caller's Bearer token goes to a TokenReview, the user it names to a
// SubjectAccessReview for `get` on a virtual herald.dev resource:
//
//   /debug/state  ->  get speakers/debug   (controllers/debug on the controller)
//   /audit        ->  get speakers/audit   (controllers/audit)
//
// in the component's namespace, so a Role there can grant it. Decisions are cached
// briefly per (token, resource) in a bounded map, and reviews in flight are bounded,
// so a caller spraying random tokens costs the API server a few requests, not one each.
import { createHash } from "node:crypto";
import { ERRORS, type HeraldCode } from "../errors.js";

export interface ReviewedUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** The two API calls (k8s/reviews.ts makes them; tests give their own). */
export interface Reviews {
  /** The token's user, or undefined when the API server does not accept the token. */
  authenticate(token: string): Promise<ReviewedUser | undefined>;
  authorize(
    user: ReviewedUser,
    attributes: ResourceAttributes,
  ): Promise<{ allowed: boolean; reason?: string }>;
}

/** The registry's HTTP access codes; each answers with the status the registry gives it. */
export type AccessCode = Extract<HeraldCode, `HERALD_HTTP_${string}`>;
export type AccessStatus = (typeof ERRORS)[AccessCode]["status"];

export interface AccessDenied {
  status: AccessStatus;
  code: AccessCode;
  message: string;
}

export type AccessDecision = { status: 200; user: string } | AccessDenied;

/** What a request to one of the guarded paths is checked as. */
export function debugAttributes(
  component: "speaker" | "controller",
  namespace: string,
  what: "debug" | "audit",
): ResourceAttributes {
  return { verb: "get", group: "herald.dev", resource: `${component}s`, subresource: what, namespace };
}

export interface AccessReviewerOptions {
  reviews: Reviews;
  /** Milliseconds, for the cache (injected so tests move it). */
  now: () => number;
  /** How long a decision is reused (default 10 s): a revoked grant or token lasts at most this long. */
  ttlMs?: number;
  /** Cached decisions kept at most (default 1024); the oldest goes first. */
  maxEntries?: number;
  /** Reviews under way at once (default 16); beyond it callers get 429. */
  maxInFlight?: number;
}

/** Longer is no token a Kubernetes API server issues; refused without asking it. */
const MAX_TOKEN_BYTES = 16 * 1024;

export const deny = (code: AccessCode, message: string): AccessDenied => ({
  status: ERRORS[code].status,
  code,
  message,
});

export class AccessReviewer {
  private readonly reviews: Reviews;
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly maxInFlight: number;
  private readonly cache = new Map<string, { untilMs: number; decision: Promise<AccessDecision> }>();
  private inFlight = 0;

  constructor(options: AccessReviewerOptions) {
    this.reviews = options.reviews;
    this.now = options.now;
    this.ttlMs = options.ttlMs ?? 10_000;
    this.maxEntries = options.maxEntries ?? 1024;
    this.maxInFlight = options.maxInFlight ?? 16;
  }

  /** Cached decisions, for tests and the debug view. */
  get size(): number {
    return this.cache.size;
  }

  check(authorization: string | undefined, attributes: ResourceAttributes): Promise<AccessDecision> {
    const m = /^Bearer +(\S+)\s*$/i.exec(authorization ?? "");
    const token = m?.[1];
    if (token === undefined) {
      return Promise.resolve(deny("HERALD_HTTP_UNAUTHENTICATED", "a Bearer token is required"));
    }
    if (token.length > MAX_TOKEN_BYTES) {
      return Promise.resolve(deny("HERALD_HTTP_UNAUTHENTICATED", "the token is not valid"));
    }
    const key = `${createHash("sha256").update(token).digest("hex")} ${JSON.stringify(attributes)}`;
    const now = this.now();
    const cached = this.cache.get(key);
    if (cached && cached.untilMs > now) return cached.decision;
    if (cached) this.cache.delete(key);
    if (this.inFlight >= this.maxInFlight) {
      return Promise.resolve(
        deny("HERALD_HTTP_AUTH_BUSY", `${this.inFlight} access reviews are already under way`),
      );
    }
    this.inFlight++;
    const decision = this.review(token, attributes).finally(() => {
      this.inFlight--;
    });
    while (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    const entry = { untilMs: now + this.ttlMs, decision };
    this.cache.set(key, entry);
    // The API server's trouble is not an answer about the caller: ask again next time.
    void decision.then((d) => {
      if (d.status === 503 && this.cache.get(key) === entry) this.cache.delete(key);
    });
    return decision;
  }

  private async review(token: string, attributes: ResourceAttributes): Promise<AccessDecision> {
    let user: ReviewedUser | undefined;
    try {
      user = await this.reviews.authenticate(token);
    } catch (error) {
      return deny("HERALD_HTTP_AUTH_UNAVAILABLE", `TokenReview failed: ${String(error)}`);
    }
    if (user === undefined) return deny("HERALD_HTTP_UNAUTHENTICATED", "the token is not valid");
    let answer: { allowed: boolean; reason?: string };
    try {
      answer = await this.reviews.authorize(user, attributes);
    } catch (error) {
      return deny("HERALD_HTTP_AUTH_UNAVAILABLE", `SubjectAccessReview failed: ${String(error)}`);
    }
    if (!answer.allowed) {
      const what = `${attributes.verb} ${attributes.resource}/${attributes.subresource ?? ""}.${attributes.group}`;
      return deny(
        "HERALD_HTTP_FORBIDDEN",
        `${user.username} may not ${what} in namespace ${attributes.namespace ?? "(all)"}`,
      );
    }
    return { status: 200, user: user.username };
  }
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped addresses. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return v4.startsWith("127.") || address === "::1";
}

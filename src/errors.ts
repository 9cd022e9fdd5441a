// The one registry of Herald's coded errors, after fastify's FST_ERR_*: every code once, with
// whether doing the same thing again can succeed (retryable) or cannot until something else
// changes (terminal), and the HTTP status where Herald answers with one. Codes are stable and
// never reused: they reach log lines, metric labels, HTTP bodies and conditions.
//
// "by-status" is for errors that carry the API server's answer: 409 (a conflict), 429 (slow
// down) and 5xx are worth retrying; any other 4xx says the request itself is wrong.

export type Retry = "retryable" | "terminal" | "by-status";

export interface ErrorSpec {
  readonly retry: Retry;
  /** The HTTP status Herald answers with for it, where it answers with one. */
  readonly status?: number;
  readonly description: string;
}

export const ERRORS = {
  // audit log (src/audit)
  HERALD_AUDIT_BAD_EVENT: { retry: "terminal", description: "an audit event that breaks the schema" },
  HERALD_AUDIT_NOT_STARTED: { retry: "retryable", description: "the audit log is not recovered yet" },
  HERALD_AUDIT_STOPPED: { retry: "terminal", description: "the audit log was stopped (or started twice)" },
  HERALD_AUDIT_BACKLOG: { retry: "retryable", description: "too many audit events wait for the journal" },
  HERALD_AUDIT_JOURNAL_WRITE: { retry: "retryable", description: "the journal could not be written" },
  HERALD_AUDIT_PARQUET_WRITE: { retry: "retryable", description: "a Parquet file could not be written" },
  HERALD_AUDIT_RETENTION: { retry: "retryable", description: "old audit files could not be removed" },
  HERALD_AUDIT_BAD_FILE: { retry: "terminal", description: "an audit file that is not what it should be" },
  HERALD_AUDIT_BAD_QUERY: { retry: "terminal", status: 400, description: "an audit query Herald cannot run" },
  HERALD_AUDIT_QUERY_BUSY: {
    retry: "retryable",
    status: 429,
    description: "every audit query worker is busy",
  },
  HERALD_AUDIT_QUERY_TIMEOUT: { retry: "retryable", status: 504, description: "an audit query ran too long" },
  HERALD_AUDIT_QUERY_FAILED: { retry: "retryable", status: 500, description: "an audit query failed" },
  // HTTP server (src/http)
  HERALD_HTTP_UNAUTHENTICATED: {
    retry: "terminal",
    status: 401,
    description: "no token, or one that is not valid",
  },
  HERALD_HTTP_FORBIDDEN: { retry: "terminal", status: 403, description: "the caller may not read this path" },
  HERALD_HTTP_AUTH_BUSY: {
    retry: "retryable",
    status: 429,
    description: "too many access reviews under way",
  },
  HERALD_HTTP_AUTH_UNAVAILABLE: {
    retry: "retryable",
    status: 503,
    description: "access could not be reviewed",
  },
  HERALD_HTTP_LOCAL_ONLY: {
    retry: "terminal",
    status: 403,
    description: "with auth off, loopback callers only",
  },
  // Kubernetes API client (src/k8s)
  HERALD_KUBE_HTTP: { retry: "by-status", description: "the API server answered with an error status" },
  HERALD_KUBE_OVERLOADED: { retry: "retryable", description: "too many API requests in flight and queued" },
  HERALD_KUBECONFIG: { retry: "terminal", description: "no usable kubeconfig or service account" },
  // command line (src/cli)
  HERALD_FLAG: { retry: "terminal", description: "a command-line flag that is unknown or malformed" },
  HERALD_CRASH: { retry: "terminal", description: "an unhandled error; the process exits" },
  // speaker (src/speaker)
  HERALD_L2_ENCODE: { retry: "terminal", description: "a frame Herald builds with a malformed address" },
  HERALD_HEARTBEAT_ENCODE: { retry: "terminal", description: "a heartbeat that cannot be encoded" },
  HERALD_PACKET_SOCKET: {
    retry: "retryable",
    description:
      "a packet socket call failed (the kernel's errno in `errno`); the link is opened again when it changes",
  },
  HERALD_PACKET_ADDON: { retry: "terminal", description: "the packet socket addon is not built" },
  HERALD_NOT_STARTED: { retry: "terminal", description: "a component used before start()" },
  HERALD_NOT_BOUND: {
    retry: "retryable",
    description: "a heartbeat sent while its socket is not bound (it is bound again every second)",
  },
} as const satisfies Record<string, ErrorSpec>;

export type HeraldCode = keyof typeof ERRORS;

/** The base of Herald's coded errors: the code, and with it what the registry says of it. */
export class HeraldError<C extends HeraldCode = HeraldCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  /** The registry's entry for this error's code. */
  get spec(): ErrorSpec {
    return ERRORS[this.code];
  }
}

/** A base class for an error with one fixed code: `class FlagError extends codedError("HERALD_FLAG") {}`. */
export function codedError<C extends HeraldCode>(code: C) {
  return class extends HeraldError<C> {
    constructor(message: string, options?: ErrorOptions) {
      super(code, message, options);
    }
  };
}

/** What the API server's answer says about trying the same request again. */
export function statusRetryable(status: number): boolean {
  return status === 409 || status === 429 || status >= 500;
}

/**
 * Whether doing the same again may succeed. Errors outside the registry (a reset connection,
 * a timeout, DNS) are network trouble and retryable.
 */
export function isRetryable(error: unknown): boolean {
  const code = codeOf(error);
  if (code === undefined) return true;
  const spec: ErrorSpec = ERRORS[code];
  if (spec.retry !== "by-status") return spec.retry === "retryable";
  const status = (error as { status?: unknown }).status;
  return typeof status !== "number" || statusRetryable(status);
}

/** The registry code an error carries, if it carries one. */
export function codeOf(error: unknown): HeraldCode | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && Object.hasOwn(ERRORS, code) ? (code as HeraldCode) : undefined;
}

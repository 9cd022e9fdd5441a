// Coded errors of the audit log. Codes are stable and never reused: they reach
// metric labels, log lines and HTTP bodies.
import { HeraldError } from "../errors.js";

export type AuditErrorCode =
  | "HERALD_AUDIT_BAD_EVENT"
  | "HERALD_AUDIT_NOT_STARTED"
  | "HERALD_AUDIT_STOPPED"
  | "HERALD_AUDIT_BACKLOG"
  | "HERALD_AUDIT_JOURNAL_WRITE"
  | "HERALD_AUDIT_PARQUET_WRITE"
  | "HERALD_AUDIT_RETENTION"
  | "HERALD_AUDIT_BAD_FILE"
  | "HERALD_AUDIT_BAD_QUERY"
  | "HERALD_AUDIT_QUERY_BUSY"
  | "HERALD_AUDIT_QUERY_TIMEOUT"
  | "HERALD_AUDIT_QUERY_FAILED";

export class AuditError extends HeraldError<AuditErrorCode> {
  /** The operating-system error code underneath (ENOSPC, EACCES, ...), when there is one. */
  readonly sysCode: string | undefined;

  constructor(code: AuditErrorCode, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.name = "AuditError";
    this.sysCode = systemCode(cause);
  }
}

export function systemCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return undefined;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

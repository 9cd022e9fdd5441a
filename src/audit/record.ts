// One journal record: an event as JSON inside a frame. Pure.
import { AuditError, describe } from "./errors.js";
import { AUDIT_SCHEMA_VERSION, type AuditEvent } from "./event.js";

export function encodeRecord(event: AuditEvent): Buffer {
  const { timeNs, ...rest } = event;
  return Buffer.from(JSON.stringify({ v: AUDIT_SCHEMA_VERSION, ...rest, timeNs: timeNs.toString() }));
}

export function decodeRecord(payload: Buffer): AuditEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString("utf8"));
  } catch (error) {
    throw new AuditError("HERALD_AUDIT_BAD_FILE", `journal record is not JSON: ${describe(error)}`, error);
  }
  if (typeof parsed !== "object" || parsed === null) {
    throw new AuditError("HERALD_AUDIT_BAD_FILE", "journal record is not an object");
  }
  const { v, timeNs, ...rest } = parsed as Record<string, unknown>;
  if (typeof v !== "number" || v > AUDIT_SCHEMA_VERSION) {
    throw new AuditError(
      "HERALD_AUDIT_BAD_FILE",
      `journal record version ${String(v)} is not one this Herald reads`,
    );
  }
  if (typeof timeNs !== "string" || !/^\d+$/.test(timeNs) || typeof rest.seq !== "number") {
    throw new AuditError("HERALD_AUDIT_BAD_FILE", "journal record lacks seq or timeNs");
  }
  return { ...(rest as Omit<AuditEvent, "timeNs">), timeNs: BigInt(timeNs) };
}

// What the controller and the speaker see of the audit log.
import { AuditError } from "./errors.js";
import { type AuditEvent, type AuditEventInput, validateEvent } from "./event.js";

/**
 * The outcome of one record(). The promise never rejects and record() never throws:
 * a decision is never held up by the audit log. `durable: true` arrives only
 * after the event is on disk (fsync); `durable: false` says why it is not, and the
 * caller carries on (it is already counted, logged and reflected in readiness).
 */
export type AuditAck = { durable: true; seq: number } | { durable: false; error: AuditError };

export interface AuditSink {
  record(event: AuditEventInput): Promise<AuditAck>;
}

/** Keeps events in memory, for tests of the components that emit them. */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  private seq = 0;
  private readonly now: () => bigint;

  constructor(now: () => bigint = () => 0n) {
    this.now = now;
  }

  async record(event: AuditEventInput): Promise<AuditAck> {
    let checked: AuditEventInput;
    try {
      checked = validateEvent(event);
    } catch (error) {
      return { durable: false, error: toAuditError(error) };
    }
    this.seq++;
    this.events.push({ ...checked, seq: this.seq, timeNs: this.now() });
    return { durable: true, seq: this.seq };
  }
}

/** Accepts and forgets every event, for components run without an audit directory. */
export const nullAuditSink: AuditSink = {
  record: async () => ({ durable: true, seq: 0 }),
};

export function toAuditError(error: unknown): AuditError {
  return error instanceof AuditError ? error : new AuditError("HERALD_AUDIT_BAD_EVENT", String(error), error);
}

// The controller's decisions as audit events. The reconcile logs them itself; recording
// never holds a decision up (the audit log reports its own trouble in readiness and metrics).
import type { AuditSink } from "../audit/sink.js";
import type { DecisionLog } from "./ports.js";

export function auditedDecisions(audit: AuditSink, node: string): DecisionLog {
  return {
    record(d) {
      void audit.record({
        component: "controller",
        node,
        kind: d.kind,
        ...(d.service ? { service: d.service } : {}),
        addresses: [...d.addresses],
        ...(d.pool ? { pool: d.pool } : {}),
        reason: d.reason,
        message: d.message,
        ...(d.resourceVersion ? { resourceVersion: d.resourceVersion } : {}),
      });
    },
  };
}

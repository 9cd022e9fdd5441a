// Prometheus metrics of the audit log, registered on the registry the component passes in.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface AuditMetrics {
  events: Counter<"outcome">;
  errors: Counter<"op" | "code">;
  ready: Gauge;
  commitSeconds: Histogram;
  skippedBytes: Counter;
  files: Gauge;
  bytes: Gauge;
  journalBytes: Gauge;
  deletedFiles: Counter<"cause">;
}

export function auditMetrics(registry: Registry): AuditMetrics {
  const registers = [registry];
  return {
    events: new Counter({
      name: "herald_audit_events_total",
      help: "Audit events by outcome: durable (acknowledged) or failed (reported to the caller as not durable)",
      labelNames: ["outcome"],
      registers,
    }),
    errors: new Counter({
      name: "herald_audit_errors_total",
      help: "Audit log I/O errors by operation and system error code (ENOSPC, EACCES, ...)",
      labelNames: ["op", "code"],
      registers,
    }),
    ready: new Gauge({
      name: "herald_audit_ready",
      help: "1 while the audit log can make events durable and convert them to Parquet",
      registers,
    }),
    commitSeconds: new Histogram({
      name: "herald_audit_commit_seconds",
      help: "Time to write and fsync one batch of journal records",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    skippedBytes: new Counter({
      name: "herald_audit_journal_skipped_bytes_total",
      help: "Damaged journal bytes skipped on recovery (torn tails, corrupt stretches)",
      registers,
    }),
    files: new Gauge({
      name: "herald_audit_parquet_files",
      help: "Parquet files in the audit directory",
      registers,
    }),
    bytes: new Gauge({
      name: "herald_audit_parquet_bytes",
      help: "Bytes of Parquet files in the audit directory",
      registers,
    }),
    journalBytes: new Gauge({
      name: "herald_audit_journal_bytes",
      help: "Bytes in the active journal segment",
      registers,
    }),
    deletedFiles: new Counter({
      name: "herald_audit_retention_deleted_files_total",
      help: "Parquet files deleted by retention, by cause (age, size)",
      labelNames: ["cause"],
      registers,
    }),
  };
}

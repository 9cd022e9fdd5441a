import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { Disk } from "../../src/audit/disk.js";
import type { AuditEventInput, EventKind } from "../../src/audit/event.js";
import { AuditLog, type AuditLogOptions } from "../../src/audit/log.js";

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "herald-audit-test-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A pino logger that keeps its lines for assertions. */
export function memoryLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

export function newLog(dir: string, extra: Partial<AuditLogOptions> = {}) {
  const { logger, lines } = memoryLogger();
  const registry = new Registry();
  const log = new AuditLog({ dir, logger, registry, housekeepingMs: 20, retryMs: 20, ...extra });
  return { log, registry, lines };
}

export async function metric(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

export function event(kind: EventKind, i: number, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    component: ["announce", "withdraw", "takeover", "handover", "conflict-detected"].includes(kind)
      ? "speaker"
      : "controller",
    node: `node-${i % 3}`,
    kind,
    service: { namespace: `ns-${i % 2}`, name: `svc-${i}`, uid: `uid-${i}` },
    addresses: [`192.0.2.${i % 250}`, `2001:db8::${(i + 1).toString(16)}`],
    pool: "default",
    fromNode: `node-${(i + 1) % 3}`,
    toNode: `node-${i % 3}`,
    reason: "Test",
    message: `event ${i} with "quotes", commas and ünïcode`,
    resourceVersion: String(1000 + i),
    ...extra,
  };
}

/** Wraps a disk so writes fail with the given code while `broken()` says so. */
export function faultyDisk(base: Disk, broken: () => string | undefined): Disk {
  const check = () => {
    const code = broken();
    if (code) throw Object.assign(new Error(`${code}: simulated`), { code });
  };
  return {
    ...base,
    async createAppend(path) {
      check();
      const file = await base.createAppend(path);
      return {
        append: async (chunks) => {
          check();
          await file.append(chunks);
        },
        sync: async () => {
          check();
          await file.sync();
        },
        truncate: (n) => file.truncate(n),
        close: () => file.close(),
      };
    },
    async writeFileSynced(path, data) {
      check();
      await base.writeFileSynced(path, data);
    },
  };
}

// The durable audit log of one component: events checked, numbered and timed, made
// durable by the journal (journal.ts, group commit), sealed segments converted into
// Parquet files in the background, recovery on start, retention. start() first converts
// whatever segments a previous process left behind. All time (event times, segment age,
// retries, retention) comes from the injected Clock.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type Clock, nanoseconds, systemClock } from "../clock.js";
import { inlineConverter, type SegmentConverter } from "./converter.js";
import { type Disk, nodeDisk } from "./disk.js";
import { AuditError, type AuditErrorCode, describe, systemCode } from "./errors.js";
import { type AuditEvent, type AuditEventInput, validateEvent } from "./event.js";
import { encodeFrame } from "./frame.js";
import { Journal } from "./journal.js";
import { isTempName, JOURNAL_DIR, parseParquetName, parseSegmentName } from "./layout.js";
import { type AuditMetrics, auditMetrics } from "./metrics.js";
import { DEFAULT_ROW_GROUP_ROWS } from "./parquet-file.js";
import { encodeRecord } from "./record.js";
import { planRetention, type RetainedFile, type RetentionLimits } from "./retention.js";
import { type AuditAck, type AuditSink, toAuditError } from "./sink.js";

export interface AuditLogOptions {
  dir: string;
  logger: Logger;
  registry: Registry;
  disk?: Disk;
  clock?: Clock;
  /** Seal the active segment at this size (default 16 MiB). */
  segmentBytes?: number;
  /** Seal the active segment this long after its first record (default 60 s). */
  segmentAgeMs?: number;
  /** Rows per Parquet row group (default DEFAULT_ROW_GROUP_ROWS). */
  rowGroupRows?: number;
  retention?: RetentionLimits;
  /** Events waiting for the disk beyond which record() answers HERALD_AUDIT_BACKLOG (default 100 000). */
  maxPending?: number;
  /** Extra wait before each sync to gather a larger batch (default 0, at most 100 ms). */
  commitDelayMs?: number;
  /** How often age-based rolling and pending conversions are looked at (default 1 s). */
  housekeepingMs?: number;
  /**
   * How often retention runs besides after each conversion (default 60 s): files age out
   * also while no new file is written. Files' ages are measured on the clock's wall time.
   */
  retentionIntervalMs?: number;
  /**
   * Where segments become Parquet (default: this thread). Components pass
   * workerConverter() so that encoding runs beside journal commits, not between them.
   */
  converter?: SegmentConverter;
  /** Wait before retrying a failed conversion or recovery (default 5 s). */
  retryMs?: number;
}

export class AuditLog implements AuditSink {
  private readonly dir: string;
  private readonly journalDir: string;
  private readonly disk: Disk;
  private readonly clock: Clock;
  private readonly nowNs: () => bigint;
  private readonly logger: Logger;
  private readonly metrics: AuditMetrics;
  private readonly segmentAgeMs: number;
  private readonly rowGroupRows: number;
  private readonly retention: RetentionLimits;
  private readonly maxPending: number;
  private readonly housekeepingMs: number;
  private readonly retentionIntervalMs: number;
  /** clock.now() of the last retention run. */
  private lastRetentionMs = 0;
  private readonly retryMs: number;
  private readonly converter: SegmentConverter;

  private state: "new" | "running" | "stopping" | "stopped" = "new";
  private nextSeq = 1;
  private lastTimeNs = 0n;
  private readonly journal: Journal;
  /** Serialises segment conversions and retention. */
  private background: Promise<void> = Promise.resolve();
  private backgroundQueued = false;
  /** After a failed conversion or recovery, housekeeping waits until then (clock.now()) before trying again. */
  private retryAtMs = 0;
  private sealed: string[] = [];
  private timer: unknown;
  private recovered = false;
  private journalOk = true;
  private parquetOk = true;
  private lastError: AuditError | undefined;

  constructor(options: AuditLogOptions) {
    this.dir = options.dir;
    this.journalDir = join(options.dir, JOURNAL_DIR);
    this.disk = options.disk ?? nodeDisk;
    this.clock = options.clock ?? systemClock;
    this.nowNs = nanoseconds(this.clock);
    this.logger = options.logger.child({ component: "audit" });
    this.metrics = auditMetrics(options.registry);
    this.segmentAgeMs = options.segmentAgeMs ?? 60_000;
    this.rowGroupRows = options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
    this.retention = options.retention ?? {};
    this.maxPending = options.maxPending ?? 100_000;
    this.housekeepingMs = options.housekeepingMs ?? 1000;
    this.retentionIntervalMs = options.retentionIntervalMs ?? 60_000;
    this.retryMs = options.retryMs ?? 5000;
    this.converter = options.converter ?? inlineConverter(this.disk);
    this.journal = new Journal({
      dir: this.journalDir,
      disk: this.disk,
      clock: this.clock,
      metrics: this.metrics,
      segmentBytes: options.segmentBytes ?? 16 * 1024 * 1024,
      commitDelayMs: Math.min(100, Math.max(0, options.commitDelayMs ?? 0)),
      onSealed: (name) => {
        this.sealed.push(name);
        void this.scheduleConversions();
      },
      onFailure: (error) => this.fail("journal", "HERALD_AUDIT_JOURNAL_WRITE", error),
      onSuccess: () => {
        if (this.journalOk) return;
        this.journalOk = true;
        this.logger.info({ dir: this.dir }, "audit journal writable again");
        this.updateReady();
      },
    });
    this.metrics.ready.set(0);
  }

  /** True while events become durable and segments turn into Parquet files. */
  isReady(): boolean {
    return this.state === "running" && this.recovered && this.journalOk && this.parquetOk;
  }

  /** The most recent error, for readiness and debug endpoints. */
  lastProblem(): AuditError | undefined {
    return this.lastError;
  }

  /**
   * Converts what the journal holds from before, then accepts events. A directory
   * that cannot be used does not make start() fail: the log starts not ready,
   * answers record() with durable: false, and retries in housekeeping.
   */
  async start(): Promise<void> {
    if (this.state !== "new") throw new AuditError("HERALD_AUDIT_STOPPED", "audit log was already started");
    this.state = "running";
    await this.tryRecover();
    this.armHousekeeping();
  }

  private armHousekeeping(): void {
    this.timer = this.clock.setTimeout(() => {
      if (this.state !== "running") return;
      this.housekeeping();
      this.armHousekeeping();
    }, this.housekeepingMs);
    // A process with nothing else to do exits (the system clock's handle is a Node timer).
    (this.timer as { unref?: () => void } | undefined)?.unref?.();
  }

  /** Makes every accepted event durable, converts the last segment and stops. */
  async stop(): Promise<void> {
    if (this.state !== "running") return;
    this.state = "stopping";
    this.clock.clearTimeout(this.timer);
    await this.journal.flush();
    await this.journal.seal();
    await this.background;
    await this.converter.close();
    this.state = "stopped";
    this.updateReady();
  }

  record(input: AuditEventInput): Promise<AuditAck> {
    if (this.state !== "running") {
      const code = this.state === "new" ? "HERALD_AUDIT_NOT_STARTED" : "HERALD_AUDIT_STOPPED";
      return this.refuse(
        new AuditError(code, `audit log is ${this.state === "new" ? "not started" : "stopped"}`),
      );
    }
    if (!this.recovered) {
      return this.refuse(
        this.lastError ?? new AuditError("HERALD_AUDIT_NOT_STARTED", "audit journal not recovered yet"),
      );
    }
    let checked: AuditEventInput;
    try {
      checked = validateEvent(input);
    } catch (error) {
      return this.refuse(toAuditError(error));
    }
    if (this.journal.backlog >= this.maxPending) {
      return this.refuse(
        new AuditError(
          "HERALD_AUDIT_BACKLOG",
          `${this.journal.backlog} audit events are already waiting for the disk`,
        ),
      );
    }
    let timeNs = this.nowNs();
    if (timeNs <= this.lastTimeNs) timeNs = this.lastTimeNs + 1n;
    this.lastTimeNs = timeNs;
    const event: AuditEvent = { ...checked, seq: this.nextSeq++, timeNs };
    return this.journal.append(encodeFrame(encodeRecord(event)), event.seq);
  }

  private refuse(error: AuditError): Promise<AuditAck> {
    this.metrics.events.inc({ outcome: "failed" });
    return Promise.resolve({ durable: false, error });
  }

  /** Queues background work unless some is already waiting: housekeeping must not pile it up. */
  private runInBackground(work: () => Promise<void>): Promise<void> {
    if (this.backgroundQueued) return this.background;
    this.backgroundQueued = true;
    this.background = this.background.then(() => {
      this.backgroundQueued = false;
      return work();
    });
    return this.background;
  }

  private scheduleConversions(): Promise<void> {
    return this.runInBackground(() => this.convertSealed());
  }

  private async convertSealed(): Promise<void> {
    while (this.sealed.length > 0) {
      const name = this.sealed[0] as string;
      try {
        const result = await this.converter.convert(this.dir, name, this.rowGroupRows);
        this.reportDamage(name, result.skipped, result.badRecords);
        this.sealed.shift();
      } catch (error) {
        this.fail("parquet", "HERALD_AUDIT_PARQUET_WRITE", error);
        return; // retried by housekeeping; the segment stays in the journal meanwhile
      }
    }
    if (!this.parquetOk) {
      this.parquetOk = true;
      this.logger.info({ dir: this.dir }, "audit Parquet conversion working again");
      this.updateReady();
    }
    await this.applyRetention();
  }

  private reportDamage(
    segment: string,
    skipped: { offset: number; bytes: number; atTail: boolean }[],
    bad: number,
  ) {
    for (const s of skipped) {
      this.metrics.skippedBytes.inc(s.bytes);
      this.logger.warn(
        { segment, offset: s.offset, bytes: s.bytes, torn_tail: s.atTail },
        s.atTail ? "audit journal: torn tail skipped" : "audit journal: damaged records skipped",
      );
    }
    if (bad > 0) this.logger.warn({ segment, records: bad }, "audit journal: unreadable records skipped");
  }

  private async tryRecover(): Promise<void> {
    try {
      await this.disk.mkdirp(this.journalDir);
      await this.recover();
      this.recovered = true;
      this.parquetOk = true;
    } catch (error) {
      this.fail("recover", "HERALD_AUDIT_PARQUET_WRITE", error);
    }
    this.updateReady();
  }

  private async recover(): Promise<void> {
    for (const name of await this.disk.list(this.dir)) {
      if (isTempName(name)) await this.disk.unlink(join(this.dir, name));
    }
    let maxSeq = 0;
    for (const name of await this.disk.list(this.dir)) {
      const parsed = parseParquetName(name);
      if (parsed) maxSeq = Math.max(maxSeq, parsed.lastSeq);
    }
    const segments = (await this.disk.list(this.journalDir))
      .filter((n) => parseSegmentName(n) !== undefined)
      .sort();
    for (const name of segments) {
      const result = await this.converter.convert(this.dir, name, this.rowGroupRows);
      this.reportDamage(name, result.skipped, result.badRecords);
      const parsed = result.file ? parseParquetName(result.file) : undefined;
      maxSeq = Math.max(maxSeq, parsed?.lastSeq ?? 0, parseSegmentName(name) ?? 0);
      if (result.events > 0 || result.alreadyConverted) {
        this.logger.info(
          {
            segment: name,
            file: result.file,
            events: result.events,
            already_converted: result.alreadyConverted,
          },
          "audit journal recovered",
        );
      }
    }
    this.nextSeq = maxSeq + 1;
    await this.applyRetention();
  }

  private async applyRetention(): Promise<void> {
    this.lastRetentionMs = this.clock.now();
    try {
      const files: RetainedFile[] = [];
      for (const name of await this.disk.list(this.dir)) {
        const parsed = parseParquetName(name);
        if (!parsed) continue;
        const s = await this.disk.stat(join(this.dir, name));
        files.push({ name, firstSeq: parsed.firstSeq, bytes: s.size, mtimeMs: s.mtimeMs });
      }
      const plan = planRetention(files, this.retention, this.clock.wall());
      for (const r of plan.remove) {
        await this.disk.unlink(join(this.dir, r.name));
        this.metrics.deletedFiles.inc({ cause: r.cause });
        this.logger.info({ file: r.name, cause: r.cause }, "audit file removed by retention");
      }
      if (plan.remove.length > 0) await this.disk.syncDir(this.dir);
      this.metrics.files.set(plan.keptFiles);
      this.metrics.bytes.set(plan.keptBytes);
    } catch (error) {
      this.fail("retention", "HERALD_AUDIT_RETENTION", error);
    }
  }

  private housekeeping(): void {
    if (this.state !== "running") return;
    const now = this.clock.now();
    if (!this.recovered) {
      if (now >= this.retryAtMs) void this.runInBackground(() => this.tryRecover());
      return;
    }
    if (this.journal.sealIfOlder(this.segmentAgeMs)) return;
    if ((this.sealed.length > 0 || !this.parquetOk) && now >= this.retryAtMs) {
      void this.scheduleConversions();
    } else if (now - this.lastRetentionMs >= this.retentionIntervalMs) {
      void this.runInBackground(() => this.applyRetention());
    }
  }

  private fail(op: string, code: AuditErrorCode, error: unknown): AuditError {
    const failure =
      error instanceof AuditError ? error : new AuditError(code, `${op}: ${describe(error)}`, error);
    this.lastError = failure;
    this.metrics.errors.inc({ op, code: failure.sysCode ?? failure.code });
    if (op === "journal") this.journalOk = false;
    if (op === "parquet" || op === "recover") {
      this.parquetOk = false;
      this.retryAtMs = this.clock.now() + this.retryMs;
    }
    this.updateReady();
    this.logger.error(
      { dir: this.dir, op, code: failure.code, sys_code: systemCode(error) },
      failure.message,
    );
    return failure;
  }

  private updateReady(): void {
    this.metrics.ready.set(this.isReady() ? 1 : 0);
  }
}

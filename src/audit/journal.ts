// The journal's write side: framed records appended to the active segment with group
// commit. append() resolves once an fdatasync covers the record. Records arriving while a
// write+sync is in flight form the next batch, so batching adds no timer and never more
// than one sync's duration (optionally `commitDelayMs` more, to gather larger batches).
// A segment is sealed at `segmentBytes`, on request (its age, stop) or after a failed
// write; sealed segments go to `onSealed` to become Parquet files.
import { join } from "node:path";
import type { Clock } from "../clock.js";
import type { AppendFile, Disk } from "./disk.js";
import type { AuditError } from "./errors.js";
import { segmentName } from "./layout.js";
import type { AuditMetrics } from "./metrics.js";
import type { AuditAck } from "./sink.js";

export interface JournalOptions {
  /** The journal directory. */
  dir: string;
  disk: Disk;
  clock: Clock;
  metrics: AuditMetrics;
  segmentBytes: number;
  commitDelayMs: number;
  /** A sealed segment, ready for conversion. */
  onSealed: (name: string) => void;
  /** A write or sync failed: the error to answer the batch with. */
  onFailure: (error: unknown) => AuditError;
  /** A batch became durable. */
  onSuccess: () => void;
}

interface Pending {
  frame: Buffer;
  seq: number;
  resolve: (ack: AuditAck) => void;
}

interface ActiveSegment {
  name: string;
  file: AppendFile;
  bytes: number;
  /** clock.now() when it was opened. */
  openedMs: number;
}

export class Journal {
  private pending: Pending[] = [];
  private draining: Promise<void> | undefined;
  private active: ActiveSegment | undefined;
  private readonly o: JournalOptions;

  constructor(options: JournalOptions) {
    this.o = options;
  }

  /** Records accepted and not yet durable. */
  get backlog(): number {
    return this.pending.length;
  }

  append(frame: Buffer, seq: number): Promise<AuditAck> {
    return new Promise((resolve) => {
      this.pending.push({ frame, seq, resolve });
      this.draining ??= this.drain();
    });
  }

  /** Resolves once every record appended so far has been answered. */
  async flush(): Promise<void> {
    await this.draining;
  }

  /** Seals the active segment when it holds records and is at least `ageMs` old, unless a commit is under way. */
  sealIfOlder(ageMs: number): boolean {
    const segment = this.active;
    if (!segment || segment.bytes === 0 || this.draining) return false;
    if (this.o.clock.now() - segment.openedMs < ageMs) return false;
    void this.seal();
    return true;
  }

  /** Closes the active segment and hands it on. */
  async seal(): Promise<void> {
    const segment = this.active;
    if (!segment) return;
    this.active = undefined;
    this.o.metrics.journalBytes.set(0);
    await segment.file.close().catch(() => undefined);
    this.o.onSealed(segment.name);
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      if (this.o.commitDelayMs > 0) {
        await new Promise<void>((r) => this.o.clock.setTimeout(r, this.o.commitDelayMs));
      }
      const batch = this.pending;
      this.pending = [];
      await this.commit(batch);
    }
    this.draining = undefined;
  }

  private async commit(batch: Pending[]): Promise<void> {
    const started = this.o.clock.now();
    const first = batch[0];
    if (!first) return;
    const { metrics } = this.o;
    let segment: ActiveSegment | undefined;
    try {
      segment = this.active ?? (await this.openSegment(first.seq));
      await segment.file.append(batch.map((p) => p.frame));
      await segment.file.sync();
    } catch (error) {
      const failure = this.o.onFailure(error);
      for (const p of batch) p.resolve({ durable: false, error: failure });
      metrics.events.inc({ outcome: "failed" }, batch.length);
      // After a failed write or sync the segment's tail is unknown: cut it back to
      // what was acknowledged and continue in a fresh segment.
      if (segment) {
        await segment.file.truncate(segment.bytes).catch(() => undefined);
        await this.seal();
      }
      return;
    }
    segment.bytes += batch.reduce((n, p) => n + p.frame.length, 0);
    metrics.commitSeconds.observe((this.o.clock.now() - started) / 1000);
    metrics.journalBytes.set(segment.bytes);
    metrics.events.inc({ outcome: "durable" }, batch.length);
    this.o.onSuccess();
    for (const p of batch) p.resolve({ durable: true, seq: p.seq });
    if (segment.bytes >= this.o.segmentBytes) await this.seal();
  }

  private async openSegment(firstSeq: number): Promise<ActiveSegment> {
    const name = segmentName(firstSeq);
    const file = await this.o.disk.createAppend(join(this.o.dir, name));
    try {
      await this.o.disk.syncDir(this.o.dir);
    } catch (error) {
      await file.close().catch(() => undefined);
      throw error;
    }
    this.active = { name, file, bytes: 0, openedMs: this.o.clock.now() };
    return this.active;
  }
}

// Where segments turn into Parquet: on the calling thread, or on a worker thread
// so that encoding (CPU-bound) does not hold up journal commits.
import type { Worker } from "node:worker_threads";
import type { Disk } from "./disk.js";
import { AuditError, type AuditErrorCode } from "./errors.js";
import { type Conversion, convertSegment } from "./segment.js";
import { startWorker } from "./worker-thread.js";

export interface SegmentConverter {
  convert(dir: string, segment: string, rowGroupRows: number): Promise<Conversion>;
  close(): Promise<void>;
}

export function inlineConverter(disk: Disk): SegmentConverter {
  return {
    convert: (dir, segment, rowGroupRows) => convertSegment(disk, dir, segment, rowGroupRows),
    close: async () => undefined,
  };
}

export interface ConvertRequest {
  id: number;
  dir: string;
  segment: string;
  rowGroupRows: number;
}

export type ConvertReply =
  | { id: number; result: Conversion }
  | { id: number; error: { code: AuditErrorCode; sysCode?: string; message: string } };

/** Converts on one worker thread (started on first use, restarted if it dies); always with the real disk. */
export function workerConverter(): SegmentConverter {
  const entry = new URL("./convert-worker.js", import.meta.url);
  let worker: Worker | undefined;
  let nextId = 1;
  const waiting = new Map<number, { resolve: (c: Conversion) => void; reject: (e: AuditError) => void }>();
  const failAll = (message: string) => {
    for (const w of waiting.values()) w.reject(new AuditError("HERALD_AUDIT_PARQUET_WRITE", message));
    waiting.clear();
    worker = undefined;
  };
  const start = () => {
    const w = startWorker(entry);
    w.unref();
    w.on("message", (reply: ConvertReply) => {
      const pending = waiting.get(reply.id);
      if (!pending) return;
      waiting.delete(reply.id);
      if ("result" in reply) pending.resolve(reply.result);
      else {
        const cause = reply.error.sysCode === undefined ? undefined : { code: reply.error.sysCode };
        pending.reject(new AuditError(reply.error.code, reply.error.message, cause));
      }
    });
    w.on("error", (error) => failAll(`conversion worker failed: ${error.message}`));
    w.on("exit", (code) => failAll(`conversion worker exited with code ${code}`));
    return w;
  };
  return {
    convert(dir, segment, rowGroupRows) {
      worker ??= start();
      const id = nextId++;
      const request: ConvertRequest = { id, dir, segment, rowGroupRows };
      const w = worker;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        w.postMessage(request);
      });
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}

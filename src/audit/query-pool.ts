// Where GET /audit queries run: on a few worker threads, each query with a deadline.
// A query over the deadline has its worker terminated (the only way to stop decoding
// that is under way) and a fresh one takes its place on the next query; a query that
// finds every worker busy is refused at once instead of queueing, so a burst of heavy
// queries costs those callers a 429, never the component its event loop or memory.
import type { Worker } from "node:worker_threads";
import { type Clock, systemClock } from "../clock.js";
import { AuditError, type AuditErrorCode } from "./errors.js";
import type { AuditFilter } from "./filter.js";
import type { AuditPage } from "./query.js";
import { startWorker } from "./worker-thread.js";

export interface AuditQueryRunner {
  /** Rejects with HERALD_AUDIT_QUERY_BUSY, HERALD_AUDIT_QUERY_TIMEOUT or the query's own error. */
  run(dir: string, filter: AuditFilter, limit: number): Promise<AuditPage>;
  close(): Promise<void>;
}

export interface QueryPoolOptions {
  /** Queries at once, each on its own worker thread (default 2). */
  workers?: number;
  /** A query still running after this long is stopped (default 10 s). */
  timeoutMs?: number;
  /** The worker module (default ./query-worker.js); tests give their own. */
  entry?: URL;
  /** Whose timers the deadlines run on (default the system clock). */
  clock?: Clock;
}

export interface QueryRequest {
  id: number;
  dir: string;
  filter: AuditFilter;
  limit: number;
}

export type QueryReply =
  | { id: number; page: AuditPage }
  | { id: number; error: { code: AuditErrorCode; message: string } };

interface Slot {
  worker: Worker | undefined;
  /** The query in flight (or the termination of a worker that overran). */
  busy: boolean;
  settle?: (reply: QueryReply | AuditError) => void;
}

export const DEFAULT_QUERY_TIMEOUT_MS = 10_000;

export function queryPool(options: QueryPoolOptions = {}): AuditQueryRunner {
  const entry = options.entry ?? new URL("./query-worker.js", import.meta.url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const clock = options.clock ?? systemClock;
  const arm = (fn: () => void, ms: number) => clock.setTimeout(fn, ms);
  const disarm = (h: unknown) => clock.clearTimeout(h);
  const slots: Slot[] = Array.from({ length: Math.max(1, options.workers ?? 2) }, () => ({
    worker: undefined,
    busy: false,
  }));
  let nextId = 1;
  let closed = false;

  const start = (slot: Slot): Worker => {
    const w = startWorker(entry);
    w.unref();
    // A worker given up on (overran, closed) no longer speaks for its slot.
    w.on("message", (reply: QueryReply) => {
      if (slot.worker === w) slot.settle?.(reply);
    });
    const lost = (message: string) => {
      if (slot.worker !== w) return;
      slot.worker = undefined;
      slot.settle?.(new AuditError("HERALD_AUDIT_QUERY_FAILED", message));
    };
    w.on("error", (error) => lost(`audit query worker failed: ${error.message}`));
    w.on("exit", (code) => lost(`audit query worker exited with code ${code}`));
    return w;
  };

  return {
    run(dir, filter, limit) {
      const slot = slots.find((s) => !s.busy);
      if (closed || !slot) {
        return Promise.reject(
          new AuditError("HERALD_AUDIT_QUERY_BUSY", `all ${slots.length} audit query workers are busy`),
        );
      }
      slot.busy = true;
      const worker = slot.worker ?? start(slot);
      slot.worker = worker;
      const id = nextId++;
      return new Promise<AuditPage>((resolve, reject) => {
        const timer = arm(() => {
          slot.settle = undefined;
          slot.worker = undefined;
          reject(
            new AuditError("HERALD_AUDIT_QUERY_TIMEOUT", `audit query took longer than ${timeoutMs} ms`),
          );
          // The slot counts as busy until the overrunning worker is gone.
          void worker.terminate().finally(() => {
            slot.busy = false;
          });
        }, timeoutMs);
        slot.settle = (reply) => {
          if (!(reply instanceof AuditError) && reply.id !== id) return;
          slot.settle = undefined;
          slot.busy = false;
          disarm(timer);
          if (reply instanceof AuditError) reject(reply);
          else if ("page" in reply) resolve(reply.page);
          else reject(new AuditError(reply.error.code, reply.error.message));
        };
        const request: QueryRequest = { id, dir, filter, limit };
        worker.postMessage(request);
      });
    },
    async close() {
      closed = true;
      await Promise.all(
        slots.map(async (s) => {
          const w = s.worker;
          s.worker = undefined;
          s.settle?.(new AuditError("HERALD_AUDIT_QUERY_FAILED", "audit queries stopped"));
          if (w) await w.terminate();
        }),
      );
    },
  };
}

// A bound on what Herald asks of the API server at once: a few requests in flight, a short
// queue behind them, and whatever does not fit is refused at once (a coded error, counted)
// instead of piling up in memory. A 429 (or 503) with Retry-After is retried after the
// server's delay, holding its slot, so the whole client slows down while the server asks it
// to. Watches pass through: they are long-lived and not what floods the server.
import { codedError } from "../errors.js";
import { KubeError, type Rest } from "./rest.js";

export class KubeOverloadError extends codedError("HERALD_KUBE_OVERLOADED") {}

export interface ThrottleTimers {
  setTimeout(fn: () => void, ms: number): unknown;
}

export interface ThrottleOptions {
  /** Requests in flight at once (default 8). */
  maxInFlight?: number;
  /** Requests waiting for a slot; more are refused (default 256). */
  maxQueued?: number;
  /** Retries of one request after 429/503 (default 5). */
  maxRetries?: number;
  /** Longest wait honoured from Retry-After, in seconds (default 60). */
  maxRetryAfterSeconds?: number;
  timers: ThrottleTimers;
}

export interface ThrottleStats {
  inFlight: number;
  queued: number;
  /** Refused because the queue was full. */
  dropped: number;
  /** Retries after the server asked to wait. */
  retried: number;
}

export type ThrottledRest = Rest & { stats(): ThrottleStats };

export function throttle(inner: Rest, o: ThrottleOptions): ThrottledRest {
  const maxInFlight = o.maxInFlight ?? 8;
  const maxQueued = o.maxQueued ?? 256;
  const maxRetries = o.maxRetries ?? 5;
  const maxWait = o.maxRetryAfterSeconds ?? 60;
  const queue: (() => void)[] = [];
  const counts = { inFlight: 0, dropped: 0, retried: 0 };

  const sleep = (ms: number) => new Promise<void>((resolve) => o.timers.setTimeout(resolve, ms));

  async function attempt<T>(run: () => Promise<T>): Promise<T> {
    for (let retry = 0; ; retry++) {
      try {
        return await run();
      } catch (e) {
        const wait = retryAfterMs(e, maxWait);
        if (wait === undefined || retry >= maxRetries) throw e;
        counts.retried++;
        await sleep(wait);
      }
    }
  }

  function release(): void {
    counts.inFlight--;
    const next = queue.shift();
    if (next) next();
  }

  return {
    request<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
      const run = () => inner.request<T>(method, path, body, contentType);
      const start = (): Promise<T> => {
        counts.inFlight++;
        return attempt(run).finally(release);
      };
      if (counts.inFlight < maxInFlight) return start();
      if (queue.length >= maxQueued) {
        counts.dropped++;
        return Promise.reject(
          new KubeOverloadError(
            `${method} ${path}: refused, ${maxInFlight} requests in flight and ${maxQueued} queued`,
          ),
        );
      }
      return new Promise<T>((resolve, reject) => queue.push(() => start().then(resolve, reject)));
    },
    watch: (path, onEvent, signal) => inner.watch(path, onEvent, signal),
    stats: () => ({ ...counts, queued: queue.length }),
  };
}

/** How long the server asked to wait, when it did: 429 always (1 s without a header), 503 with a header. */
function retryAfterMs(e: unknown, maxSeconds: number): number | undefined {
  if (!(e instanceof KubeError)) return undefined;
  if (e.status !== 429 && !(e.status === 503 && e.retryAfterSeconds !== undefined)) return undefined;
  const seconds = Math.min(Math.max(e.retryAfterSeconds ?? 1, 0), maxSeconds);
  return seconds * 1000;
}

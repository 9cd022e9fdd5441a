// Waiting for the API server at start: retried with backoff until it answers or the signal aborts.
import type { Logger } from "pino";

export async function untilReachable<T>(
  fn: () => Promise<T>,
  log: Logger,
  signal: AbortSignal,
  sleep: (ms: number, signal: AbortSignal) => Promise<void>,
): Promise<T | undefined> {
  for (let delay = 500; !signal.aborted; delay = Math.min(delay * 2, 10_000)) {
    try {
      return await fn();
    } catch (e) {
      log.warn({ err: String(e), retryMs: delay }, "API server not reachable yet");
      await sleep(delay, signal).catch(() => {});
    }
  }
  return undefined;
}

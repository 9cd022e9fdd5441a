// "The API server answers again", shared by everything of one process that talks to it. An
// informer backing off after an outage would otherwise go on sleeping (up to its longest
// backoff, 10 s) while a Lease renewal of the same process already got through: for that long it
// acts on a view from before the outage.
import type { Rest } from "./rest.js";

export class AnswerSignal {
  private readonly waiters = new Set<() => void>();

  /** Resolves at the next answer, or when `signal` aborts. */
  next(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** A request got an answer: wakes everyone waiting for one. */
  answered(): void {
    for (const done of [...this.waiters]) done();
  }

  /** How many wait (for tests and leak checks). */
  get waiting(): number {
    return this.waiters.size;
  }
}

/** `rest`, telling `answers` whenever a request of it succeeds. */
export function announcingAnswers(rest: Rest, answers: AnswerSignal): Rest {
  return {
    async request<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
      const result = await rest.request<T>(method, path, body, contentType);
      answers.answered();
      return result;
    },
    watch: (path, onEvent, signal) => rest.watch(path, onEvent, signal),
  };
}

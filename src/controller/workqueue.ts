// A keyed work queue in the manner of client-go's: a key is processed by one
// worker at a time; adding a queued key does nothing; a key added while it is
// being processed runs once more afterwards; failures retry with per-key
// exponential backoff, and success forgets the failure count.

export type Outcome =
  | { readonly kind: "done" }
  | { readonly kind: "requeueAfter"; readonly ms: number }
  | { readonly kind: "retry"; readonly error: unknown };

export const done: Outcome = { kind: "done" };

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface WorkQueueOptions {
  workers: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  timers: Timers;
  /** Called for every processed key, with how long it took and how it ended. */
  onProcessed?: (key: string, ms: number, outcome: Outcome) => void;
  now?: () => number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, unknown>();
  private running = 0;
  private stopped = true;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: (key: string) => Promise<Outcome>,
    private readonly opts: WorkQueueOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    for (const handle of this.delayed.values()) this.opts.timers.clearTimeout(handle);
    this.delayed.clear();
  }

  add(key: string): void {
    const pending = this.delayed.get(key);
    if (pending !== undefined) {
      this.opts.timers.clearTimeout(pending);
      this.delayed.delete(key);
    }
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Adds the key after ms, unless it is added sooner. */
  addAfter(key: string, ms: number): void {
    if (this.stopped || this.delayed.has(key)) return;
    this.delayed.set(
      key,
      this.opts.timers.setTimeout(() => {
        this.delayed.delete(key);
        this.add(key);
      }, ms),
    );
  }

  get depth(): number {
    return this.queue.length;
  }

  get failing(): number {
    return this.failures.size;
  }

  /** Resolves when nothing is queued or running (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.running < this.opts.workers && this.queue.length > 0) {
      const key = this.queue.shift() as string;
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      void this.process(key);
    }
    if (this.queue.length === 0 && this.running === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async process(key: string): Promise<void> {
    const started = this.opts.now?.() ?? Date.now();
    let outcome: Outcome;
    try {
      outcome = await this.handler(key);
    } catch (error) {
      outcome = { kind: "retry", error };
    }
    this.opts.onProcessed?.(key, (this.opts.now?.() ?? Date.now()) - started, outcome);
    this.active.delete(key);
    this.running--;
    if (outcome.kind === "retry") {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const backoff = Math.min(this.opts.maxBackoffMs, this.opts.baseBackoffMs * 2 ** (n - 1));
      if (this.dirty.delete(key)) this.add(key);
      else this.addAfter(key, backoff);
    } else {
      this.failures.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      else if (outcome.kind === "requeueAfter") this.addAfter(key, outcome.ms);
    }
    this.pump();
  }
}

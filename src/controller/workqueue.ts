// A keyed work queue in the manner of client-go's: a key is processed by one
// worker at a time; adding a queued key does nothing; a key added while it is
// being processed runs once more afterwards; failures retry with per-key
// exponential backoff, and success forgets the failure count. Keys are typed
// values; `id` names them for the de-duplication.
import type { Clock } from "../clock.js";

export type Outcome =
  | { readonly kind: "done" }
  | { readonly kind: "requeueAfter"; readonly ms: number }
  | { readonly kind: "retry"; readonly error: unknown };

export const done: Outcome = { kind: "done" };

export interface WorkQueueOptions<K> {
  workers: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  clock: Pick<Clock, "now" | "setTimeout" | "clearTimeout">;
  /** The key's identity: keys with the same id are one (default: String(key)). */
  id?: (key: K) => string;
  /** Called for every processed key, with how long it took and how it ended. */
  onProcessed?: (key: K, ms: number, outcome: Outcome) => void;
}

export class WorkQueue<K = string> {
  private readonly queue: K[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, unknown>();
  private running = 0;
  private stopped = true;
  private idleWaiters: (() => void)[] = [];

  private readonly id: (key: K) => string;

  constructor(
    private readonly handler: (key: K) => Promise<Outcome>,
    private readonly opts: WorkQueueOptions<K>,
  ) {
    this.id = opts.id ?? String;
  }

  start(): void {
    this.stopped = false;
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    for (const handle of this.delayed.values()) this.opts.clock.clearTimeout(handle);
    this.delayed.clear();
  }

  add(key: K): void {
    const id = this.id(key);
    const pending = this.delayed.get(id);
    if (pending !== undefined) {
      this.opts.clock.clearTimeout(pending);
      this.delayed.delete(id);
    }
    if (this.active.has(id)) {
      this.dirty.add(id);
      return;
    }
    if (this.queued.has(id)) return;
    this.queued.add(id);
    this.queue.push(key);
    this.pump();
  }

  /** Adds the key after ms, unless it is added sooner. */
  addAfter(key: K, ms: number): void {
    const id = this.id(key);
    if (this.stopped || this.delayed.has(id)) return;
    this.delayed.set(
      id,
      this.opts.clock.setTimeout(() => {
        this.delayed.delete(id);
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
      const key = this.queue.shift() as K;
      const id = this.id(key);
      this.queued.delete(id);
      this.active.add(id);
      this.running++;
      void this.process(key, id);
    }
    if (this.queue.length === 0 && this.running === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async process(key: K, id: string): Promise<void> {
    const started = this.opts.clock.now();
    let outcome: Outcome;
    try {
      outcome = await this.handler(key);
    } catch (error) {
      outcome = { kind: "retry", error };
    }
    this.opts.onProcessed?.(key, this.opts.clock.now() - started, outcome);
    this.active.delete(id);
    this.running--;
    if (outcome.kind === "retry") {
      const n = (this.failures.get(id) ?? 0) + 1;
      this.failures.set(id, n);
      const backoff = Math.min(this.opts.maxBackoffMs, this.opts.baseBackoffMs * 2 ** (n - 1));
      if (this.dirty.delete(id)) this.add(key);
      else this.addAfter(key, backoff);
    } else {
      this.failures.delete(id);
      if (this.dirty.delete(id)) this.add(key);
      else if (outcome.kind === "requeueAfter") this.addAfter(key, outcome.ms);
    }
    this.pump();
  }
}

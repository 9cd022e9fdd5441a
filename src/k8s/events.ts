// core/v1 Events (what `kubectl describe` shows), recorded the way client-go's EventCorrelator
// does, so that a repeated event costs a counter, not an object per occurrence:
// - the same event on the same object (type, reason, message) is one Event: a repeat PATCHes
//   its `count` and `lastTimestamp` instead of creating another; repeats that arrive while a
//   write is in flight are folded into the next write;
// - more than `maxSimilar` different messages for one (object, type, reason) within
//   `similarWindowMs` become one "(combined from similar events)" Event;
// - a token bucket per object (burst 25, then one write per 5 minutes, client-go's defaults)
//   bounds the writes; a repeat held back by it is still counted and written once a token is free.
// Both the controller and the speaker record through this. The caches are bounded (LRU).
import { MERGE_PATCH, type Rest } from "./rest.js";

export interface EventTarget {
  kind: string;
  apiVersion: string;
  namespace?: string | undefined;
  name: string;
  uid?: string | undefined;
}

export type EventType = "Normal" | "Warning";

export interface EventTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface EventRecorderOptions {
  rest: Pick<Rest, "request">;
  /** "controller" or "speaker": the Event's source.component. */
  component: string;
  /** The Pod or node name: reportingInstance. */
  instance: string;
  /** Wall clock (timestamps on the Event and the token bucket). */
  now: () => Date;
  timers: EventTimers;
  /** Writes per object before the bucket runs dry (default 25). */
  burst?: number;
  /** One more write per object every this many ms (default 300 000). */
  refillMs?: number;
  maxSimilar?: number;
  similarWindowMs?: number;
  /** Entries in each cache (default 4096). */
  maxKeys?: number;
  onError?: (reason: string, err: unknown) => void;
}

export interface EventRecorderStats {
  /** Calls to event(). */
  recorded: number;
  created: number;
  patched: number;
  /** Writes the token bucket held back (the occurrences stay counted). */
  throttled: number;
  failed: number;
}

interface Entry {
  target: EventTarget;
  namespace: string;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  first: Date;
  last: Date;
  /** The Event's name once created. */
  name?: string;
  /** The count the API last accepted. */
  written: number;
  writing: boolean;
  retry?: unknown;
  bucket: string;
}

interface Bucket {
  tokens: number;
  at: number;
}

interface Similar {
  since: number;
  messages: Set<string>;
}

const AGGREGATE_PREFIX = "(combined from similar events): ";

/** Events of cluster-scoped objects live in "default", as node events do. */
function eventNamespace(target: EventTarget): string {
  return target.namespace || "default";
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}

export class EventRecorder {
  private readonly entries = new Map<string, Entry>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly similar = new Map<string, Similar>();
  private readonly counts: EventRecorderStats = {
    recorded: 0,
    created: 0,
    patched: 0,
    throttled: 0,
    failed: 0,
  };
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly maxKeys: number;

  constructor(private readonly o: EventRecorderOptions) {
    this.burst = o.burst ?? 25;
    this.refillMs = o.refillMs ?? 300_000;
    this.maxKeys = o.maxKeys ?? 4096;
  }

  /** Records one occurrence; the promise settles when the write it caused (if any) did, and never rejects. */
  event(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    this.counts.recorded++;
    const now = this.o.now();
    const object = [
      target.kind,
      target.apiVersion,
      target.namespace ?? "",
      target.name,
      target.uid ?? "",
    ].join("\u0000");
    const similarKey = `${object}\u0000${type}\u0000${reason}`;
    const text = message.slice(0, 1024);
    const combined = this.aggregate(similarKey, text, now.getTime());
    // Combined ones share one Event (keyed without the message), which shows the latest message.
    const key = combined ? similarKey : `${similarKey}\u0000${text}`;
    const shown = combined ? `${AGGREGATE_PREFIX}${text}`.slice(0, 1024) : text;
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      entry.count++;
      entry.last = now;
      entry.message = shown;
    } else {
      entry = {
        target,
        namespace: eventNamespace(target),
        type,
        reason,
        message: shown,
        count: 1,
        first: now,
        last: now,
        written: 0,
        writing: false,
        bucket: object,
      };
    }
    this.remember(this.entries, key, entry, (e) => {
      if (e.retry !== undefined) this.o.timers.clearTimeout(e.retry);
    });
    return this.flush(entry);
  }

  stats(): EventRecorderStats {
    return { ...this.counts };
  }

  /** client-go's EventAggregator: past maxSimilar messages in the window, all further ones combine. */
  private aggregate(similarKey: string, message: string, now: number): boolean {
    const window = this.o.similarWindowMs ?? 600_000;
    const max = this.o.maxSimilar ?? 10;
    let s = this.similar.get(similarKey);
    if (!s || now - s.since > window) s = { since: now, messages: new Set() };
    else this.similar.delete(similarKey);
    this.remember(this.similar, similarKey, s);
    if (s.messages.has(message)) return false;
    if (s.messages.size >= max) return true;
    s.messages.add(message);
    return false;
  }

  private async flush(entry: Entry): Promise<void> {
    if (entry.writing || entry.retry !== undefined || entry.count === entry.written) return;
    const wait = this.take(entry.bucket);
    if (wait > 0) {
      this.counts.throttled++;
      entry.retry = this.o.timers.setTimeout(() => {
        entry.retry = undefined;
        void this.flush(entry);
      }, wait);
      return;
    }
    entry.writing = true;
    const count = entry.count;
    try {
      if (entry.name === undefined) await this.create(entry, count);
      else {
        try {
          await this.patch(entry, count);
        } catch (e) {
          // The Event expired (the API server keeps them an hour): start a new one with the count.
          if ((e as { status?: number }).status !== 404) throw e;
          await this.create(entry, count);
        }
      }
      entry.written = count;
    } catch (e) {
      this.counts.failed++;
      // What was not written is not retried: an event is not worth a retry loop, the next repeat writes it.
      entry.written = entry.count;
      this.o.onError?.(entry.reason, e);
    } finally {
      entry.writing = false;
    }
    if (entry.count !== entry.written) await this.flush(entry);
  }

  private async create(entry: Entry, count: number): Promise<void> {
    const { target, namespace } = entry;
    const created = await this.o.rest.request<{ metadata?: { name?: string } }>(
      "POST",
      `/api/v1/namespaces/${namespace}/events`,
      {
        apiVersion: "v1",
        kind: "Event",
        metadata: { generateName: `${target.name}.`, namespace },
        involvedObject: {
          kind: target.kind,
          apiVersion: target.apiVersion,
          name: target.name,
          ...(target.namespace ? { namespace: target.namespace } : {}),
          ...(target.uid ? { uid: target.uid } : {}),
        },
        type: entry.type,
        reason: entry.reason,
        message: entry.message,
        source: { component: this.o.component },
        reportingComponent: `herald.dev/${this.o.component}`,
        reportingInstance: this.o.instance,
        firstTimestamp: rfc3339(entry.first),
        lastTimestamp: rfc3339(entry.last),
        count,
      },
    );
    entry.name = created?.metadata?.name;
    this.counts.created++;
  }

  private async patch(entry: Entry, count: number): Promise<void> {
    await this.o.rest.request(
      "PATCH",
      `/api/v1/namespaces/${entry.namespace}/events/${entry.name}`,
      { count, lastTimestamp: rfc3339(entry.last), message: entry.message },
      MERGE_PATCH,
    );
    this.counts.patched++;
  }

  /** Takes a token from the object's bucket: 0 when one was free, else ms until the next one. */
  private take(key: string): number {
    const now = this.o.now().getTime();
    let b = this.buckets.get(key);
    if (b) this.buckets.delete(key);
    else b = { tokens: this.burst, at: now };
    const refilled = Math.floor((now - b.at) / this.refillMs);
    if (refilled > 0) {
      b.tokens = Math.min(this.burst, b.tokens + refilled);
      b.at = b.tokens === this.burst ? now : b.at + refilled * this.refillMs;
    }
    this.remember(this.buckets, key, b);
    if (b.tokens > 0) {
      if (b.tokens === this.burst) b.at = now;
      b.tokens--;
      return 0;
    }
    return Math.max(1, b.at + this.refillMs - now);
  }

  /** Inserts as most recent, dropping the least recently used beyond maxKeys. */
  private remember<V>(map: Map<string, V>, key: string, value: V, evicted?: (v: V) => void): void {
    map.set(key, value);
    while (map.size > this.maxKeys) {
      const oldest = map.keys().next().value as string;
      const v = map.get(oldest) as V;
      map.delete(oldest);
      evicted?.(v);
    }
  }
}

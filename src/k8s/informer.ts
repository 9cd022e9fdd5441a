// List-then-watch cache of one resource. Survives what a long-running operator
// meets: watch streams the server closes (re-watch from the last
// resourceVersion), "410 Gone" when that version is too old (relist, and report
// objects that vanished meanwhile as deleted), an API server that is down
// (retry with backoff; the cache keeps serving what it last knew), and a watch
// connection that went quiet while the node's links were down (refresh).
import type { Logger } from "pino";
import { KubeError, type KubeObject, type Rest, type WatchEvent } from "./rest.js";

export interface InformerHandlers<T> {
  /** An object appeared or changed (old is the previous version, if any). */
  onChange(obj: T, old: T | undefined): void;
  onDelete(obj: T): void;
}

export interface InformerOptions {
  log: Logger;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Server-side watch timeout; the stream is re-opened after it. */
  watchTimeoutSeconds?: number;
  /**
   * Another request of the process got an answer: a backoff longer than minBackoffMs ends
   * then, so the cache catches up as soon as the API server is back.
   */
  answers?: { next(signal: AbortSignal): Promise<void> };
  /**
   * In [0, 1): each backoff is drawn from its upper half, so the informers of a process (and the
   * processes of a cluster) do not retry in step; the first to get through wakes the others.
   */
  random?: () => number;
}

export function objectKey(o: KubeObject): string {
  const ns = o.metadata?.namespace;
  return ns ? `${ns}/${o.metadata?.name ?? ""}` : (o.metadata?.name ?? "");
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private resourceVersion = "";
  private syncedResolve: () => void = () => {};
  /** Resolves once the first list has filled the cache. */
  readonly synced: Promise<void>;
  private hasSyncedFlag = false;
  relists = 0;
  /** The open watch's own controller: refresh() ends it without ending run(). */
  private watchAbort: AbortController | undefined;
  /** refresh() ended the open watch: go on without a backoff. */
  private dropped = false;
  private refreshWanted = false;
  private refreshWaiters: (() => void)[] = [];

  constructor(
    private readonly rest: Rest,
    /** Collection path, e.g. /api/v1/services or /apis/herald.dev/v1alpha1/ipaddresspools */
    private readonly path: string,
    private readonly handlers: InformerHandlers<T>,
    private readonly opts: InformerOptions,
  ) {
    this.synced = new Promise((resolve) => {
      this.syncedResolve = resolve;
    });
  }

  get hasSynced(): boolean {
    return this.hasSyncedFlag;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /**
   * Ends the open watch and lists again, on a new request. After this node's links were down, a
   * watch connection can sit in TCP's retransmission backoff for seconds after they are back,
   * while the server has moved on (a Service released meanwhile): the cache would serve what
   * was true before the cut. Resolves after a list that began after this call (what vanished is
   * reported deleted); while the API server cannot be reached, only once it can.
   */
  refresh(): Promise<void> {
    const done = new Promise<void>((resolve) => this.refreshWaiters.push(resolve));
    this.refreshWanted = true;
    if (this.watchAbort !== undefined) {
      this.dropped = true;
      this.watchAbort.abort();
    }
    return done;
  }

  /** Runs until signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const min = this.opts.minBackoffMs ?? 500;
    const max = this.opts.maxBackoffMs ?? 10_000;
    let backoff = min;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === "" || this.refreshWanted) await this.relistFresh();
        // Asked again while listing: that list may have begun before the links came back.
        if (this.refreshWanted) continue;
        await this.watchOnce(signal);
        backoff = min;
      } catch (e) {
        if (signal.aborted) break;
        if (this.dropped) {
          this.dropped = false;
          continue;
        }
        if (e instanceof KubeError && e.status === 410) {
          this.opts.log.info({ path: this.path }, "watch expired (410), relisting");
          this.resourceVersion = "";
          continue;
        }
        const retryMs = Math.round(backoff * (0.5 + (this.opts.random ?? Math.random)() / 2));
        this.opts.log.warn({ path: this.path, err: String(e), retryMs }, "list/watch failed");
        await this.pause(retryMs, min, signal);
        backoff = Math.min(max, backoff * 2);
      }
    }
  }

  /**
   * Sleeps `ms`, or less once another request of the process is answered, but never less than
   * `floorMs`: list calls that succeed while watches fail cannot wake each other into a loop.
   */
  private async pause(ms: number, floorMs: number, signal: AbortSignal): Promise<void> {
    const answers = this.opts.answers;
    if (answers === undefined || ms <= floorMs) return this.opts.sleep(ms, signal).catch(() => {});
    const done = new AbortController();
    const stop = () => done.abort();
    signal.addEventListener("abort", stop, { once: true });
    try {
      const answered = answers.next(done.signal);
      await this.opts.sleep(floorMs, done.signal).catch(() => {});
      if (done.signal.aborted) return;
      await Promise.race([this.opts.sleep(ms - floorMs, done.signal).catch(() => {}), answered]);
    } finally {
      done.abort();
      signal.removeEventListener("abort", stop);
    }
  }

  /** A relist that answers the refresh() calls made before it began. */
  private async relistFresh(): Promise<void> {
    const waiting = this.refreshWaiters.splice(0);
    this.refreshWanted = false;
    try {
      await this.relist();
    } catch (e) {
      this.refreshWaiters.unshift(...waiting);
      if (waiting.length > 0) this.refreshWanted = true;
      throw e;
    }
    for (const resolve of waiting) resolve();
  }

  private async relist(): Promise<void> {
    // Pages of 500, as client-go lists: 10,000 Services in one answer is a 40 MB string at once.
    const items: T[] = [];
    let resourceVersion = "";
    let cont = "";
    do {
      const sep = this.path.includes("?") ? "&" : "?";
      const page = await this.rest.request<{
        items: T[];
        metadata: { resourceVersion: string; continue?: string };
      }>("GET", `${this.path}${sep}limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`);
      items.push(...(page.items ?? []));
      resourceVersion = page.metadata?.resourceVersion ?? "";
      cont = page.metadata?.continue ?? "";
    } while (cont !== "");
    const list = { items, metadata: { resourceVersion } };
    this.relists++;
    const seen = new Set<string>();
    for (const item of list.items ?? []) {
      const key = objectKey(item);
      seen.add(key);
      this.apply(key, item);
    }
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.handlers.onDelete(old);
      }
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? "";
    if (!this.hasSyncedFlag) {
      this.hasSyncedFlag = true;
      this.syncedResolve();
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const timeout = this.opts.watchTimeoutSeconds ?? 300;
    const query = `watch=1&allowWatchBookmarks=true&timeoutSeconds=${timeout}&resourceVersion=${encodeURIComponent(this.resourceVersion)}`;
    const sep = this.path.includes("?") ? "&" : "?";
    const abort = new AbortController();
    const stop = () => abort.abort();
    // Stopped while listing: an aborted signal fires no more listeners.
    if (signal.aborted) abort.abort();
    else signal.addEventListener("abort", stop, { once: true });
    this.watchAbort = abort;
    try {
      await this.rest.watch(`${this.path}${sep}${query}`, (e) => this.onEvent(e), abort.signal);
      this.dropped = false;
    } finally {
      this.watchAbort = undefined;
      signal.removeEventListener("abort", stop);
    }
  }

  private onEvent(e: WatchEvent): void {
    if (e.type === "ERROR") {
      const status = (e.object as { code?: number }).code ?? 0;
      throw new KubeError(
        status,
        String((e.object as { reason?: string }).reason ?? ""),
        "watch error event",
      );
    }
    const rv = e.object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (e.type === "BOOKMARK") return;
    const obj = e.object as T;
    const key = objectKey(obj);
    if (e.type === "DELETED") {
      this.cache.delete(key);
      this.handlers.onDelete(obj);
    } else {
      this.apply(key, obj);
    }
  }

  private apply(key: string, obj: T): void {
    // Nobody here reads managedFields; at 10,000 Services they are most of the cache.
    if (obj.metadata && "managedFields" in obj.metadata)
      delete (obj.metadata as { managedFields?: unknown }).managedFields;
    const old = this.cache.get(key);
    if (old?.metadata?.resourceVersion === obj.metadata?.resourceVersion && old !== undefined) return;
    this.cache.set(key, obj);
    this.handlers.onChange(obj, old);
  }
}

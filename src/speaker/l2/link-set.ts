// Follows the node's links: a packet socket (responder and announcer) on every announceable link,
// reopened when it fails, and whether any of them works. The kernel tells of link changes
// (rtnetlink, netlink.ts); each change and each socket error triggers a re-list, which decides
// from the full picture (announceableLinks). A slow periodic re-list is the safety net for a lost
// notification. I/O and time come in through the options.
import type { Clock } from "../../clock.js";
import type { InterfaceInfo } from "./interfaces.js";
import { announceableLinks } from "./links.js";
import type { LinkMessage } from "./netlink.js";

export interface LinkSetOptions<L> {
  clock: Clock;
  list: () => Promise<InterfaceInfo[]>;
  /** Opens a link; `onError` once if its socket fails later. Throws when it cannot be opened. */
  open: (name: string, onError: (error: Error) => void) => L;
  close: (link: L) => void;
  /** Only these names (default: every announceable link). */
  select?: (name: string) => boolean;
  /** The links changed (some were opened, some closed or reopened). */
  onLinks: (links: readonly L[]) => void;
  /** Whether at least one link can be heard on; called when that changes. */
  onWorking: (working: boolean) => void;
  onWarn?: (message: string, detail: Record<string, unknown>) => void;
  /** A failed link is reopened at most this often (default 1000 ms). */
  reopenMs?: number;
  /** Safety-net re-list interval (default 30 s). */
  relistMs?: number;
}

/** Whether the node can be heard on any link: at least one is open and its socket works. */
export function anyLinkWorks(links: readonly { name: string }[], failed: ReadonlySet<string>): boolean {
  return links.some((l) => !failed.has(l.name));
}

export class LinkSet<L extends { name: string }> {
  private links: L[] = [];
  /** Links (by name) whose socket failed or whose interface went down, until reopened. */
  private readonly failed = new Set<string>();
  /** Name -> when it was last opened (only names of current links). */
  private readonly opened = new Map<string, number>();
  /** Names that could not be opened, said once each (only names still listed). */
  private readonly unopenable = new Set<string>();
  private working: boolean | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private timer: unknown;
  private retry: unknown;

  constructor(private readonly o: LinkSetOptions<L>) {}

  current(): readonly L[] {
    return this.links;
  }

  /** As last reported to onWorking (false before the first listing). */
  isWorking(): boolean {
    return this.working ?? false;
  }

  /** Lists and opens the links; resolves when the first listing is applied. */
  async start(): Promise<void> {
    await this.refresh();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.o.clock.clearTimeout(this.timer);
    this.o.clock.clearTimeout(this.retry);
  }

  /** Notifications from the kernel: a link that went down is deaf at once; then re-list. */
  linkMessages(messages: readonly LinkMessage[]): void {
    for (const m of messages) {
      const link = this.links.find((l) => l.name === m.name);
      if (link && (m.kind === "del" || !m.up || !m.lowerUp)) this.failed.add(link.name);
    }
    this.publishWorking();
    void this.refresh();
  }

  /** The notification socket failed (lost notifications): re-list. */
  resync(): void {
    void this.refresh();
  }

  /** Runs a re-list; calls during one run one more afterwards. */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.apply();
      } while (this.again && !this.stopped);
      this.running = undefined;
    })();
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => {
      void this.refresh();
      this.schedule();
    }, this.o.relistMs ?? 30_000);
  }

  private failedLink(link: L, error: Error): void {
    if (!this.links.includes(link) || this.failed.has(link.name)) return;
    this.o.onWarn?.("packet socket failed; reopening it when the link is up", {
      interface: link.name,
      err: String(error),
    });
    this.failed.add(link.name);
    this.publishWorking();
    void this.refresh();
  }

  private async apply(): Promise<void> {
    let names: string[];
    try {
      const select = this.o.select ?? (() => true);
      names = announceableLinks(await this.o.list()).filter(select);
    } catch (e) {
      this.o.onWarn?.("cannot list the node's links", { err: String(e) });
      return;
    }
    if (this.stopped) return;
    const now = this.o.clock.now();
    const reopenMs = this.o.reopenMs ?? 1000;
    let wait: number | undefined;
    const keep: L[] = [];
    const closed: L[] = [];
    for (const link of this.links) {
      const failed = this.failed.has(link.name);
      if (!names.includes(link.name)) closed.push(link);
      else if (!failed) keep.push(link);
      else {
        // Failed while still listed as up: reopen, but not in a tight loop.
        const since = now - (this.opened.get(link.name) ?? 0);
        if (since >= reopenMs) closed.push(link);
        else {
          keep.push(link);
          wait = Math.min(wait ?? reopenMs, reopenMs - since);
        }
      }
    }
    for (const name of [...this.unopenable]) if (!names.includes(name)) this.unopenable.delete(name);
    for (const link of closed) {
      this.o.close(link);
      this.failed.delete(link.name);
      this.opened.delete(link.name);
    }
    const added: L[] = [];
    for (const name of names) {
      if (keep.some((l) => l.name === name)) continue;
      const link = this.openOne(name, now);
      if (link) added.push(link);
    }
    if (wait !== undefined) {
      this.o.clock.clearTimeout(this.retry);
      this.retry = this.o.clock.setTimeout(() => void this.refresh(), wait);
    }
    if (closed.length > 0 || added.length > 0) {
      this.links = [...keep, ...added];
      this.o.onLinks(this.links);
    }
    this.publishWorking();
  }

  private openOne(name: string, now: number): L | undefined {
    try {
      let link: L | undefined;
      // A socket that fails while being opened reports itself through the same path.
      const opened = this.o.open(name, (error) => {
        if (link) this.failedLink(link, error);
      });
      link = opened;
      this.opened.set(name, now);
      this.unopenable.delete(name);
      return opened;
    } catch (e) {
      // Tried again at every re-list; said once.
      if (!this.unopenable.has(name))
        this.o.onWarn?.("cannot open a packet socket; not announcing on it", {
          interface: name,
          err: String(e),
        });
      this.unopenable.add(name);
      return undefined;
    }
  }

  private publishWorking(): void {
    const working = anyLinkWorks(this.links, this.failed);
    if (working === this.working) return;
    this.working = working;
    this.o.onWorking(working);
  }
}

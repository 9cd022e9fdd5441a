// ServiceAnnouncements: the owner's public claim, so that `kubectl get sann -A` answers "which
// node answers ARP for this Service?". The desired object is a pure function; the writer keeps
// the API in line with it, level-triggered and retried, and never blocks announcing: with the
// API server down, the network side goes on and the writer catches up when it returns.
import type { V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { isStatus, type KubeObject, type Rest } from "../k8s/rest.js";
import type { Condition } from "./forwarding-report.js";

export const SANN_PATH = "/apis/herald.dev/v1alpha1";

export interface AnnouncementStatus {
  node: string;
  interfaces: string[];
  addresses: string[];
  /** RFC 3339, seconds. */
  since: string;
  /**
   * AddressConflict while a foreign host holds one of the addresses (left out otherwise), and
   * Forwarding on the announcing node (see forwarding-report.ts).
   */
  conditions?: Condition[];
}

export type AnnouncementCondition = Condition;

export const ADDRESS_CONFLICT = "AddressConflict";

export interface ServiceAnnouncement extends KubeObject {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
  };
  status?: AnnouncementStatus;
}

/** The whole object (the CRD has no status subresource), owned by its Service for garbage collection. */
export function announcementFor(svc: V1Service, status: AnnouncementStatus): ServiceAnnouncement {
  const name = svc.metadata?.name ?? "";
  const namespace = svc.metadata?.namespace ?? "";
  return {
    apiVersion: "herald.dev/v1alpha1",
    kind: "ServiceAnnouncement",
    metadata: {
      name,
      namespace,
      ownerReferences: [{ apiVersion: "v1", kind: "Service", name, uid: svc.metadata?.uid ?? "" }],
    },
    status,
  };
}

/** What this node wants for a Service: its claim, or none (remove a claim naming this node). */
export type Desired = { svc: V1Service; status: AnnouncementStatus } | { remove: true };

export type WriteAction = "none" | "create" | "update" | "delete";

/** What to do to the API so that `current` (from the cache) matches this node's wish. */
export function writeAction(
  self: string,
  desired: Desired,
  current: ServiceAnnouncement | undefined,
): WriteAction {
  if ("remove" in desired) return current?.status?.node === self ? "delete" : "none";
  if (!current) return "create";
  const a = current.status;
  const b = desired.status;
  const same =
    a !== undefined &&
    a.node === b.node &&
    a.since === b.since &&
    a.addresses.join() === b.addresses.join() &&
    (a.interfaces ?? []).join() === b.interfaces.join() &&
    conditionsKey(a.conditions) === conditionsKey(b.conditions) &&
    current.metadata.ownerReferences?.[0]?.uid === desired.svc.metadata?.uid;
  return same ? "none" : "update";
}

/** Field by field: the API server hands objects back with their keys in another order. */
function conditionsKey(conditions: readonly AnnouncementCondition[] | undefined): string {
  return JSON.stringify(
    (conditions ?? []).map((c) => [c.type, c.status, c.reason, c.message, c.lastTransitionTime]),
  );
}

export interface AnnouncementCache {
  get(key: string): ServiceAnnouncement | undefined;
}

export interface WriterTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export class AnnouncementWriter {
  private desired = new Map<string, Desired>();
  /** What this writer last wrote, as the API answered: newer than the cache until the watch catches up. */
  private readonly written = new Map<string, ServiceAnnouncement | null>();
  private timer: unknown;
  private running = false;
  private again = false;
  private backoffMs = 0;
  private stopped = false;
  writes = 0;
  failures = 0;

  constructor(
    private readonly o: {
      self: string;
      rest: Rest;
      cache: AnnouncementCache;
      log: Logger;
      timers: WriterTimers;
      coalesceMs?: number;
    },
  ) {}

  /** Replaces the wishes, by Service key; keys left out are not touched. */
  set(desired: Map<string, Desired>): void {
    this.desired = desired;
    this.kick(this.o.coalesceMs ?? 100);
  }

  /** The cache changed (someone else wrote): compare again. */
  recheck(): void {
    if (this.backoffMs === 0) this.kick(this.o.coalesceMs ?? 100);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private kick(ms: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = undefined;
      void this.sync();
    }, ms);
  }

  private async sync(): Promise<void> {
    this.running = true;
    let failed = false;
    for (const [key, want] of this.desired) {
      const current = this.current(key);
      const action = writeAction(this.o.self, want, current);
      if (action === "none") continue;
      try {
        await this.write(key, action, want, current);
        this.writes++;
      } catch (e) {
        if (isStatus(e, 404) && action === "delete") continue;
        failed = true;
        this.failures++;
        this.o.log.warn({ key, action, err: String(e) }, "ServiceAnnouncement write failed");
      }
    }
    this.running = false;
    if (failed) {
      this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 500), 10_000);
      this.timer = this.o.timers.setTimeout(() => {
        this.timer = undefined;
        void this.sync();
      }, this.backoffMs);
    } else {
      this.backoffMs = 0;
      if (this.again) {
        this.again = false;
        this.kick(0);
      }
    }
  }

  private current(key: string): ServiceAnnouncement | undefined {
    const cached = this.o.cache.get(key);
    if (!this.written.has(key)) return cached;
    const mine = this.written.get(key) ?? undefined;
    const version = (o: ServiceAnnouncement | undefined) => Number(o?.metadata.resourceVersion ?? 0);
    if (cached && version(cached) > version(mine)) {
      this.written.delete(key);
      return cached;
    }
    return mine;
  }

  private async write(
    key: string,
    action: WriteAction,
    want: Desired,
    current: ServiceAnnouncement | undefined,
  ): Promise<void> {
    const [namespace, name] = key.split("/") as [string, string];
    const path = `${SANN_PATH}/namespaces/${namespace}/serviceannouncements`;
    if (action === "delete") {
      // Only the version that names this node: a new owner's claim written since (which this
      // node's cache may not show yet) is not this node's to remove.
      const preconditions = { resourceVersion: current?.metadata.resourceVersion };
      try {
        await this.o.rest.request("DELETE", `${path}/${name}`, {
          apiVersion: "v1",
          kind: "DeleteOptions",
          preconditions,
        });
      } catch (e) {
        if (!isStatus(e, 409)) throw e;
        // Someone wrote it since: what the cache shows next decides.
        this.written.delete(key);
        return;
      }
      this.written.set(key, null);
      return;
    }
    if ("remove" in want) return;
    const body = announcementFor(want.svc, want.status);
    if (action === "create") {
      try {
        this.written.set(key, await this.o.rest.request<ServiceAnnouncement>("POST", path, body));
        return;
      } catch (e) {
        if (!isStatus(e, 409)) throw e;
      }
    }
    // Update (or a create that raced with another writer): the whole object at the version
    // known; on a conflict once more at the latest one.
    const put = async (version: string | undefined) => {
      body.metadata.resourceVersion = version;
      this.written.set(key, await this.o.rest.request<ServiceAnnouncement>("PUT", `${path}/${name}`, body));
    };
    const latest = async () =>
      (await this.o.rest.request<ServiceAnnouncement>("GET", `${path}/${name}`)).metadata.resourceVersion;
    try {
      await put(current && action === "update" ? current.metadata.resourceVersion : await latest());
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
      await put(await latest());
    }
  }
}

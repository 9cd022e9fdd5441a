// Leader election on a coordination.k8s.io/v1 Lease, the way client-go does it:
// the holder renews every renewEveryMs; others take over once they have seen
// the same record unchanged for a whole lease duration (their own clock, so
// clocks need not agree). A leader that cannot renew within renewDeadlineMs,
// or sees another holder, stops leading at once: isLeader() gates every write.
import type { Logger } from "pino";
import { isStatus, type Rest } from "./rest.js";

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  renewEveryMs: number;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  log: Logger;
  onChange: (leading: boolean) => void;
}

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  private leading = false;
  private lastRenew = 0;
  private observed = "";
  private observedAt = 0;

  constructor(
    private readonly rest: Rest,
    private readonly o: LeaderOptions,
  ) {}

  /** True only while this process holds a Lease it renewed within the renew deadline. */
  isLeader(): boolean {
    return this.leading && this.o.now() - this.lastRenew < this.o.renewDeadlineMs;
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const held = await this.tryAcquireOrRenew().catch((e: unknown) => {
        this.o.log.warn({ err: String(e) }, "lease request failed");
        // Unreachable API: keep leading only until the renew deadline passes.
        return this.isLeader();
      });
      this.setLeading(held);
      await this.o
        .sleep(this.leading ? this.o.renewEveryMs : this.o.renewEveryMs / 2, signal)
        .catch(() => {});
    }
    if (this.leading) await this.release();
  }

  /** Gives the Lease up so a standby takes over without waiting for expiry. */
  async release(): Promise<void> {
    this.setLeading(false);
    try {
      const lease = await this.get();
      if (lease?.spec.holderIdentity !== this.o.identity) return;
      lease.spec.holderIdentity = "";
      lease.spec.renewTime = microTime(this.o.now() - this.o.leaseDurationMs);
      await this.rest.request("PUT", this.path(lease.metadata.name), lease);
    } catch (e) {
      this.o.log.warn({ err: String(e) }, "could not release the lease");
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.o.log.info(
      { lease: this.o.name, identity: this.o.identity, leading },
      leading ? "became leader" : "stopped leading",
    );
    this.o.onChange(leading);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.o.now();
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    const lease = await this.get();
    if (lease === undefined) {
      const fresh: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
      };
      await this.rest.request("POST", this.path(), fresh);
      this.lastRenew = now;
      return true;
    }
    const record = `${lease.spec.holderIdentity ?? ""}@${lease.spec.renewTime ?? ""}`;
    if (record !== this.observed) {
      this.observed = record;
      this.observedAt = now;
    }
    const holder = lease.spec.holderIdentity ?? "";
    const mine = holder === this.o.identity;
    const expired = holder === "" || now - this.observedAt >= this.o.leaseDurationMs;
    if (!mine && !expired) {
      this.lastRenew = 0; // another holder: stop at once, not at the deadline
      return false;
    }
    const next: Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        ...spec,
        acquireTime: mine ? lease.spec.acquireTime : microTime(now),
        leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      await this.rest.request("PUT", this.path(lease.metadata.name), next);
    } catch (e) {
      if (isStatus(e, 409)) {
        this.lastRenew = 0; // someone else wrote first
        return false;
      }
      throw e;
    }
    this.lastRenew = now;
    return true;
  }

  private async get(): Promise<Lease | undefined> {
    try {
      return await this.rest.request<Lease>("GET", this.path(this.o.name));
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  private path(name?: string): string {
    const base = `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`;
    return name ? `${base}/${name}` : base;
  }
}

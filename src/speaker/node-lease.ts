// The speaker's per-node Lease (herald-speaker-<node>): the API-visible sign that its speaker
// runs, and where peers find its heartbeat address, public key and MACs. Renewed on a timer; failures
// are logged and retried, never fatal (heartbeats, not this Lease, decide liveness between speakers;
// but peers whose heartbeats from this node are lost count its renewals as half of the evidence
// that it is alive, so it renews faster while it contends for an address with such a peer).
import type { Logger } from "pino";
import { microTime } from "../k8s/leader.js";
import { isStatus, type Rest } from "../k8s/rest.js";
import {
  HEARTBEAT_ADDRESS_ANNOTATION,
  HEARTBEAT_PUBLIC_KEY_ANNOTATION,
  SPEAKER_LEASE_PREFIX,
  SPEAKER_MACS_ANNOTATION,
} from "./inputs.js";

export interface NodeLeaseOptions {
  namespace: string;
  node: string;
  heartbeatAddress: string;
  /** This speaker's heartbeat public key (NodeIdentity.publicKey). */
  publicKey: string;
  /** The MACs of the links the speaker answers on now (links come and go). */
  macs: () => readonly string[];
  durationSeconds?: number;
  renewEveryMs?: number;
  /** True while peers need to see this node alive soon: renew every `urgentEveryMs` meanwhile. */
  urgent?: () => boolean;
  /** Default 2000 ms. */
  urgentEveryMs?: number;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  log: Logger;
}

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string };
}

export function speakerLeaseName(node: string): string {
  return `${SPEAKER_LEASE_PREFIX}${node}`;
}

/**
 * Whether a renewal is due (last: when the previous one was tried). Every 10 s costs the API
 * server one GET and one PUT per node, and every speaker a watch event per renewal; every 2 s
 * only while this node contends for an address with a peer that cannot hear its heartbeats.
 */
export function renewalDue(
  last: number | undefined,
  now: number,
  everyMs: number,
  urgentEveryMs: number,
  urgent: boolean,
): boolean {
  return last === undefined || now - last >= (urgent ? Math.min(urgentEveryMs, everyMs) : everyMs);
}

export class NodeLease {
  renewed = 0;
  constructor(
    private readonly rest: Rest,
    private readonly o: NodeLeaseOptions,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    const every = this.o.renewEveryMs ?? 10_000;
    const urgentEvery = Math.min(every, this.o.urgentEveryMs ?? 2000);
    let last: number | undefined;
    while (!signal.aborted) {
      const now = this.o.now();
      if (renewalDue(last, now, every, urgentEvery, this.o.urgent?.() ?? false)) {
        // A failure waits for the next renewal like a success: a recovering API server gets no burst.
        last = now;
        try {
          await this.renew();
          this.renewed++;
        } catch (e) {
          this.o.log.warn({ err: String(e) }, "speaker lease renewal failed");
        }
      }
      await this.o.sleep(this.o.urgent ? urgentEvery : every, signal).catch(() => {});
    }
  }

  private async renew(): Promise<void> {
    const name = speakerLeaseName(this.o.node);
    const path = `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`;
    const now = microTime(this.o.now());
    const annotations = {
      [HEARTBEAT_ADDRESS_ANNOTATION]: this.o.heartbeatAddress,
      [HEARTBEAT_PUBLIC_KEY_ANNOTATION]: this.o.publicKey,
      [SPEAKER_MACS_ANNOTATION]: this.o.macs().join(","),
    };
    const spec = {
      holderIdentity: this.o.node,
      leaseDurationSeconds: this.o.durationSeconds ?? 40,
      renewTime: now,
    };
    let lease: Lease | undefined;
    try {
      lease = await this.rest.request<Lease>("GET", `${path}/${name}`);
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
    if (!lease) {
      await this.rest.request("POST", path, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace: this.o.namespace, annotations },
        spec: { ...spec, acquireTime: now },
      });
      return;
    }
    await this.rest.request("PUT", `${path}/${name}`, {
      ...lease,
      metadata: { ...lease.metadata, annotations: { ...lease.metadata.annotations, ...annotations } },
      spec: { ...lease.spec, ...spec },
    });
  }
}

// The speaker's per-node Lease (herald-speaker-<node>): the API-visible sign that its speaker
// runs, and where peers find its heartbeat address, public key and MACs. Renewed on a timer; failures are
// logged and retried, never fatal (heartbeats, not this Lease, decide liveness between speakers).
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

export class NodeLease {
  renewed = 0;
  constructor(
    private readonly rest: Rest,
    private readonly o: NodeLeaseOptions,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.renew();
        this.renewed++;
      } catch (e) {
        this.o.log.warn({ err: String(e) }, "speaker lease renewal failed");
      }
      await this.o.sleep(this.o.renewEveryMs ?? 10_000, signal).catch(() => {});
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

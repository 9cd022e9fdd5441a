// The speakers' Lease informer: a renewal alone (only spec.renewTime moved) is evidence that the
// node is alive, for the layer-2 speaker; it changes nothing the election reads (a speaker's
// heartbeat address and MACs), so it must not cost a recompute of the whole desired state at
// every renewal of every node. Anything else, and a first sight (a list, not a renewal), does.
import type { InformerHandlers } from "../k8s/informer.js";
import type { KubeObject } from "../k8s/rest.js";
import { SPEAKER_LEASE_PREFIX } from "./inputs.js";

export interface SpeakerLease extends KubeObject {
  spec?: { holderIdentity?: string; renewTime?: string };
}

export function leaseHandlers<T extends SpeakerLease>(h: {
  /** A renewal of this node's speaker Lease was received now. */
  renewed(node: string): void;
  /** Something the speaker's inputs read changed. */
  changed(): void;
}): InformerHandlers<T> {
  return {
    onChange(obj, old) {
      const name = obj.metadata?.name ?? "";
      const renewal =
        old !== undefined &&
        name.startsWith(SPEAKER_LEASE_PREFIX) &&
        obj.spec?.renewTime !== undefined &&
        obj.spec.renewTime !== old.spec?.renewTime;
      if (renewal) h.renewed(name.slice(SPEAKER_LEASE_PREFIX.length));
      const same =
        old !== undefined &&
        JSON.stringify(obj.metadata?.annotations ?? {}) === JSON.stringify(old.metadata?.annotations ?? {}) &&
        obj.spec?.holderIdentity === old.spec?.holderIdentity;
      if (!same) h.changed();
    },
    onDelete: () => h.changed(),
  };
}

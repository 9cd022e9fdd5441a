// What the controller needs from the world, as narrow interfaces: a read cache
// per resource, the few writes it makes, and where its decisions are recorded.
// The wiring passes informers and the REST client; tests pass plain objects.
import type { V1Namespace, V1Service } from "@kubernetes/client-node";
import type { KubeObject } from "../k8s/rest.js";
import type { ConditionSource } from "./service-conditions.js";

export interface Store<T> {
  get(key: string): T | undefined;
  list(): T[];
}

export interface PoolObject extends KubeObject {
  spec?: unknown;
  status?: unknown;
}

export interface ControllerStores {
  services: Store<V1Service>;
  namespaces: Store<V1Namespace>;
  pools: Store<PoolObject>;
  /** ServiceAnnouncements, by Service key: their AddressConflict condition is mirrored on the Service. */
  announcements?: Store<ConditionSource>;
}

export interface EventTarget {
  kind: "Service" | "IPAddressPool";
  apiVersion: string;
  namespace?: string;
  name: string;
  uid?: string;
}

export interface ControllerWrites {
  patchServiceStatus(namespace: string, name: string, patch: object): Promise<void>;
  patchPoolStatus(name: string, status: object): Promise<void>;
  event(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

/** One decision worth keeping: who got, lost or was refused which address. */
export interface Decision {
  kind:
    | "allocated"
    | "released"
    | "moved"
    | "request-refused"
    | "shared"
    | "pool-invalid"
    | "conflict-detected";
  service?: { namespace: string; name: string; uid?: string };
  addresses: readonly string[];
  pool?: string;
  reason: string;
  message: string;
  resourceVersion?: string;
}

export interface DecisionLog {
  record(d: Decision): void;
}

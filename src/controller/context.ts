// What the controller's reconcilers share: the options the wiring passes in, the decision
// state (allocator and pool parses, replaced on every warm start), and how they queue work
// and send events. Only the leader writes.
import type { V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { PoolParse } from "../api/ipaddresspool.js";
import type { IPMode } from "../api/service.js";
import type { Clock } from "../clock.js";
import { Allocator } from "../domain/allocator.js";
import type { WorkKey } from "./keys.js";
import type { ControllerMetrics } from "./metrics.js";
import type { ControllerStores, ControllerWrites, DecisionLog, EventTarget } from "./ports.js";

export interface ControllerOptions {
  stores: ControllerStores;
  writes: ControllerWrites;
  decisions: DecisionLog;
  metrics: ControllerMetrics;
  log: Logger;
  isLeader: () => boolean;
  /** Wall time for timestamps written to the API, monotonic time for intervals, and the timers. */
  clock: Clock;
  /** Handle only Services of this loadBalancerClass; undefined: only those without a class. */
  lbClass?: string | undefined;
  /** Set status.loadBalancer.ingress[].ipMode (API servers 1.29+ know the field). */
  ipMode?: IPMode | undefined;
  workers?: number;
  /** At most one status write per pool in this time (default 1000 ms): a burst of allocations is one write. */
  poolStatusIntervalMs?: number;
}

/** The decisions so far; a warm start replaces them all at once. */
export interface DecisionState {
  readonly allocator: Allocator;
  /** Every pool's parse, valid or not, by name. */
  parses: Map<string, PoolParse>;
  /** Services that asked and got nothing: retried whenever an address frees up. */
  readonly pending: Set<string>;
}

export function freshState(): DecisionState {
  return { allocator: new Allocator(), parses: new Map(), pending: new Set() };
}

export interface ControllerContext {
  readonly o: ControllerOptions;
  state(): DecisionState;
  enqueue(key: WorkKey): void;
  /** Sends an event without waiting for it: events are worth neither a retry nor the reconcile's time. */
  event(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): void;
}

/** RFC 3339 in whole seconds, as metav1.Time is written. */
export function wallTime(clock: Clock): string {
  return new Date(clock.wall()).toISOString().replace(/\.\d+Z$/, "Z");
}

/** The labels of the Service's namespace (its name label alone while the cache lacks it). */
export function namespaceLabels(o: ControllerOptions, svc: V1Service): Record<string, string> {
  const ns = svc.metadata?.namespace ?? "";
  return o.stores.namespaces.get(ns)?.metadata?.labels ?? { "kubernetes.io/metadata.name": ns };
}

// The controller's Prometheus metrics, registered on a registry the caller owns.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface ControllerMetrics {
  poolAddresses: Gauge<"pool" | "family" | "state">;
  allocations: Counter<"result">;
  refusals: Counter<"reason">;
  statusWrites: Counter<"kind">;
  reconcileSeconds: Histogram<"kind" | "outcome">;
  leader: Gauge;
}

export function controllerMetrics(registry: Registry, queueDepth: () => number): ControllerMetrics {
  const registers = [registry];
  new Gauge({
    name: "herald_workqueue_depth",
    help: "Keys waiting in the controller's work queue",
    registers,
    collect() {
      this.set(queueDepth());
    },
  });
  return {
    poolAddresses: new Gauge({
      name: "herald_pool_addresses",
      help: "Addresses per pool and family: total, assigned, available",
      labelNames: ["pool", "family", "state"],
      registers,
    }),
    allocations: new Counter({
      name: "herald_allocations_total",
      help: "Address changes for Services, by result (allocated, moved, released)",
      labelNames: ["result"],
      registers,
    }),
    refusals: new Counter({
      name: "herald_allocation_failures_total",
      help: "Services that did not get what they asked for, by reason",
      labelNames: ["reason"],
      registers,
    }),
    statusWrites: new Counter({
      name: "herald_status_writes_total",
      help: "Status writes to the API server, by object kind",
      labelNames: ["kind"],
      registers,
    }),
    reconcileSeconds: new Histogram({
      name: "herald_reconcile_duration_seconds",
      help: "Time to reconcile one key",
      labelNames: ["kind", "outcome"],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    }),
    leader: new Gauge({ name: "herald_controller_leader", help: "1 while this replica leads", registers }),
  };
}

// `herald controller`: wiring only. Informers feed the controller, the Lease
// decides who writes, fastify serves health and metrics.
import { hostname } from "node:os";
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { V1Namespace, V1Service } from "@kubernetes/client-node";
import pino from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { AuditLog } from "../audit/log.js";
import { systemClock } from "../clock.js";
import { Controller } from "../controller/controller.js";
import { auditedDecisions } from "../controller/decision-log.js";
import { controllerMetrics } from "../controller/metrics.js";
import type { PoolObject } from "../controller/ports.js";
import type { ConditionSource } from "../controller/service-conditions.js";
import { buildHttp } from "../http/server.js";
import { apiClient } from "../k8s/client.js";
import { serverVersion, supportsIPMode } from "../k8s/discovery.js";
import { Informer } from "../k8s/informer.js";
import { loadKubeConfig } from "../k8s/kubeconfig.js";
import { LeaderElector } from "../k8s/leader.js";
import { untilReachable } from "../k8s/reachable.js";
import { type KubeObject, restFromKubeConfig } from "../k8s/rest.js";
import { controllerWrites } from "../k8s/writes.js";
import { watchLoopStalls } from "../loop-sampler.js";
import type { Command } from "./command.js";
import { FlagError, flagHelp, helpRequested, parseFlags, portFlag } from "./flags.js";
import { debugAccess, parseServing, type Serving, servingFlags } from "./serving.js";

const FLAGS = {
  kubeconfig: { env: "KUBECONFIG", help: "kubeconfig file (default: the Pod's service account)" },
  "lb-class": {
    help: "handle only Services with this spec.loadBalancerClass (default: only those without one)",
  },
  "http-port": { default: "7472", help: "port for /healthz /readyz /metrics /debug/state /audit" },
  "http-address": { default: "0.0.0.0", help: "address to listen on" },
  "log-level": { env: "HERALD_LOG_LEVEL", default: "info", help: "pino log level" },
  "lease-namespace": {
    env: "POD_NAMESPACE",
    default: "herald-system",
    help: "namespace of the leader Lease",
  },
  "lease-name": { default: "herald-controller", help: "name of the leader Lease" },
  identity: { env: "POD_NAME", help: "this replica's name in the Lease (default: host name)" },
  "audit-dir": { env: "HERALD_AUDIT_DIR", default: "/var/lib/herald/audit", help: "audit log directory" },
  ...servingFlags("512Mi"),
} as const;

export const controller: Command = async (argv, io) => {
  if (helpRequested(argv)) {
    io.out(`usage: herald controller [flags]\n\n${flagHelp(FLAGS)}`);
    return 0;
  }
  let flags: Record<keyof typeof FLAGS, string | undefined>;
  let port: number;
  let serving: Serving;
  try {
    flags = parseFlags(argv, FLAGS, process.env);
    port = portFlag("http-port", flags["http-port"]);
    serving = parseServing(flags);
  } catch (e) {
    if (e instanceof FlagError) {
      io.err(`herald controller: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const log = pino({ level: flags["log-level"] ?? "info", base: { component: "controller" } });
  const identity = flags.identity ?? hostname();
  const kc = loadKubeConfig(flags.kubeconfig);
  const registry = new Registry();
  const { rest, events, answers } = apiClient(restFromKubeConfig(kc), {
    component: "controller",
    instance: identity,
    registry,
    onEventError: (reason, err) => log.warn({ reason, err: String(err) }, "could not write event"),
  });
  const stop = new AbortController();
  const sleep = (ms: number, signal: AbortSignal) => sleepTimer(ms, undefined, { signal });

  collectDefaultMetrics({ register: registry });
  const stalls = watchLoopStalls({ clock: systemClock, log, registry });
  let ctl: Controller | undefined;
  const metrics = controllerMetrics(registry, () => ctl?.queue.depth ?? 0);
  const auditDir = flags["audit-dir"] ?? "/var/lib/herald/audit";
  // Conversion to Parquet on this thread: a controller's few decisions a second do not need a worker's memory.
  const audit = new AuditLog({
    dir: auditDir,
    logger: log.child({ component: "audit" }),
    registry,
    retention: serving.retention,
  });
  await audit.start();
  const decisions = auditedDecisions(audit, identity);

  const elector = new LeaderElector(rest, {
    namespace: flags["lease-namespace"] ?? "herald-system",
    name: flags["lease-name"] ?? "herald-controller",
    identity,
    leaseDurationMs: 6_000,
    renewDeadlineMs: 4_000,
    renewEveryMs: 1_000,
    now: systemClock.wall,
    sleep,
    log,
    onChange: (leading) => {
      metrics.leader.set(leading ? 1 : 0);
      if (leading) void ctl?.warmStart();
    },
  });

  const informerOpts = { log, sleep, answers };
  const services: Informer<V1Service> = new Informer<V1Service>(
    rest,
    "/api/v1/services",
    { onChange: (s) => ctl?.serviceChanged(s), onDelete: (s) => ctl?.serviceChanged(s) },
    informerOpts,
  );
  const namespaces = new Informer<V1Namespace>(
    rest,
    "/api/v1/namespaces",
    {
      onChange: (n) => ctl?.namespaceChanged(n.metadata?.name ?? ""),
      onDelete: (n) => ctl?.namespaceChanged(n.metadata?.name ?? ""),
    },
    informerOpts,
  );
  const pools = new Informer<PoolObject>(
    rest,
    "/apis/herald.dev/v1alpha1/ipaddresspools",
    { onChange: () => ctl?.poolsChanged(), onDelete: () => ctl?.poolsChanged() },
    informerOpts,
  );

  const announcements = new Informer<ConditionSource & KubeObject>(
    rest,
    "/apis/herald.dev/v1alpha1/serviceannouncements",
    {
      onChange: (a) => ctl?.announcementChanged(a.metadata?.namespace ?? "", a.metadata?.name ?? ""),
      onDelete: (a) => ctl?.announcementChanged(a.metadata?.namespace ?? "", a.metadata?.name ?? ""),
    },
    informerOpts,
  );

  const version = await untilReachable(() => serverVersion(rest), log, stop.signal, sleep);
  ctl = new Controller({
    stores: { services, namespaces, pools, announcements },
    writes: controllerWrites(rest, events),
    decisions,
    metrics,
    log,
    isLeader: () => elector.isLeader(),
    clock: systemClock,
    lbClass: flags["lb-class"],
    ipMode: version && supportsIPMode(version) ? "Proxy" : undefined,
  });
  const c = ctl;

  const http = buildHttp({
    registry,
    healthy: () => !stop.signal.aborted,
    // Audit trouble shows in readiness (and metrics, logs) but never stops allocation.
    ready: () => c.ready && audit.isReady(),
    state: () => ({
      identity,
      version: version?.gitVersion,
      audit: audit.lastProblem()?.message ?? "ok",
      ...c.debugState(),
    }),
    auditDir,
    access: debugAccess(serving, rest, "controller", flags["lease-namespace"] ?? "herald-system"),
    logger: log,
  });
  await http.listen({ port, host: flags["http-address"] ?? "0.0.0.0" });
  log.info(
    { port, identity, lbClass: flags["lb-class"] ?? null, server: version?.gitVersion },
    "controller starting",
  );

  const running = [
    services.run(stop.signal),
    namespaces.run(stop.signal),
    pools.run(stop.signal),
    announcements.run(stop.signal),
  ];
  c.start();
  await Promise.all([services.synced, namespaces.synced, pools.synced, announcements.synced]);
  await c.warmStart();
  running.push(elector.run(stop.signal));

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, "shutting down");
      resolve();
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  });
  c.stop();
  stalls.stop();
  stop.abort();
  await Promise.allSettled(running);
  await http.close();
  await audit.stop();
  return 0;
};

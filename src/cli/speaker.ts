// `herald speaker`: wiring only. Flags, the first contact with the API, the audit log, the
// speaker's object graph (assemble.ts), fastify for health, metrics and the audit log, the
// per-node Lease that tells peers where to find it, and the order of start and shutdown.
import { readFileSync } from "node:fs";
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { V1Node } from "@kubernetes/client-node";
import pino, { type Logger } from "pino";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { workerConverter } from "../audit/converter.js";
import { AuditLog } from "../audit/log.js";
import { systemClock } from "../clock.js";
import { buildHttp } from "../http/server.js";
import { apiClient } from "../k8s/client.js";
import { endpointSliceVersion } from "../k8s/discovery.js";
import { loadKubeConfig } from "../k8s/kubeconfig.js";
import { untilReachable } from "../k8s/reachable.js";
import { restFromKubeConfig } from "../k8s/rest.js";
import { watchLoopStalls } from "../loop-sampler.js";
import { assembleSpeaker } from "../speaker/assemble.js";
import { CommandWorker, type RunCommand } from "../speaker/commands.js";
import { MAX_REALTIME_PRIORITY, raiseToRealtime } from "../speaker/cpu-priority.js";
import { SpeakerHealth } from "../speaker/health.js";
import { internalAddresses } from "../speaker/inputs.js";
import { NodeLease } from "../speaker/node-lease.js";
import type { Command } from "./command.js";
import { FlagError, flagHelp, helpRequested, integerFlag, parseFlags, portFlag } from "./flags.js";
import { debugAccess, parseServing, type Serving, servingFlags } from "./serving.js";

const FLAGS = {
  "node-name": { env: "NODE_NAME", help: "this node's name (required; the downward API's spec.nodeName)" },
  kubeconfig: { env: "KUBECONFIG", help: "kubeconfig file (default: the Pod's service account)" },
  "lb-class": {
    help: "handle only Services with this spec.loadBalancerClass (default: only those without one)",
  },
  "http-port": { default: "7473", help: "port for /healthz /readyz /metrics /debug/state /audit" },
  "http-address": { default: "0.0.0.0", help: "address to listen on" },
  "heartbeat-port": { default: "7946", help: "UDP port of the heartbeats between speakers" },
  "heartbeat-key-file": {
    env: "HERALD_HEARTBEAT_KEY_FILE",
    default: "/etc/herald/heartbeat/key",
    help: "file holding the heartbeat HMAC key (32 bytes or more)",
  },
  "audit-dir": { env: "HERALD_AUDIT_DIR", default: "/var/lib/herald/audit", help: "audit log directory" },
  "log-level": { env: "HERALD_LOG_LEVEL", default: "info", help: "pino log level" },
  "lease-namespace": {
    env: "POD_NAMESPACE",
    default: "herald-system",
    help: "namespace of the per-node Leases (herald-speaker-<node>)",
  },
  "realtime-priority": {
    default: "10",
    help: "SCHED_RR priority of the event loop, 1-99, so a busy node does not delay heartbeats (0: none; needs CAP_SYS_NICE)",
  },
  ...servingFlags("1Gi"),
} as const;

type Flags = Record<keyof typeof FLAGS, string | undefined>;

interface Parsed {
  flags: Flags;
  node: string;
  httpPort: number;
  heartbeatPort: number;
  key: Buffer;
  realtimePriority: number;
  serving: Serving;
}

function parse(argv: string[]): Parsed {
  const flags = parseFlags(argv, FLAGS, process.env);
  const node = flags["node-name"];
  if (!node) throw new FlagError("--node-name (or NODE_NAME) is required");
  const httpPort = portFlag("http-port", flags["http-port"]);
  const heartbeatPort = portFlag("heartbeat-port", flags["heartbeat-port"]);
  const file = flags["heartbeat-key-file"] ?? "";
  let key: Buffer;
  try {
    key = Buffer.from(readFileSync(file, "utf8").trim());
  } catch (e) {
    throw new FlagError(`cannot read the heartbeat key from ${file}: ${(e as Error).message}`);
  }
  if (key.length < 32) throw new FlagError(`the heartbeat key in ${file} is shorter than 32 bytes`);
  const realtimePriority = integerFlag(
    "realtime-priority",
    flags["realtime-priority"],
    0,
    MAX_REALTIME_PRIORITY,
  );
  return { flags, node, httpPort, heartbeatPort, key, realtimePriority, serving: parseServing(flags) };
}

/** The event loop to SCHED_RR (cpu-priority.ts says why); a refusal is logged, never fatal. */
async function raisePriority(
  priority: number,
  run: RunCommand,
  log: Logger,
  registry: Registry,
): Promise<void> {
  const outcome = await raiseToRealtime(run, process.pid, priority);
  new Gauge({
    name: "herald_speaker_realtime_priority",
    help: "SCHED_RR priority of the speaker's event loop (0: normal scheduling)",
    registers: [registry],
  }).set(outcome.raised ? outcome.priority : 0);
  if (outcome.raised) log.info({ priority }, "event loop runs at real-time priority");
  else if (outcome.reason === "refused")
    log.warn(
      { priority, err: outcome.detail },
      "real-time priority refused (CAP_SYS_NICE?): on a busy node peers may take this node's addresses while it waits for a CPU",
    );
}

export const speaker: Command = async (argv, io) => {
  if (helpRequested(argv)) {
    io.out(`usage: herald speaker [flags]\n\n${flagHelp(FLAGS)}`);
    return 0;
  }
  let p: Parsed;
  try {
    p = parse(argv);
  } catch (e) {
    if (e instanceof FlagError) {
      io.err(`herald speaker: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const { flags, node: self } = p;
  const log = pino({ level: flags["log-level"] ?? "info", base: { component: "speaker", node: self } });
  const registry = new Registry();
  const { rest, events, answers } = apiClient(restFromKubeConfig(loadKubeConfig(flags.kubeconfig)), {
    component: "speaker",
    instance: self,
    registry,
    onEventError: (reason, err) => log.warn({ reason, err: String(err) }, "event not written"),
  });
  const stop = new AbortController();
  const sleep = (ms: number, signal: AbortSignal) => sleepTimer(ms, undefined, { signal });
  const namespace = flags["lease-namespace"] ?? "herald-system";

  // The node's own address carries the heartbeats; the API must answer once before anything starts.
  const reached = await untilReachable(
    () =>
      Promise.all([
        rest.request<V1Node>("GET", `/api/v1/nodes/${self}`),
        endpointSliceVersion(rest),
      ] as const),
    log,
    stop.signal,
    sleep,
  );
  if (!reached) return 0;
  const [selfNode, sliceVersion] = reached;
  const bind = internalAddresses(selfNode)[0];
  if (!bind) {
    io.err(`herald speaker: node ${self} has no InternalIP to send heartbeats from`);
    return 1;
  }

  collectDefaultMetrics({ register: registry });
  // Before the priority goes up: the worker thread that starts nft, conntrack and ip runs at normal priority.
  const commands = new CommandWorker();
  await raisePriority(p.realtimePriority, commands.run, log, registry);
  const stalls = watchLoopStalls({ clock: systemClock, log, registry });
  const auditDir = flags["audit-dir"] ?? "/var/lib/herald/audit";
  const audit = new AuditLog({
    dir: auditDir,
    logger: log.child({ component: "audit" }),
    registry,
    converter: workerConverter(),
    retention: p.serving.retention,
  });
  await audit.start();

  const clock = systemClock;
  const g = assembleSpeaker({
    self,
    clock,
    log,
    registry,
    rest,
    events,
    audit,
    sleep,
    answers,
    key: p.key,
    bind,
    port: p.heartbeatPort,
    namespace,
    sliceVersion,
    lbClass: flags["lb-class"],
    run: commands.run,
  });
  const { speaker: core, layer, applier, writer } = g;
  const { l2, links, membership, transport } = layer;
  await links.start();
  log.info(
    { interfaces: links.current.map((l) => l.name), heartbeat: `${bind}:${p.heartbeatPort}` },
    "links",
  );

  const running = g.informers.map((i) => i.run(stop.signal));
  const lease = new NodeLease(rest, {
    namespace,
    node: self,
    heartbeatAddress: bind,
    publicKey: g.identity.publicKey,
    macs: () => links.current.map((l) => l.mac),
    urgent: () => l2.contended(),
    now: () => clock.wall(),
    sleep,
    log,
  });
  running.push(lease.run(stop.signal));
  let synced = false;
  const health = new SpeakerHealth({
    clock,
    synced: () => synced,
    heartbeatSocket: () => transport.state(),
    stopping: () => stop.signal.aborted,
  });
  health.start();

  const http = buildHttp({
    registry,
    healthy: () => health.healthy(),
    ready: () => health.ready(),
    state: () => ({
      node: self,
      owned: l2.ownedAddresses(),
      live: membership.liveNodes(clock.now()),
      peers: membership.snapshot(),
      elections: Object.fromEntries(l2.currentElections()),
      interfaces: links.current.map((l) => l.name),
      heartbeatSocket: transport.state(),
      forwarding: applier.stats,
      handover: applier.handover.current(),
      announcementWrites: { ok: writer.writes, failed: writer.failures },
    }),
    auditDir,
    access: debugAccess(p.serving, rest, "speaker", namespace),
    logger: log,
  });
  await http.listen({ port: p.httpPort, host: flags["http-address"] ?? "0.0.0.0" });

  await Promise.all(g.informers.map((i) => i.synced));
  synced = true;
  core.clusterChanged();
  // The applier first: a takeover at the L2 start already gets its handover transaction.
  applier.start();
  l2.start();
  log.info({ port: p.httpPort, endpointSlices: sliceVersion }, "speaker started");

  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
  log.info("shutting down: handing over");
  links.stop();
  const owned = l2.ownedAddresses();
  await l2.leave();
  core.leave(owned);
  await applier.settled();
  await applier.stop();
  writer.stop();
  l2.stop();
  stop.abort();
  health.stop();
  stalls.stop();
  await Promise.allSettled(running);
  await http.close();
  await audit.stop();
  await commands.close();
  return 0;
};

// `herald speaker`: wiring only. Informers feed the Speaker, which drives the layer-2 speaker
// (packet sockets on the node's interfaces, UDP heartbeats) and the nftables applier; fastify
// serves health, metrics and the audit log; the per-node Lease tells peers where to find it.
import { readFileSync } from "node:fs";
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { V1Node, V1Service } from "@kubernetes/client-node";
import pino from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { workerConverter } from "../audit/converter.js";
import { AuditLog } from "../audit/log.js";
import { systemClock } from "../clock.js";
import { buildHttp } from "../http/server.js";
import { apiClient } from "../k8s/client.js";
import { endpointSliceVersion } from "../k8s/discovery.js";
import type { EventTarget } from "../k8s/events.js";
import { Informer, type InformerHandlers } from "../k8s/informer.js";
import { loadKubeConfig } from "../k8s/kubeconfig.js";
import { untilReachable } from "../k8s/reachable.js";
import type { KubeObject } from "../k8s/rest.js";
import { restFromKubeConfig } from "../k8s/rest.js";
import { AnnouncementWriter, type ServiceAnnouncement } from "../speaker/announcements.js";
import { ForwardingApplier } from "../speaker/forward/applier.js";
import {
  type EndpointSliceObject,
  internalAddresses,
  type LeaseObject,
  type PoolObject,
} from "../speaker/inputs.js";
import { Announcer } from "../speaker/l2/announcer.js";
import { Heartbeats } from "../speaker/l2/heartbeats.js";
import { type L2Link, L2Speaker } from "../speaker/l2/l2-speaker.js";
import { macToString } from "../speaker/l2/link-address.js";
import { LinkSet } from "../speaker/l2/link-set.js";
import { listLinks } from "../speaker/l2/links.js";
import { Membership } from "../speaker/l2/membership.js";
import { parseLinkMessages } from "../speaker/l2/netlink.js";
import { NodeIdentity } from "../speaker/l2/node-identity.js";
import { type LinkMonitor, openLinkMonitor, openPacketSocket } from "../speaker/l2/packet-socket.js";
import { Responder } from "../speaker/l2/responder.js";
import { UdpTransport } from "../speaker/l2/udp-transport.js";
import { leaseHandlers } from "../speaker/lease-renewals.js";
import { speakerMetrics } from "../speaker/metrics.js";
import { NodeLease } from "../speaker/node-lease.js";
import { Speaker } from "../speaker/speaker.js";
import type { Command } from "./command.js";
import { FlagError, flagHelp, parseFlags, portFlag } from "./flags.js";
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
  ...servingFlags("1Gi"),
} as const;

type Flags = Record<keyof typeof FLAGS, string | undefined>;

interface Parsed {
  flags: Flags;
  node: string;
  httpPort: number;
  heartbeatPort: number;
  key: Buffer;
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
  return { flags, node, httpPort, heartbeatPort, key, serving: parseServing(flags) };
}

export const speaker: Command = async (argv, io) => {
  if (argv.includes("--help")) {
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
  const { rest, events } = apiClient(restFromKubeConfig(loadKubeConfig(flags.kubeconfig)), {
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
  const auditDir = flags["audit-dir"] ?? "/var/lib/herald/audit";
  const audit = new AuditLog({
    dir: auditDir,
    logger: log.child({ component: "audit" }),
    registry,
    converter: workerConverter(),
    retention: p.serving.retention,
  });
  await audit.start();

  type Link = L2Link & { name: string; mac: string };
  let core: Speaker | undefined;
  // Declared before the link set, whose first listing (below) already calls back into it.
  let l2: L2Speaker | undefined;
  const openLink = (name: string, onError: (error: Error) => void): Link => {
    const socket = openPacketSocket(name, { onError });
    const announcer = new Announcer(socket, systemClock, {
      isSpeakerMac: (mac) => core?.isSpeakerMac(mac) ?? false,
      onConflict: (ip, mac) => core?.conflict(ip, mac),
    });
    const responder = new Responder(socket, (claim) => {
      announcer.observe(claim);
      const node = claim.kind === "claim" ? core?.nodeOfMac(claim.mac) : undefined;
      if (node !== undefined) l2?.peerClaimed(claim.ip, node);
    });
    return { name, mac: macToString(socket.mac), responder, announcer };
  };
  // Kept in place (metrics, state and the Lease read it); the link set follows the node's links.
  const links: Link[] = [];
  const linkSet = new LinkSet<Link>({
    clock: systemClock,
    list: listLinks,
    open: openLink,
    // The L2 speaker stops (and closes) links it lets go; one never handed to it is closed here.
    close: (link) => {
      if (!l2) link.responder.stop();
    },
    onLinks: (current) => {
      const names = (ls: readonly Link[]) => ls.map((l) => l.name);
      log.info({ before: names(links), now: names(current) }, "links changed");
      links.splice(0, links.length, ...current);
      l2?.setLinks(links);
    },
    onWorking: (working) => {
      if (!working) log.warn("no link works: peers take this node's addresses over");
      else log.info("a link works again: available after settling");
      l2?.setLinksWorking(working);
    },
    onWarn: (message, detail) => log.warn(detail, message),
  });
  // Notifications first: a change during the first listing triggers another.
  const monitor = watchLinks(linkSet, log);
  await linkSet.start();
  log.info({ interfaces: links.map((l) => l.name), heartbeat: `${bind}:${p.heartbeatPort}` }, "links");

  const membership = new Membership({ self });
  // This start's own heartbeat key pair, never stored: its public half goes into the Lease.
  const identity = NodeIdentity.generate();
  const heartbeats = new Heartbeats({
    self,
    key: p.key,
    identity,
    incarnation: Date.now(),
    transport: new UdpTransport(bind, p.heartbeatPort, (err) =>
      log.debug({ err: String(err) }, "heartbeat socket"),
    ),
    clock: systemClock,
    membership,
    onChange: (changes) => {
      log.info({ changes }, "membership");
      l2?.membershipChanged();
    },
  });
  l2 = new L2Speaker({
    self,
    clock: systemClock,
    membership,
    heartbeats,
    links,
    isFirstAnnouncement: (address) => core?.isFirstAnnouncement(address) ?? true,
    onChange: (change) => {
      core?.ownershipChanged(change);
      if (!change.owned) applier.handover.released(change.address);
      else applier.handover.owned(change.address);
    },
    prepareTakeover: (address, from) => {
      log.info({ address, from }, "connections of the previous owner go on through it");
      applier.handover.takenOver(address, from.address, core?.tcpPortsOf(address) ?? []);
      return applier.handover.settled();
    },
    onConflict: (address, mac) => core?.conflict(address, mac),
    onHeldBack: () => core?.heldBackChanged(),
  });
  l2.setLinksWorking(linkSet.isWorking());
  const layer2 = l2;

  const m = speakerMetrics(registry, {
    owned: () => layer2.ownedAddresses().length,
    livePeers: () => membership.liveNodes(systemClock.now()).length - 1,
    responders: () => links.map((l) => ({ iface: l.name, stats: l.responder.stats() })),
    announcers: () => links.map((l) => ({ iface: l.name, stats: l.announcer.stats() })),
    heartbeats: () => heartbeats.stats(),
    refusedServices: () => applier.refusedServices().size,
  });
  const applier: ForwardingApplier = new ForwardingApplier({
    nodeMacs: () => core?.speakerMacList() ?? [],
    onEvent: (e) => {
      if (e.type === "applied") {
        m.nftSyncs.inc({ mode: e.mode, result: "ok" });
        if (e.problems.length) log.warn({ problems: e.problems }, "forwarding problems");
        core?.forwardingReported({ refused: applier.refusedServices(), problems: e.problems });
      } else if (e.type === "serviceRefused") {
        m.nftRefusals.inc();
        log.warn({ event: e }, "nftables refused a Service's rules; applied the others without it");
      } else if (e.type === "applyFailed") {
        m.nftSyncs.inc({ mode: e.mode, result: "failed" });
        log.warn({ event: e }, "nftables apply failed");
      } else log.info({ event: e }, "forwarding");
    },
  });

  const recompute = coalesce(() => core?.clusterChanged(), 10);
  const handlers = { onChange: recompute, onDelete: recompute };
  const opts = { log, sleep };
  const informer = <T extends KubeObject>(path: string, h: InformerHandlers<T> = handlers) =>
    new Informer<T>(rest, path, h, opts);
  const services = informer<V1Service>("/api/v1/services");
  const slices = informer<EndpointSliceObject & KubeObject>(
    `/apis/discovery.k8s.io/${sliceVersion}/endpointslices`,
  );
  const nodes = informer<V1Node>("/api/v1/nodes");
  const pools = informer<PoolObject & KubeObject>("/apis/herald.dev/v1alpha1/ipaddresspools");
  const advertisements = informer<KubeObject>("/apis/herald.dev/v1alpha1/l2advertisements");
  const leases = informer<LeaseObject & KubeObject>(
    `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
    leaseHandlers<LeaseObject & KubeObject>({
      renewed: (node) => l2?.peerLeaseRenewed(node),
      changed: recompute,
    }),
  );
  let writer: AnnouncementWriter | undefined;
  const sanns = informer<ServiceAnnouncement>("/apis/herald.dev/v1alpha1/serviceannouncements", {
    onChange: () => writer?.recheck(),
    onDelete: () => writer?.recheck(),
  });
  writer = new AnnouncementWriter({
    self,
    rest,
    cache: sanns,
    log,
    timers: {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    },
  });

  core = new Speaker({
    self,
    objects: () => ({
      services: services.list(),
      slices: slices.list(),
      nodes: nodes.list(),
      pools: pools.list(),
      advertisements: advertisements.list(),
      leases: leases.list(),
      lbClass: flags["lb-class"],
    }),
    announcements: sanns,
    l2: layer2,
    forwarding: applier,
    writer,
    events: {
      event: (svc, type, reason, message) => void events.event(serviceTarget(svc), type, reason, message),
    },
    audit,
    log,
    now: () => new Date(),
    onTakeover: () => m.failovers.inc(),
    onConflict: () => m.conflicts.inc(),
    onRefused: (reason) => m.refused.inc({ reason }),
  });
  const c = core;

  const all = [services, slices, nodes, pools, advertisements, leases, sanns];
  const running = all.map((i) => i.run(stop.signal));
  const lease = new NodeLease(rest, {
    namespace,
    node: self,
    heartbeatAddress: bind,
    publicKey: identity.publicKey,
    macs: () => links.map((l) => l.mac),
    urgent: () => layer2.contended(),
    now: Date.now,
    sleep,
    log,
  });
  running.push(lease.run(stop.signal));
  let synced = false;

  const http = buildHttp({
    registry,
    healthy: () => !stop.signal.aborted,
    ready: () => synced,
    state: () => ({
      node: self,
      owned: layer2.ownedAddresses(),
      live: membership.liveNodes(systemClock.now()),
      peers: membership.snapshot(),
      elections: Object.fromEntries(layer2.currentElections()),
      interfaces: links.map((l) => l.name),
      forwarding: applier.stats,
      handover: applier.handover.current(),
      announcementWrites: { ok: writer?.writes, failed: writer?.failures },
    }),
    auditDir,
    access: debugAccess(p.serving, rest, "speaker", namespace),
    logger: log,
  });
  await http.listen({ port: p.httpPort, host: flags["http-address"] ?? "0.0.0.0" });

  await Promise.all(all.map((i) => i.synced));
  synced = true;
  c.clusterChanged();
  applier.start();
  layer2.start();
  log.info({ port: p.httpPort, endpointSlices: sliceVersion }, "speaker started");

  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
  log.info("shutting down: handing over");
  monitor.close();
  linkSet.stop();
  const owned = layer2.ownedAddresses();
  await layer2.leave();
  c.leave(owned);
  await applier.settled();
  await applier.stop();
  writer.stop();
  layer2.stop();
  stop.abort();
  await Promise.allSettled(running);
  await http.close();
  await audit.stop();
  return 0;
};

/**
 * Link changes as the kernel reports them (rtnetlink), fed to the link set; a failed monitor
 * (notifications lost) is reopened after a second and the links re-listed. Without it (no addon
 * support) the link set's periodic re-list still follows the links, slowly.
 */
function watchLinks(
  linkSet: Pick<LinkSet<{ name: string }>, "linkMessages" | "resync">,
  log: pino.Logger,
): { close(): void } {
  let monitor: LinkMonitor | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const open = () => {
    try {
      monitor = openLinkMonitor(
        (datagram) => linkSet.linkMessages(parseLinkMessages(datagram)),
        (error) => {
          log.warn({ err: String(error) }, "link notifications lost; re-listing");
          monitor?.close();
          linkSet.resync();
          if (!closed) timer = setTimeout(open, 1000);
        },
      );
    } catch (e) {
      log.warn({ err: String(e) }, "cannot follow link changes; re-listing periodically only");
    }
  };
  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      monitor?.close();
    },
  };
}

/** Runs fn once, `ms` after the first of a burst of calls. */
function coalesce(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
}

function serviceTarget(svc: V1Service): EventTarget {
  return {
    kind: "Service",
    apiVersion: "v1",
    namespace: svc.metadata?.namespace,
    name: svc.metadata?.name ?? "",
    uid: svc.metadata?.uid,
  };
}

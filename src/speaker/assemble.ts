// A speaker's object graph, built in the order its parts need each other: informers, the view of
// the cluster, the handover, the layer-2 half, forwarding, the ServiceAnnouncement writer, and the
// Speaker that joins them. What a driver reports goes back through subscriptions made at the end
// (reports), so no part is bound late. I/O (the API, the clock, nft) comes in through `deps`.
import type { V1Node, V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { AuditSink } from "../audit/sink.js";
import type { Clock } from "../clock.js";
import type { EventTarget } from "../k8s/events.js";
import { Informer, type InformerHandlers, type InformerOptions } from "../k8s/informer.js";
import type { KubeObject, Rest } from "../k8s/rest.js";
import { AnnouncementWriter, type ServiceAnnouncement } from "./announcements.js";
import { ClusterView } from "./cluster-view.js";
import type { RunCommand } from "./commands.js";
import { ForwardingApplier } from "./forward/applier.js";
import type { ForwardingEvent } from "./forward/applier-options.js";
import type { HandoverWindow } from "./forward/handover-window.js";
import { nftExec } from "./forward/nft.js";
import type { EndpointSliceObject, LeaseObject, PoolObject } from "./inputs.js";
import type { L2Listener } from "./l2/l2-interface.js";
import { buildLayerTwo, type LayerTwo } from "./l2/layer-two.js";
import { NodeIdentity } from "./l2/node-identity.js";
import { leaseHandlers } from "./lease-renewals.js";
import { Listeners } from "./listeners.js";
import { type SpeakerMetrics, speakerMetrics } from "./metrics.js";
import { Speaker } from "./speaker.js";

export interface SpeakerGraphDeps {
  self: string;
  clock: Clock;
  log: Logger;
  registry: Registry;
  rest: Rest;
  events: {
    event(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): unknown;
  };
  audit: AuditSink;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Another request was answered: informers backing off try again (the API server is back). */
  answers?: InformerOptions["answers"];
  /** The heartbeat key (cluster-wide), this node's heartbeat address and port. */
  key: Uint8Array;
  bind: string;
  port: number;
  /** Where the speakers' Leases live. */
  namespace: string;
  /** discovery.k8s.io version of EndpointSlices (v1 or v1beta1). */
  sliceVersion: string;
  lbClass?: string | undefined;
  /** Starts nft, conntrack and ip (the command worker; default: from this thread). */
  run?: RunCommand;
}

export interface SpeakerGraph {
  speaker: Speaker;
  layer: LayerTwo;
  view: ClusterView;
  applier: ForwardingApplier;
  writer: AnnouncementWriter;
  identity: NodeIdentity;
  metrics: SpeakerMetrics;
  informers: Informer<KubeObject>[];
}

export function assembleSpeaker(d: SpeakerGraphDeps): SpeakerGraph {
  const { self, clock, log } = d;
  const cluster = new Listeners();
  const sannChanged = new Listeners();
  const handlers = { onChange: cluster.emit, onDelete: cluster.emit };
  const informer = <T extends KubeObject>(path: string, h: InformerHandlers<T> = handlers) =>
    new Informer<T>(d.rest, path, h, { log, sleep: d.sleep, ...(d.answers ? { answers: d.answers } : {}) });
  const services = informer<V1Service>("/api/v1/services");
  const slices = informer<EndpointSliceObject & KubeObject>(
    `/apis/discovery.k8s.io/${d.sliceVersion}/endpointslices`,
  );
  const nodes = informer<V1Node>("/api/v1/nodes");
  const pools = informer<PoolObject & KubeObject>("/apis/herald.dev/v1alpha1/ipaddresspools");
  const advertisements = informer<KubeObject>("/apis/herald.dev/v1alpha1/l2advertisements");
  const leaseRenewed = new Listeners<[string]>();
  const leases = informer<LeaseObject & KubeObject>(
    `/apis/coordination.k8s.io/v1/namespaces/${d.namespace}/leases`,
    leaseHandlers<LeaseObject & KubeObject>({ renewed: leaseRenewed.emit, changed: cluster.emit }),
  );
  const sanns = informer<ServiceAnnouncement>("/apis/herald.dev/v1alpha1/serviceannouncements", {
    onChange: sannChanged.emit,
    onDelete: sannChanged.emit,
  });

  const informers = [services, slices, nodes, pools, advertisements, leases, sanns] as Informer<KubeObject>[];
  const view = new ClusterView(sanns);
  const applied = new Listeners<[ForwardingEvent]>();
  // One nftables pipeline: the handover tables go in the same transactions as the forwarding table.
  const applier = new ForwardingApplier({
    onEvent: applied.emit,
    nodeMacs: () => view.speakerMacList(),
    ...(d.run ? { exec: nftExec(["nft"], d.run), conntrack: nftExec(["conntrack"], d.run) } : {}),
  });
  // This start's own heartbeat key pair, never stored: its public half goes into the Lease.
  const identity = NodeIdentity.generate();
  const hooks = handoverHooks(applier.handover, view, log);
  const layer = buildLayerTwo({
    self,
    clock,
    log,
    key: d.key,
    identity,
    bind: d.bind,
    port: d.port,
    speakers: view,
    ...(d.run ? { run: d.run } : {}),
    isFirstAnnouncement: (address) => view.isFirstAnnouncement(address),
    prepareTakeover: hooks.prepareTakeover,
    // Links back after none worked: the watches may wait seconds in TCP's retransmission backoff
    // while the API server moved on (an address released during the cut would be announced
    // again). List afresh now, well within the settle time before this node may be elected.
    // (An informer still on its first list has nothing old to serve.)
    onWorking: (working) => {
      if (!working) return;
      const started = clock.now();
      const listed = informers.filter((i) => i.hasSynced);
      if (listed.length === 0) return;
      void Promise.all(listed.map((i) => i.refresh())).then(() =>
        log.info({ ms: clock.now() - started }, "links back: the view of the API is listed afresh"),
      );
    },
  });

  const { l2, links, heartbeats, membership } = layer;
  const metrics = speakerMetrics(d.registry, {
    owned: () => l2.ownedAddresses().length,
    livePeers: () => membership.liveNodes(clock.now()).length - 1,
    responders: () => links.current.map((l) => ({ iface: l.name, stats: l.responder.stats() })),
    announcers: () => links.current.map((l) => ({ iface: l.name, stats: l.announcer.stats() })),
    heartbeats: () => heartbeats.stats(),
    refusedServices: () => applier.refusedServices().size,
    heartbeatSocketUp: () => layer.transport.state().bound,
    packetSockets: () => links.socketCounts(),
  });
  const writer = new AnnouncementWriter({ self, rest: d.rest, cache: sanns, log, timers: clock });
  const speaker = new Speaker({
    self,
    view,
    listed: () => informers.every((i) => i.hasSynced),
    objects: () => ({
      services: services.list(),
      slices: slices.list(),
      nodes: nodes.list(),
      pools: pools.list(),
      advertisements: advertisements.list(),
      leases: leases.list(),
      lbClass: d.lbClass,
    }),
    announcements: sanns,
    l2,
    forwarding: applier,
    writer,
    events: {
      event: (svc, type, reason, message) => void d.events.event(serviceTarget(svc), type, reason, message),
    },
    audit: d.audit,
    log,
    clock,
    onTakeover: () => metrics.failovers.inc(),
    onConflict: () => metrics.conflicts.inc(),
    onRefused: (reason) => metrics.refused.inc({ reason }),
  });

  // Reports, each to the part that acts on it.
  cluster.add(coalesce(clock, () => speaker.clusterChanged(), 10));
  sannChanged.add(() => writer.recheck());
  leaseRenewed.add((node) => l2.peerLeaseRenewed(node));
  l2.listen(speaker);
  l2.listen(hooks);
  applied.add((e) => forwardingEvent(e, { metrics, log, speaker, applier }));

  return { speaker, layer, view, applier, writer, identity, metrics, informers };
}

/**
 * The handover tables follow ownership: kept for an owned address, dropped for a released one,
 * and on a takeover from a node still up, its connections go on through it.
 */
function handoverHooks(
  handover: HandoverWindow,
  view: ClusterView,
  log: Logger,
): L2Listener & { prepareTakeover(address: string, from: { node: string; address: string }): Promise<void> } {
  return {
    ownershipChanged: (change) => {
      if (!change.owned) handover.released(change.address);
      else handover.owned(change.address);
    },
    prepareTakeover: (address, from) => {
      log.info({ address, from }, "connections of the previous owner go on through it");
      handover.takenOver(address, from.address, view.tcpPortsOf(address));
      return handover.settled();
    },
  };
}

/** What the nftables applier reports: metrics, log lines, and the Speaker's forwarding report. */
function forwardingEvent(
  e: ForwardingEvent,
  o: { metrics: SpeakerMetrics; log: Logger; speaker: Speaker; applier: ForwardingApplier },
): void {
  if (e.type === "applied") {
    o.metrics.nftSyncs.inc({ mode: e.mode, result: "ok" });
    if (e.problems.length) o.log.warn({ problems: e.problems }, "forwarding problems");
    o.speaker.forwardingReported({ refused: o.applier.refusedServices(), problems: e.problems });
  } else if (e.type === "serviceRefused") {
    o.metrics.nftRefusals.inc();
    o.log.warn({ event: e }, "nftables refused a Service's rules; applied the others without it");
  } else if (e.type === "applyFailed") {
    o.metrics.nftSyncs.inc({ mode: e.mode, result: "failed" });
    o.log.warn({ event: e }, "nftables apply failed");
  } else o.log.info({ event: e }, "forwarding");
}

/** Runs fn once, `ms` after the first of a burst of calls. */
function coalesce(clock: Clock, fn: () => void, ms: number): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    clock.setTimeout(() => {
      pending = false;
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

// The layer-2 half of a speaker as one object graph: the node's links, the heartbeat socket and
// protocol, membership and the L2Speaker that elects and answers. `herald speaker` and the
// namespace tests' speaker build it here, so both run the same wiring.
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import type { RunCommand } from "../commands.js";
import { Heartbeats } from "./heartbeats.js";
import type { L2SpeakerOptions } from "./l2-interface.js";
import { L2Speaker } from "./l2-speaker.js";
import { Membership } from "./membership.js";
import type { NodeIdentity } from "./node-identity.js";
import { NodeLinks, type SpeakerMacs } from "./node-links.js";
import { UdpTransport } from "./udp-transport.js";

export interface LayerTwoOptions {
  self: string;
  clock: Clock;
  log: Logger;
  /** The cluster's heartbeat key, and this start's own key pair. */
  key: Uint8Array;
  identity: NodeIdentity;
  /** This node's address and port for heartbeats. */
  bind: string;
  port: number;
  speakers: SpeakerMacs;
  /** Only these interface names (default: every announceable link). */
  select?: (name: string) => boolean;
  isFirstAnnouncement?: L2SpeakerOptions["isFirstAnnouncement"];
  /** Starts the node's commands (`ip`; default: from this thread). */
  run?: RunCommand;
  prepareTakeover?: L2SpeakerOptions["prepareTakeover"];
  /** Also told when the node's links stop or start working (after the L2 speaker is). */
  onWorking?: (working: boolean) => void;
}

export interface LayerTwo {
  l2: L2Speaker;
  links: NodeLinks;
  heartbeats: Heartbeats;
  membership: Membership;
  transport: UdpTransport;
}

export function buildLayerTwo(o: LayerTwoOptions): LayerTwo {
  const { self, clock, log } = o;
  const membership = new Membership({ self });
  const transport = new UdpTransport(o.bind, o.port, {
    clock,
    onError: (err, kind) => {
      if (kind === "bind")
        log.error(
          { err: String(err), code: (err as { code?: string }).code, address: `${o.bind}:${o.port}` },
          "heartbeat socket cannot bind: peers neither hear nor are heard; not ready, retrying",
        );
      else log.debug({ err: String(err) }, "heartbeat send");
    },
  });
  const heartbeats = new Heartbeats({
    self,
    key: o.key,
    identity: o.identity,
    // Grows across restarts: this start's wall time.
    incarnation: clock.wall(),
    transport,
    clock,
    membership,
  });
  const l2 = new L2Speaker({
    self,
    clock,
    membership,
    heartbeats,
    links: [],
    ...(o.isFirstAnnouncement ? { isFirstAnnouncement: o.isFirstAnnouncement } : {}),
    ...(o.prepareTakeover ? { prepareTakeover: o.prepareTakeover } : {}),
  });
  heartbeats.listen((changes) => {
    log.info({ changes }, "membership");
    l2.membershipChanged();
  });
  const links = new NodeLinks({
    clock,
    log,
    speakers: o.speakers,
    ...(o.select ? { select: o.select } : {}),
    ...(o.run ? { run: o.run } : {}),
    onPeerClaim: (address, node) => l2.peerClaimed(address, node),
    onConflict: (address, mac) => l2.foreignClaim(address, mac),
    onLinks: (current) => l2.setLinks(current),
    onWorking: (working) => {
      l2.setLinksWorking(working);
      o.onWorking?.(working);
    },
  });
  return { l2, links, heartbeats, membership, transport };
}

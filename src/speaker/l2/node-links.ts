// The node's links as the speaker uses them: on every announceable link a packet socket with its
// responder and announcer (LinkSet follows the links), the kernel's link notifications feeding the
// link set (a failed monitor is reopened), and the packet sockets' own counters kept across
// reopened sockets. What the links hear that matters beyond them goes to the callbacks.
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import type { RunCommand } from "../commands.js";
import { Announcer } from "./announcer.js";
import type { L2Link } from "./l2-interface.js";
import { macToString } from "./link-address.js";
import { LinkSet } from "./link-set.js";
import { listLinks } from "./links.js";
import { parseLinkMessages } from "./netlink.js";
import { type LinkMonitor, openLinkMonitor, openPacketSocket, type PacketSocket } from "./packet-socket.js";
import { Responder } from "./responder.js";
import { SocketCounters } from "./socket-counters.js";

export type NodeLink = L2Link & { name: string; mac: string; socket: PacketSocket };

/** Who the speakers are, by MAC (from their Leases). */
export interface SpeakerMacs {
  isSpeakerMac(mac: string): boolean;
  nodeOfMac(mac: string): string | undefined;
}

export interface NodeLinksOptions {
  clock: Clock;
  log: Logger;
  speakers: SpeakerMacs;
  /** Only these interface names (default: every announceable link). */
  select?: (name: string) => boolean;
  /** Another speaker claimed a Service address on the wire (as the frame says). */
  onPeerClaim: (address: string, node: string) => void;
  /** A foreign host claimed an address being announced. */
  onConflict: (address: string, mac: string) => void;
  onLinks: (links: readonly NodeLink[]) => void;
  onWorking: (working: boolean) => void;
  /** Starts `ip` (default: from this thread). */
  run?: RunCommand;
}

export class NodeLinks {
  /** The current links, kept in place: metrics, state and the Lease read them. */
  readonly current: NodeLink[] = [];
  private readonly set: LinkSet<NodeLink>;
  private readonly counters = new SocketCounters();
  private monitor: { close(): void } | undefined;

  constructor(private readonly o: NodeLinksOptions) {
    this.set = new LinkSet<NodeLink>({
      clock: o.clock,
      list: () => listLinks(o.run),
      ...(o.select ? { select: o.select } : {}),
      open: (name, onError) => this.open(name, onError),
      // The layer-2 speaker stops (and closes) the links it lets go; their counts are kept.
      close: (link) => this.counters.read(link.name, link.socket),
      onLinks: (links) => {
        const names = (ls: readonly NodeLink[]) => ls.map((l) => l.name);
        o.log.info({ before: names(this.current), now: names(links) }, "links changed");
        this.current.splice(0, this.current.length, ...links);
        o.onLinks(this.current);
      },
      onWorking: (working) => {
        if (!working) o.log.warn("no link works: peers take this node's addresses over");
        else o.log.info("a link works again: available after settling");
        o.onWorking(working);
      },
      onWarn: (message, detail) => o.log.warn(detail, message),
    });
  }

  /** Follows the kernel's notifications, then lists and opens the links. */
  async start(): Promise<void> {
    // Notifications first: a change during the first listing triggers another.
    this.monitor = watchLinks(this.set, this.o.log, this.o.clock);
    await this.set.start();
  }

  stop(): void {
    this.monitor?.close();
    this.set.stop();
  }

  isWorking(): boolean {
    return this.set.isWorking();
  }

  /** The packet sockets' counters, totals per interface. */
  socketCounts(): ReturnType<SocketCounters["current"]> {
    for (const l of this.current) this.counters.read(l.name, l.socket);
    return this.counters.current();
  }

  private open(name: string, onError: (error: Error) => void): NodeLink {
    const socket = openPacketSocket(name, { onError });
    const announcer = new Announcer(socket, this.o.clock, {
      isSpeakerMac: (mac) => this.o.speakers.isSpeakerMac(mac),
      onConflict: (ip, mac) => this.o.onConflict(ip, mac),
    });
    const responder = new Responder(socket, (claim) => {
      announcer.observe(claim);
      const node = claim.kind === "claim" ? this.o.speakers.nodeOfMac(claim.mac) : undefined;
      if (node !== undefined) this.o.onPeerClaim(claim.ip, node);
    });
    return { name, mac: macToString(socket.mac), responder, announcer, socket };
  }
}

/**
 * Link changes as the kernel reports them (rtnetlink), fed to the link set; a failed monitor
 * (notifications lost) is reopened after a second and the links re-listed. Without it (no addon
 * support) the link set's periodic re-list still follows the links, slowly.
 */
function watchLinks(
  linkSet: Pick<LinkSet<{ name: string }>, "linkMessages" | "resync">,
  log: Logger,
  clock: Clock,
): { close(): void } {
  let monitor: LinkMonitor | undefined;
  let timer: unknown;
  let closed = false;
  const open = () => {
    try {
      monitor = openLinkMonitor(
        (datagram) => linkSet.linkMessages(parseLinkMessages(datagram)),
        (error) => {
          log.warn({ err: String(error) }, "link notifications lost; re-listing");
          monitor?.close();
          linkSet.resync();
          if (!closed) timer = clock.setTimeout(open, 1000);
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
      clock.clearTimeout(timer);
      monitor?.close();
    },
  };
}

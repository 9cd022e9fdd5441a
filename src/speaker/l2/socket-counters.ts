// Totals of the packet sockets' own counters per interface. A socket's stats() answers what
// happened since its previous call (the kernel resets its counts on each read), and a link's
// socket is replaced when it fails: the totals live here, across reads and sockets, so the
// metrics only grow. Bounded by the node's interface names (at most MAX_INTERFACES kept).
import type { PacketSocketStats } from "./packet-socket.js";

export const MAX_INTERFACES = 256;

export class SocketCounters {
  private readonly totals = new Map<string, PacketSocketStats>();

  /** Adds what `socket` counted since its last read to `iface`'s totals. */
  read(iface: string, socket: { stats(): PacketSocketStats }): void {
    let delta: PacketSocketStats;
    try {
      delta = socket.stats();
    } catch {
      return; // closed or failed: nothing more to read from it
    }
    let total = this.totals.get(iface);
    if (!total) {
      if (this.totals.size >= MAX_INTERFACES) return;
      total = { packets: 0, drops: 0, handlerErrors: 0 };
      this.totals.set(iface, total);
    }
    total.packets += delta.packets;
    total.drops += delta.drops;
    total.handlerErrors += delta.handlerErrors;
  }

  current(): { iface: string; stats: PacketSocketStats }[] {
    return [...this.totals].map(([iface, stats]) => ({ iface, stats: { ...stats } }));
  }
}

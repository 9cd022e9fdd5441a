// The heartbeat transport over UDP (node:dgram). One socket per speaker, bound to the node's
// address on hostNetwork; IPv4 or IPv6 follows the bind address. A socket that cannot bind (the
// port is taken, the address is not on the node yet) is reported and bound again every
// `retryMs`: until then this node can neither hear nor tell its peers, and says so (state()).
import { createSocket, type Socket } from "node:dgram";
import { type Clock, systemClock } from "../../clock.js";
import { familyOf } from "../../domain/address.js";
import { HeraldError } from "../../errors.js";
import type { DatagramSource, DatagramTransport } from "./heartbeats.js";

/** What failed: binding (nothing is heard or sent until a retry binds), or one send. */
export type TransportErrorKind = "bind" | "send";

export interface TransportState {
  bound: boolean;
  /** Since when (monotonic ms) it is bound, or failing to bind. */
  since: number;
  /** The last bind error, while unbound. */
  error?: string;
}

export interface UdpTransportOptions {
  clock?: Clock;
  onError?: (err: Error, kind: TransportErrorKind) => void;
  /** Bound again this long after a failed bind (default 1000 ms). */
  retryMs?: number;
  /** node:dgram's createSocket (tests pass their own). */
  createSocket?: typeof createSocket;
}

export class UdpTransport implements DatagramTransport {
  private socket: Socket | undefined;
  private bound = false;
  private since: number;
  private error: string | undefined;
  private retry: unknown;
  private closed = false;
  private readonly clock: Clock;

  constructor(
    private readonly bindAddress: string,
    private readonly port: number,
    private readonly o: UdpTransportOptions = {},
  ) {
    this.clock = o.clock ?? systemClock;
    this.since = this.clock.now();
  }

  start(onMessage: (packet: Uint8Array, from: DatagramSource) => void): void {
    this.closed = false;
    this.open(onMessage);
  }

  state(): TransportState {
    return { bound: this.bound, since: this.since, ...(this.error ? { error: this.error } : {}) };
  }

  send(packet: Uint8Array, address: string): void {
    if (!this.socket || !this.bound) throw new HeraldError("HERALD_NOT_BOUND", "heartbeat socket not bound");
    this.socket.send(packet, this.port, address, (err) => {
      if (err) this.o.onError?.(err, "send");
    });
  }

  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.retry);
    this.socket?.close();
    this.socket = undefined;
    this.setBound(false);
  }

  private open(onMessage: (packet: Uint8Array, from: DatagramSource) => void): void {
    const create = this.o.createSocket ?? createSocket;
    const socket = create({
      type: familyOf(this.bindAddress) === "IPv6" ? "udp6" : "udp4",
      reuseAddr: false,
    });
    this.socket = socket;
    socket.on("message", (msg, rinfo) => onMessage(msg, rinfo));
    socket.on("listening", () => {
      this.error = undefined;
      this.setBound(true);
    });
    socket.on("error", (err) => {
      if (this.bound) {
        this.o.onError?.(err, "send");
        return;
      }
      // Not bound: this socket is useless; a new one tries again.
      this.error = String(err);
      this.o.onError?.(err, "bind");
      try {
        socket.close();
      } catch {
        // Already closed: nothing to release.
      }
      if (this.socket === socket) this.socket = undefined;
      this.clock.clearTimeout(this.retry);
      if (!this.closed)
        this.retry = this.clock.setTimeout(() => this.open(onMessage), this.o.retryMs ?? 1000);
    });
    socket.bind(this.port, this.bindAddress);
  }

  private setBound(bound: boolean): void {
    if (this.bound === bound) return;
    this.bound = bound;
    this.since = this.clock.now();
  }
}

// The heartbeat transport over UDP (node:dgram). One socket per speaker, bound to the node's
// address on hostNetwork; IPv4 or IPv6 follows the bind address.
import { createSocket, type Socket } from "node:dgram";
import { familyOf } from "../../domain/address.js";
import type { DatagramSource, DatagramTransport } from "./heartbeats.js";

export class UdpTransport implements DatagramTransport {
  private socket: Socket | undefined;

  constructor(
    private readonly bindAddress: string,
    private readonly port: number,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  start(onMessage: (packet: Uint8Array, from: DatagramSource) => void): void {
    const socket = createSocket({
      type: familyOf(this.bindAddress) === "IPv6" ? "udp6" : "udp4",
      reuseAddr: false,
    });
    socket.on("message", (msg, rinfo) => onMessage(msg, rinfo));
    socket.on("error", (err) => this.onError(err));
    socket.bind(this.port, this.bindAddress);
    this.socket = socket;
  }

  send(packet: Uint8Array, address: string): void {
    if (!this.socket) throw Object.assign(new Error("transport not started"), { code: "HERALD_NOT_STARTED" });
    this.socket.send(packet, this.port, address, (err) => {
      if (err) this.onError(err);
    });
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}

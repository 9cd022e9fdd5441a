// A PacketSocket and a heartbeat network for tests: frames sent are recorded, frames received are injected.

import { createHash } from "node:crypto";
import type { DatagramSource, DatagramTransport } from "../../../src/speaker/l2/heartbeats.js";
import { macToBytes, macToString } from "../../../src/speaker/l2/link-address.js";
import { NodeIdentity } from "../../../src/speaker/l2/node-identity.js";
import { type FrameHandler, FrameType, type PacketSocket } from "../../../src/speaker/l2/packet-socket.js";

/** The same identity for the same node name in every test (real keys, fixed seeds). */
export function testIdentity(node: string): NodeIdentity {
  return NodeIdentity.fromSeed(createHash("sha256").update(`herald test identity ${node}`).digest());
}

/** Node -> public key, as the Leases of these nodes would publish them. */
export function testPeerKeys(nodes: Iterable<string>): Map<string, string> {
  return new Map([...nodes].map((n) => [n, testIdentity(n).publicKey]));
}

export class FakeSocket implements PacketSocket {
  readonly interfaceName = "eth0";
  readonly interfaceIndex = 2;
  readonly mac: Uint8Array;
  readonly sent: Uint8Array[] = [];
  readonly groups = new Map<string, number>();
  failSends = false;
  closed = false;
  private handler: FrameHandler | undefined;

  constructor(mac = "02:00:00:00:00:0b") {
    this.mac = macToBytes(mac) as Uint8Array;
  }
  start(onFrame: FrameHandler) {
    this.handler = onFrame;
  }
  receive(frame: Uint8Array, type = FrameType.Broadcast) {
    this.handler?.(frame, type);
  }
  send(frame: Uint8Array) {
    if (this.failSends) throw Object.assign(new Error("send: Network is down"), { code: "ENETDOWN" });
    this.sent.push(frame);
  }
  joinMulticast(mac: Uint8Array) {
    const k = macToString(mac);
    this.groups.set(k, (this.groups.get(k) ?? 0) + 1);
  }
  leaveMulticast(mac: Uint8Array) {
    const k = macToString(mac);
    const n = (this.groups.get(k) ?? 0) - 1;
    if (n > 0) this.groups.set(k, n);
    else this.groups.delete(k);
  }
  stats() {
    return { packets: 0, drops: 0, handlerErrors: 0 };
  }
  close() {
    this.closed = true;
  }
}

/** A network of speakers on one fake clock; links can be cut, both ways or one (`from>to`). */
export class FakeNetwork {
  readonly inboxes = new Map<string, (p: Uint8Array, from?: DatagramSource) => void>();
  readonly captured: { to: string; packet: Uint8Array }[] = [];
  readonly cut = new Set<string>();
  readonly cutOneWay = new Set<string>();
  transport(address: string): DatagramTransport {
    return {
      start: (onMessage) => this.inboxes.set(address, onMessage),
      send: (packet, to) => {
        if (this.cut.has(address) || this.cut.has(to) || this.cutOneWay.has(`${address}>${to}`)) return;
        this.captured.push({ to, packet });
        this.inboxes.get(to)?.(packet, { address, port: 7946 });
      },
      close: () => this.inboxes.delete(address),
    };
  }
}

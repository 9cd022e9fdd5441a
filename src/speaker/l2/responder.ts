// Answers ARP requests and neighbour solicitations for the addresses this node owns, on one
// interface. Everything else is dropped and counted with its reason. It also reports every claim
// another host makes for an address (replies, gratuitous ARP, advertisements, probes), which the
// announcer uses for conflict detection and the owner for noticing a second answerer.
import { type ArpPacket, arpReplyTo, decodeArp, encodeArp } from "./arp.js";
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, etherTypeOf } from "./ethernet.js";
import { ipv6ToBytes, macToString } from "./link-address.js";
import {
  advertisementFor,
  decodeNdp,
  encodeNdp,
  multicastMac,
  type NdpPacket,
  solicitedNodeAddress,
} from "./ndp.js";
import { FrameType, type PacketSocket } from "./packet-socket.js";
import { type InputLimits, L2_LIMITS, type LimitReason, SourceLimiter } from "./rate-limit.js";

export type Protocol = "arp" | "ndp";

export interface Claim {
  protocol: Protocol;
  ip: string;
  mac: string;
  /** "probe": someone asks whether the address is free (ARP probe, DAD); "claim": uses it. */
  kind: "claim" | "probe";
}

export interface ResponderStats {
  requests: Record<Protocol, number>;
  replies: Record<Protocol, number>;
  drops: Record<string, number>;
  /** Frames dropped before decoding: their source MAC, or all sources, over the input limit. */
  rateLimited: Record<LimitReason, Record<Protocol, number>>;
}

export interface ResponderOptions {
  limits?: InputLimits;
  /** Milliseconds on a monotonic clock (default performance.now). */
  now?: () => number;
}

export class Responder {
  private readonly mac: string;
  private readonly owned = new Set<string>();
  private readonly groups = new Map<string, number>();
  private readonly counts: ResponderStats = {
    requests: { arp: 0, ndp: 0 },
    replies: { arp: 0, ndp: 0 },
    drops: {},
    rateLimited: { source: { arp: 0, ndp: 0 }, global: { arp: 0, ndp: 0 } },
  };
  private started = false;
  private readonly limiter: SourceLimiter<number>;
  private readonly now: () => number;

  constructor(
    private readonly socket: PacketSocket,
    private readonly onClaim: (claim: Claim) => void = () => {},
    options: ResponderOptions = {},
  ) {
    this.mac = macToString(socket.mac);
    this.limiter = new SourceLimiter(options.limits ?? L2_LIMITS);
    this.now = options.now ?? (() => performance.now());
  }

  get interfaceName(): string {
    return this.socket.interfaceName;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.socket.start((frame, type) => this.handle(frame, type));
  }

  stop(): void {
    this.setOwned([]);
    this.socket.close();
  }

  /** The addresses to answer for on this interface (canonical text). Joins solicited-node groups. */
  setOwned(addresses: Iterable<string>): void {
    const next = new Set(addresses);
    for (const ip of [...this.owned]) if (!next.has(ip)) this.release(ip);
    for (const ip of next) if (!this.owned.has(ip)) this.take(ip);
  }

  owns(ip: string): boolean {
    return this.owned.has(ip);
  }

  stats(): ResponderStats {
    return structuredClone(this.counts);
  }

  private take(ip: string): void {
    const bytes = ip.includes(":") ? ipv6ToBytes(ip) : undefined;
    if (bytes) this.group(multicastMac(solicitedNodeAddress(bytes)), +1);
    this.owned.add(ip);
  }

  private release(ip: string): void {
    const bytes = ip.includes(":") ? ipv6ToBytes(ip) : undefined;
    if (bytes) this.group(multicastMac(solicitedNodeAddress(bytes)), -1);
    this.owned.delete(ip);
  }

  // Several addresses can share one solicited-node group: join on the first, leave after the last.
  private group(mac: string, delta: number): void {
    const n = (this.groups.get(mac) ?? 0) + delta;
    const bytes = Uint8Array.from(mac.split(":").map((h) => Number.parseInt(h, 16)));
    try {
      if (delta > 0 && n === 1) this.socket.joinMulticast(bytes);
      if (delta < 0 && n === 0) this.socket.leaveMulticast(bytes);
    } catch {
      this.drop("multicastFailed");
    }
    if (n > 0) this.groups.set(mac, n);
    else this.groups.delete(mac);
  }

  private drop(reason: string): void {
    this.counts.drops[reason] = (this.counts.drops[reason] ?? 0) + 1;
  }

  /** One received frame; public so the wiring can feed frames from elsewhere. Never throws. */
  handle(frame: Uint8Array, type: FrameType): void {
    if (this.limited(frame, type)) return;
    const reason = this.answer(frame, type);
    if (reason !== undefined) this.drop(reason);
  }

  /** Takes a token for the frame's source MAC before any decoding; counts what it refuses. */
  private limited(frame: Uint8Array, type: FrameType): boolean {
    if (type === FrameType.OtherHost || frame.length < 14) return false;
    const m = this.socket.mac;
    let own = true;
    for (let i = 0; i < 6; i++) if (frame[6 + i] !== m[i]) own = false;
    if (own) return false;
    const etherType = etherTypeOf(frame);
    if (etherType !== ETHERTYPE_ARP && etherType !== ETHERTYPE_IPV6) return false;
    // The 48-bit MAC as a number: exact in a double, and no string per frame.
    const hi = ((frame[6] as number) << 16) | ((frame[7] as number) << 8) | (frame[8] as number);
    const lo = ((frame[9] as number) << 16) | ((frame[10] as number) << 8) | (frame[11] as number);
    const reason = this.limiter.take(hi * 0x1000000 + lo, this.now());
    if (reason === undefined) return false;
    this.counts.rateLimited[reason][etherType === ETHERTYPE_ARP ? "arp" : "ndp"]++;
    return true;
  }

  /** Answers the frame if it asks for an owned address; otherwise says why not. */
  private answer(frame: Uint8Array, type: FrameType): string | undefined {
    if (type === FrameType.OtherHost) return "otherHost";
    const etherType = etherTypeOf(frame);
    if (etherType === ETHERTYPE_ARP) {
      const d = decodeArp(frame);
      return d.ok ? this.onArp(d.value) : d.reason;
    }
    if (etherType === ETHERTYPE_IPV6) {
      const d = decodeNdp(frame);
      return d.ok ? this.onNdp(d.value) : d.reason;
    }
    return etherType === undefined ? "truncated" : "otherProtocol";
  }

  private onArp(p: ArpPacket): string | undefined {
    if (p.senderMac === this.mac || p.ethernetSource === this.mac) return "ownFrame";
    if (p.senderIp === "0.0.0.0")
      this.onClaim({ protocol: "arp", ip: p.targetIp, mac: p.senderMac, kind: "probe" });
    else this.onClaim({ protocol: "arp", ip: p.senderIp, mac: p.senderMac, kind: "claim" });
    if (p.operation === "reply") return "reply";
    this.counts.requests.arp++;
    if (!this.owned.has(p.targetIp)) return "notOwned";
    if (p.senderIp === p.targetIp) return "gratuitous";
    return this.send("arp", encodeArp(arpReplyTo(p, this.mac)));
  }

  private onNdp(p: NdpPacket): string | undefined {
    if (p.ethernetSource === this.mac) return "ownFrame";
    if (p.kind === "advertisement") {
      this.onClaim({
        protocol: "ndp",
        ip: p.target,
        mac: p.targetLinkAddress ?? p.ethernetSource,
        kind: "claim",
      });
      return "advertisement";
    }
    if (p.ipSource === "::")
      this.onClaim({ protocol: "ndp", ip: p.target, mac: p.ethernetSource, kind: "probe" });
    this.counts.requests.ndp++;
    if (!this.owned.has(p.target)) return "notOwned";
    return this.send("ndp", encodeNdp(advertisementFor(p, this.mac)));
  }

  private send(protocol: Protocol, frame: Uint8Array): string | undefined {
    try {
      this.socket.send(frame);
      this.counts.replies[protocol]++;
      return undefined;
    } catch {
      return "sendFailed";
    }
  }
}

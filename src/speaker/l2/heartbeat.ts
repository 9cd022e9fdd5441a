// The UDP heartbeat speakers send each other: who is alive, since when, and what it holds.
// decodeHeartbeat never throws and refuses a heartbeat unless all of these hold:
// - the cluster key's HMAC is right (a host without the Secret costs one HMAC, nothing more);
// - it names this node as its receiver (one sent to A cannot be replayed to B);
// - the pair key of sender and receiver authenticates it (node-identity.ts: a node that has the
//   cluster key cannot speak for another node);
// - it was sent within +-windowMs of this node's wall clock (a recording is worthless after that).
// Replays inside the window are caught by Membership, which remembers each peer's
// (incarnation, sequence) for longer than the window.
//
// Layout (big-endian), 104 bytes + both node names:
//   0  "HRLD"  4  version=2  5  flags (bit 0: leaving, bit 1: joining, bit 2: receiver unheard)
//   6  interval ms (u16)
//   8  incarnation (u64)  16  sequence (u32)  20  owned count (u16)  22  owned digest (8)
//   30 sent at, wall-clock ms (u64)  38  sender name length (u8)  39  receiver name length (u8)
//   40 sender name, receiver name (UTF-8)
//   ...  HMAC-SHA256 with the pair key over everything before it (32)
//   ...  HMAC-SHA256 with the cluster key over everything before it (32)
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { codedError } from "../../errors.js";
import type { Decoded } from "./ethernet.js";

export interface Heartbeat {
  node: string;
  /** The node it is sent to. */
  receiver: string;
  /** The sender's wall clock when it sent this (ms since the epoch). */
  sentAt: number;
  /** Grows on every restart of the sender (its start time in ms), so old packets cannot pass. */
  incarnation: number;
  /** Grows with every heartbeat within one incarnation. */
  sequence: number;
  /** The sender's promise: the next heartbeat to this receiver comes within this many ms. */
  intervalMs: number;
  /** The sender is shutting down: take over its addresses now. */
  leaving: boolean;
  /**
   * The sender has just started and listens before it may be elected. On the wire it also sets
   * the leaving bit, so that a speaker that does not know this bit treats it as before.
   */
  joining?: boolean;
  /**
   * The sender does not hear the receiver: the receiver's heartbeats are missing there (or it
   * never heard one). A speaker that does not know this bit ignores it.
   */
  unheard?: boolean;
  /** How many addresses the sender announces, and a digest of their sorted list. */
  ownedCount: number;
  ownedDigest: string;
}

export type HeartbeatDropReason =
  | "truncated"
  | "badMagic"
  | "badVersion"
  | "badLength"
  | "badName"
  | "badSignature"
  | "otherReceiver"
  | "unknownSender"
  | "badNodeSignature"
  | "outsideWindow"
  | "badIncarnation";

/** What the receiver checks a heartbeat against. */
export interface HeartbeatReceiver {
  /** The cluster key (from the Secret). */
  clusterKey: Uint8Array;
  /** This node's name: heartbeats for other nodes are refused. */
  self: string;
  /** This node's wall clock (ms since the epoch). */
  now: number;
  /** Heartbeats sent further than this from `now`, either way, are refused. */
  windowMs: number;
  /** The pair key of heartbeats from `sender` to this node, if it has published one. */
  pairKey(sender: string): Uint8Array | undefined;
}

const MAGIC = [0x48, 0x52, 0x4c, 0x44];
const VERSION = 2;
const FIXED = 40;
const MAC_LENGTH = 32;
const MAX_NAME = 253; // a DNS subdomain, which node names are

/** 8 bytes of SHA-256 over the sorted addresses, as hex: equal sets give equal digests. */
export function ownedDigest(addresses: readonly string[]): string {
  return createHash("sha256")
    .update([...addresses].sort().join(","))
    .digest()
    .subarray(0, 8)
    .toString("hex");
}

export class HeartbeatError extends codedError("HERALD_HEARTBEAT_ENCODE") {}

function nameBytes(name: string, what: string): Buffer {
  const b = Buffer.from(name, "utf8");
  if (b.length === 0 || b.length > MAX_NAME) throw new HeartbeatError(`${what} name length ${b.length}`);
  return b;
}

/** `pairKey`: the key of heartbeats from h.node to h.receiver. */
export function encodeHeartbeat(h: Heartbeat, clusterKey: Uint8Array, pairKey: Uint8Array): Buffer {
  const node = nameBytes(h.node, "node");
  const receiver = nameBytes(h.receiver, "receiver");
  if (!/^[0-9a-f]{16}$/.test(h.ownedDigest)) throw new HeartbeatError("owned digest must be 16 hex digits");
  const bodyLength = FIXED + node.length + receiver.length;
  const out = Buffer.alloc(bodyLength + 2 * MAC_LENGTH);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out[5] = (h.joining ? 3 : h.leaving ? 1 : 0) | (h.unheard ? 4 : 0);
  out.writeUInt16BE(Math.min(h.intervalMs, 0xffff), 6);
  out.writeBigUInt64BE(BigInt(h.incarnation), 8);
  out.writeUInt32BE(h.sequence >>> 0, 16);
  out.writeUInt16BE(Math.min(h.ownedCount, 0xffff), 20);
  out.write(h.ownedDigest, 22, "hex");
  out.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(h.sentAt))), 30);
  out[38] = node.length;
  out[39] = receiver.length;
  node.copy(out, FIXED);
  receiver.copy(out, FIXED + node.length);
  createHmac("sha256", pairKey).update(out.subarray(0, bodyLength)).digest().copy(out, bodyLength);
  const signed = bodyLength + MAC_LENGTH;
  createHmac("sha256", clusterKey).update(out.subarray(0, signed)).digest().copy(out, signed);
  return out;
}

function macMatches(key: Uint8Array, data: Buffer, mac: Buffer): boolean {
  return timingSafeEqual(createHmac("sha256", key).update(data).digest(), mac);
}

function readName(b: Buffer, start: number, length: number): string | undefined {
  const name = b.toString("utf8", start, start + length);
  return length > 0 && Buffer.byteLength(name) === length ? name : undefined;
}

export function decodeHeartbeat(
  packet: Uint8Array,
  r: HeartbeatReceiver,
): Decoded<Heartbeat, HeartbeatDropReason> {
  const b = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
  if (b.length < FIXED + 2 + 2 * MAC_LENGTH) return { ok: false, reason: "truncated" };
  if (!MAGIC.every((m, i) => b[i] === m)) return { ok: false, reason: "badMagic" };
  if (b[4] !== VERSION) return { ok: false, reason: "badVersion" };
  const nodeLength = b[38] ?? 0;
  const receiverLength = b[39] ?? 0;
  const bodyLength = FIXED + nodeLength + receiverLength;
  if (b.length !== bodyLength + 2 * MAC_LENGTH) return { ok: false, reason: "badLength" };
  // Authenticate before looking at anything an attacker could choose; the cheap key first.
  const signed = bodyLength + MAC_LENGTH;
  if (!macMatches(r.clusterKey, b.subarray(0, signed), b.subarray(signed)))
    return { ok: false, reason: "badSignature" };
  const node = readName(b, FIXED, nodeLength);
  const receiver = readName(b, FIXED + nodeLength, receiverLength);
  if (node === undefined || receiver === undefined) return { ok: false, reason: "badName" };
  if (receiver !== r.self) return { ok: false, reason: "otherReceiver" };
  const pairKey = r.pairKey(node);
  if (pairKey === undefined) return { ok: false, reason: "unknownSender" };
  if (!macMatches(pairKey, b.subarray(0, bodyLength), b.subarray(bodyLength, signed)))
    return { ok: false, reason: "badNodeSignature" };
  const sentAt = Number(b.readBigUInt64BE(30));
  if (Math.abs(r.now - sentAt) > r.windowMs) return { ok: false, reason: "outsideWindow" };
  const incarnation = b.readBigUInt64BE(8);
  if (incarnation > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "badIncarnation" };
  const flags = (b[5] ?? 0) & 3;
  return {
    ok: true,
    value: {
      node,
      receiver,
      sentAt,
      incarnation: Number(incarnation),
      sequence: b.readUInt32BE(16),
      intervalMs: b.readUInt16BE(6),
      leaving: flags === 1,
      ...(flags & 2 ? { joining: true } : {}),
      ...((b[5] ?? 0) & 4 ? { unheard: true } : {}),
      ownedCount: b.readUInt16BE(20),
      ownedDigest: b.toString("hex", 22, 30),
    },
  };
}

// The UDP heartbeat speakers send each other: who is alive, since when, and what it holds.
// Authenticated with HMAC-SHA256 over a shared key (from a Secret); decodeHeartbeat never throws
// and rejects anything unsigned, truncated or signed with another key. Replays are caught by
// Membership, which remembers each peer's (incarnation, sequence).
//
// Layout (big-endian), 64 bytes + node name:
//   0  "HRLD"  4  version=1  5  flags (bit 0: leaving)  6  interval ms (u16)
//   8  incarnation (u64)  16  sequence (u32)  20  owned count (u16)  22  owned digest (8)
//   30 name length (u8)  31  name (UTF-8)  ...  HMAC-SHA256 over everything before it (32)
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Decoded } from "./ethernet.js";

export interface Heartbeat {
  node: string;
  /** Grows on every restart of the sender (its start time in ms), so old packets cannot pass. */
  incarnation: number;
  /** Grows with every heartbeat within one incarnation. */
  sequence: number;
  /** The sender's promise: the next heartbeat to this receiver comes within this many ms. */
  intervalMs: number;
  /** The sender is shutting down: take over its addresses now. */
  leaving: boolean;
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
  | "badIncarnation"
  | "badSignature";

const MAGIC = [0x48, 0x52, 0x4c, 0x44];
const VERSION = 1;
const FIXED = 31;
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

export class HeartbeatError extends Error {
  readonly code = "HERALD_HEARTBEAT_ENCODE";
}

export function encodeHeartbeat(h: Heartbeat, key: Uint8Array): Buffer {
  const name = Buffer.from(h.node, "utf8");
  if (name.length === 0 || name.length > MAX_NAME)
    throw new HeartbeatError(`node name length ${name.length}`);
  if (!/^[0-9a-f]{16}$/.test(h.ownedDigest)) throw new HeartbeatError("owned digest must be 16 hex digits");
  const out = Buffer.alloc(FIXED + name.length + MAC_LENGTH);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out[5] = h.leaving ? 1 : 0;
  out.writeUInt16BE(Math.min(h.intervalMs, 0xffff), 6);
  out.writeBigUInt64BE(BigInt(h.incarnation), 8);
  out.writeUInt32BE(h.sequence >>> 0, 16);
  out.writeUInt16BE(Math.min(h.ownedCount, 0xffff), 20);
  out.write(h.ownedDigest, 22, "hex");
  out[30] = name.length;
  name.copy(out, FIXED);
  const body = out.subarray(0, FIXED + name.length);
  createHmac("sha256", key).update(body).digest().copy(out, body.length);
  return out;
}

export function decodeHeartbeat(
  packet: Uint8Array,
  key: Uint8Array,
): Decoded<Heartbeat, HeartbeatDropReason> {
  const b = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
  if (b.length < FIXED + 1 + MAC_LENGTH) return { ok: false, reason: "truncated" };
  if (!MAGIC.every((m, i) => b[i] === m)) return { ok: false, reason: "badMagic" };
  if (b[4] !== VERSION) return { ok: false, reason: "badVersion" };
  const nameLength = b[30] ?? 0;
  if (b.length !== FIXED + nameLength + MAC_LENGTH) return { ok: false, reason: "badLength" };
  // Authenticate before looking at anything an attacker could choose.
  const body = b.subarray(0, FIXED + nameLength);
  const expected = createHmac("sha256", key).update(body).digest();
  if (!timingSafeEqual(expected, b.subarray(body.length))) return { ok: false, reason: "badSignature" };
  const node = b.toString("utf8", FIXED, FIXED + nameLength);
  if (nameLength === 0 || Buffer.byteLength(node) !== nameLength) return { ok: false, reason: "badName" };
  const incarnation = b.readBigUInt64BE(8);
  if (incarnation > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "badIncarnation" };
  return {
    ok: true,
    value: {
      node,
      incarnation: Number(incarnation),
      sequence: b.readUInt32BE(16),
      intervalMs: b.readUInt16BE(6),
      leaving: ((b[5] ?? 0) & 1) === 1,
      ownedCount: b.readUInt16BE(20),
      ownedDigest: b.toString("hex", 22, 30),
    },
  };
}

// Each speaker's own identity for heartbeats: an X25519 key pair made at start and kept in memory;
// the public half goes into the node's Lease. Two nodes derive a key only they share (X25519,
// then HKDF per direction), so a heartbeat that node B accepts as A's was made by A: a node that
// holds the cluster key but not A's private key cannot speak for A.
//
// Pairwise keys instead of signatures: a heartbeat goes to one receiver anyway, and an HMAC costs
// well under a microsecond where an Ed25519 verify costs about 90 (bench/heartbeat.ts prints both).
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";

/** How a public key is written in a Lease annotation: `x25519:` and the raw 32 bytes, base64url. */
const PUBLIC_KEY = /^x25519:([A-Za-z0-9_-]{43})$/;
// PKCS#8 DER of an X25519 private key is this prefix and the 32 raw bytes (RFC 8410).
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

export class NodeIdentity {
  /** This node's public key as published: `x25519:<base64url>`. */
  readonly publicKey: string;

  private constructor(private readonly privateKey: KeyObject) {
    const jwk = createPublicKey(privateKey).export({ format: "jwk" });
    this.publicKey = `x25519:${jwk.x}`;
  }

  static generate(): NodeIdentity {
    return NodeIdentity.fromSeed(randomBytes(32));
  }

  /** The same seed gives the same identity (tests and fixtures that have no Leases). */
  static fromSeed(seed: Uint8Array): NodeIdentity {
    if (seed.length !== 32) throw new RangeError("an X25519 seed is 32 bytes");
    const der = Buffer.concat([PKCS8_PREFIX, seed]);
    return new NodeIdentity(createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
  }

  /**
   * The keys of the heartbeats from `from` to `to`, one of them this node, given the other's
   * published key; undefined when that key is malformed or unusable (a low-order point).
   */
  pairKey(from: string, to: string, otherPublicKey: string): Buffer | undefined {
    const m = PUBLIC_KEY.exec(otherPublicKey);
    if (!m) return undefined;
    try {
      const publicKey = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: m[1] }, format: "jwk" });
      const shared = diffieHellman({ privateKey: this.privateKey, publicKey });
      return Buffer.from(hkdfSync("sha256", shared, "herald heartbeat", `${from}\0${to}`, 32));
    } catch {
      return undefined;
    }
  }
}

export function isPublicKey(text: string): boolean {
  return PUBLIC_KEY.test(text);
}

/** A short, stable name for a published key (for Membership's key-change rule and debugging). */
export function keyId(publicKey: string): string {
  return createHash("sha256").update(publicKey).digest("hex").slice(0, 16);
}

interface PeerKey {
  publicKey: string;
  id: string;
  /** This node -> the peer, and the peer -> this node; undefined when its key is unusable. */
  send?: Buffer;
  receive?: Buffer;
}

/**
 * The pair keys of this node with each peer, from the keys the peers publish. Derived once per
 * published key (an X25519 agreement costs ~40 us) and bounded by the peers the Leases list.
 */
export class PeerKeys {
  private published: ReadonlyMap<string, string> = new Map();
  private readonly derived = new Map<string, PeerKey>();

  constructor(
    private readonly self: string,
    private readonly identity: NodeIdentity,
  ) {}

  /** Node name -> its published public key (from the Leases). */
  set(published: ReadonlyMap<string, string>): void {
    this.published = published;
    for (const [node, k] of this.derived) if (published.get(node) !== k.publicKey) this.derived.delete(node);
  }

  get(node: string): PeerKey | undefined {
    const publicKey = this.published.get(node);
    if (publicKey === undefined || node === this.self) return undefined;
    let k = this.derived.get(node);
    if (k === undefined) {
      k = {
        publicKey,
        id: keyId(publicKey),
        send: this.identity.pairKey(this.self, node, publicKey),
        receive: this.identity.pairKey(node, this.self, publicKey),
      };
      this.derived.set(node, k);
    }
    return k;
  }
}

// Split-block Bloom filters as the Parquet format defines them (BloomFilter.md):
// XXH64 (seed 0) of the value's plain encoding, 256-bit blocks of eight 32-bit
// words, the upper half of the hash picks the block, the lower half sets one
// bit per word. Written this way, DuckDB, Spark and Trino use them too.
import xxhash from "xxhash-wasm";

const SALT = [0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31];
const MIN_BYTES = 32;
const MAX_BYTES = 1 << 20;

let hasher: Promise<(data: Uint8Array) => bigint> | undefined;

/** XXH64 with seed 0, as the Parquet Bloom filter specifies. */
export function bloomHasher(): Promise<(data: Uint8Array) => bigint> {
  hasher ??= xxhash().then((api) => (data: Uint8Array) => api.h64Raw(data, 0n));
  return hasher;
}

/** Bytes for `distinct` values at about 1% false positives (~10 bits each), a power of two. */
export function bloomBytesFor(distinct: number): number {
  let bytes = MIN_BYTES;
  while (bytes < MAX_BYTES && bytes * 8 < distinct * 10) bytes *= 2;
  return bytes;
}

export class SplitBlockBloom {
  readonly words: Uint32Array;
  private readonly blocks: number;

  constructor(words: Uint32Array) {
    this.words = words;
    this.blocks = words.length / 8;
  }

  static withBytes(bytes: number): SplitBlockBloom {
    return new SplitBlockBloom(new Uint32Array(bytes / 4));
  }

  /** A filter over a little-endian bitset as stored in a file. */
  static fromBitset(bitset: Uint8Array): SplitBlockBloom {
    const words = new Uint32Array(bitset.length / 4);
    const view = new DataView(bitset.buffer, bitset.byteOffset, bitset.byteLength);
    for (let i = 0; i < words.length; i++) words[i] = view.getUint32(i * 4, true);
    return new SplitBlockBloom(words);
  }

  private block(hash: bigint): number {
    return Number(((hash >> 32n) * BigInt(this.blocks)) >> 32n) * 8;
  }

  insert(hash: bigint): void {
    const base = this.block(hash);
    const key = Number(hash & 0xffffffffn);
    for (let i = 0; i < 8; i++) {
      const bit = Math.imul(key, SALT[i] as number) >>> 27;
      this.words[base + i] = ((this.words[base + i] as number) | (1 << bit)) >>> 0;
    }
  }

  mayContain(hash: bigint): boolean {
    const base = this.block(hash);
    const key = Number(hash & 0xffffffffn);
    for (let i = 0; i < 8; i++) {
      const bit = Math.imul(key, SALT[i] as number) >>> 27;
      if ((((this.words[base + i] as number) >>> bit) & 1) === 0) return false;
    }
    return true;
  }

  bitset(): Buffer {
    const out = Buffer.alloc(this.words.length * 4);
    for (let i = 0; i < this.words.length; i++) out.writeUInt32LE(this.words[i] as number, i * 4);
    return out;
  }
}

// The soak's one source of randomness: pure-rand's xoroshiro128+ from the seed, so a seed printed
// in a report rebuilds the same run anywhere (no Math.random, no clock).
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";
import { LabError } from "../lab/errors.js";

export const MAX_SEED = 0xffff_ffff;

export class Rng {
  private readonly gen: JumpableRandomGenerator;

  /** `seed`: an integer in 0..2^32-1 (the generator keeps 32 bits of it; more would collide). */
  constructor(seed: number | JumpableRandomGenerator) {
    if (typeof seed !== "number") {
      this.gen = seed;
      return;
    }
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new LabError("LAB_BAD_ARGUMENT", `a seed is an integer in 0..${MAX_SEED}, not ${seed}`);
    }
    this.gen = xoroshiro128plus(seed);
  }

  /** A generator whose sequence does not overlap this one's (xoroshiro's jump: 2^64 steps ahead). */
  independent(): Rng {
    const gen = this.gen.clone();
    gen.jump();
    return new Rng(gen);
  }

  /** An integer in lo..hi, both included. */
  int(lo: number, hi: number): number {
    return uniformInt(this.gen, lo, hi);
  }

  /** A number in [0, 1). */
  fraction(): number {
    return uniformFloat64(this.gen);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.fraction() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new LabError("LAB_BAD_ARGUMENT", "pick from an empty list");
    return items[this.int(0, items.length - 1)] as T;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  /** The key drawn with probability weight / total weight. */
  weighted<K extends string>(weights: readonly (readonly [K, number])[]): K {
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    let draw = this.int(1, total);
    for (const [key, w] of weights) {
      draw -= w;
      if (draw <= 0) return key;
    }
    throw new LabError("LAB_BAD_ARGUMENT", "weighted pick with no positive weight");
  }
}

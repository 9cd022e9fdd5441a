// The free addresses of one pool and family, kept as disjoint intervals in a
// B+ tree keyed by interval start. Taking the lowest free address, taking a
// given one and giving one back are O(log n) in the number of intervals, so a
// /64 with millions of holders costs the same per operation as a /28.
// Intervals always start and end on usable addresses (see avoidBuggyIPs), so
// the lowest interval's start is always the next address to hand out.
import btree from "sorted-btree";
import type { Family } from "./address.js";
import { type AddressRange, nextUsable, previousUsable } from "./range.js";

const BTree = btree.default;
const compareBigint = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

export class FreeSpace {
  private readonly intervals = new BTree<bigint, bigint>(undefined, compareBigint);

  constructor(
    private readonly family: Family,
    ranges: readonly AddressRange[],
    private readonly avoidBuggy: boolean,
  ) {
    for (const r of ranges) if (r.family === family) this.insert(r.first, r.last);
  }

  /** Removes and returns the lowest free address, or undefined when none is left. */
  takeLowest(): bigint | undefined {
    const first = this.intervals.minKey();
    if (first === undefined) return undefined;
    this.take(first);
    return first;
  }

  isFree(value: bigint): boolean {
    const pair = this.intervals.getPairOrNextLower(value);
    return pair !== undefined && pair[1] >= value;
  }

  /** Marks one address as used; false when it was not free. */
  take(value: bigint): boolean {
    const pair = this.intervals.getPairOrNextLower(value);
    if (pair === undefined || pair[1] < value) return false;
    const [start, end] = pair;
    this.intervals.delete(start);
    this.insert(start, value - 1n);
    this.insert(value + 1n, end);
    return true;
  }

  /** Returns one address to the free set, merging with its neighbours. */
  give(value: bigint): void {
    if (this.isFree(value)) return;
    let start = value;
    let end = value;
    const lower = this.intervals.nextLowerPair(value);
    if (lower !== undefined && nextUsable(this.family, lower[1] + 1n, this.avoidBuggy) === value) {
      start = lower[0];
      this.intervals.delete(lower[0]);
    }
    const higher = this.intervals.nextHigherPair(value);
    if (higher !== undefined && previousUsable(this.family, higher[0] - 1n, this.avoidBuggy) === value) {
      end = higher[1];
      this.intervals.delete(higher[0]);
    }
    this.intervals.set(start, end);
  }

  /** Number of disjoint free intervals (for tests and benchmarks). */
  get fragments(): number {
    return this.intervals.size;
  }

  private insert(first: bigint, last: bigint): void {
    const start = nextUsable(this.family, first, this.avoidBuggy);
    const end = previousUsable(this.family, last, this.avoidBuggy);
    if (start <= end) this.intervals.set(start, end);
  }
}

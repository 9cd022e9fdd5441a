// Lets input through once per key and window, in bounded memory. The map holds keys in the order
// they were last let through, so the expired ones are pruned from its front at no extra cost;
// when it is full of live keys, new keys are refused (a flood of distinct keys costs nothing more).
export class RepeatWindow {
  /** Refused: repeated within the window, or new while the table was full. */
  refused = 0;
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly max: number,
  ) {}

  /** True when `key` was not let through within the window before `now`. */
  first(key: string, now: number): boolean {
    const last = this.seen.get(key);
    if (last !== undefined && now - last < this.windowMs) return this.refuse();
    for (const [k, at] of this.seen) {
      if (now - at < this.windowMs) break;
      this.seen.delete(k);
    }
    if (!this.seen.has(key) && this.seen.size >= this.max) return this.refuse();
    this.seen.delete(key);
    this.seen.set(key, now);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  private refuse(): false {
    this.refused++;
    return false;
  }
}

// Which Services make the kernel refuse a transaction. The kernel is the judge: subsets of
// the Services are rendered as whole tables and checked with `nft -c` (sent to the kernel,
// validated, never committed), halving until each refused Service stands alone. k bad
// Services among n cost about 2k·log2(n) checks; `maxChecks` bounds the work of one search.
import type { ExecResult } from "./nft.js";

/** Checks a whole table holding only these Services' frontends (none: the skeleton). */
export type SubsetCheck = (services: readonly string[]) => Promise<ExecResult>;

export interface Isolation {
  /** Refused Services with the kernel's words; empty when no single Service is to blame. */
  refused: Map<string, string>;
  /** The table without any Service was refused: the fault is not a Service's. */
  skeletonRefused: boolean;
  checks: number;
}

export async function isolateRefused(
  services: readonly string[],
  check: SubsetCheck,
  maxChecks = 64,
): Promise<Isolation> {
  const refused = new Map<string, string>();
  let checks = 0;
  const run = async (subset: readonly string[]) => {
    checks++;
    return check(subset);
  };
  const skeleton = await run([]);
  if (skeleton.code !== 0) return { refused, skeletonRefused: true, checks };
  const search = async (subset: readonly string[]): Promise<void> => {
    if (subset.length === 0 || checks >= maxChecks) return;
    const r = await run(subset);
    if (r.code === 0) return;
    if (subset.length === 1) {
      refused.set(subset[0] ?? "", r.stderr.trim() || `nft exited with ${r.code}`);
      return;
    }
    const mid = subset.length >> 1;
    await search(subset.slice(0, mid));
    await search(subset.slice(mid));
  };
  await search([...services].sort());
  return { refused, skeletonRefused: false, checks };
}

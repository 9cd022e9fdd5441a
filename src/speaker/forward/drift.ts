// Drift: whether the kernel still holds what was applied, for every table of the ruleset
// (`inet herald` and the handover tables). The cheap check lists the chain names of `inet
// herald` only (a deleted table or a flushed ruleset shows at once); the full one lists the
// table and compares its shape (rules per chain, elements per set) with what was applied
// (listing 10,000 Services costs nft about a second of CPU). The handover tables hold a
// handful of elements: their shape is compared at every check.
import { type ExecResult, expectedShape, parseChainNames, parseTableShape, shapeDifference } from "./nft.js";
import type { Chain, NamedSet, Ruleset } from "./ruleset-model.js";

export type DriftCheck =
  | { kind: "ok" }
  | { kind: "drift"; reason: string }
  /** nft could not list: nothing is known. */
  | { kind: "failed"; message: string };

interface Listed {
  family: string;
  name: string;
  sets: readonly NamedSet[];
  chains: readonly Chain[];
}

function tables(rs: Ruleset): Listed[] {
  return [{ family: "inet", name: rs.table, sets: rs.sets, chains: rs.chains }, ...rs.handover];
}

/**
 * `full`: every table's shape. Otherwise the chain names of `inet herald` (listing the chains
 * of one family, never kube-proxy's ip and ip6 tables), and the shape of the handover tables,
 * which are small.
 */
export async function checkDrift(
  run: (args: string[]) => Promise<ExecResult>,
  applied: Ruleset,
  full: boolean,
): Promise<DriftCheck> {
  const [inet, ...rest] = tables(applied);
  if (!inet) return { kind: "ok" };
  const first = full ? await shapeOf(run, inet) : await chainsOf(run, inet);
  if (first.kind !== "ok") return first;
  for (const t of rest) {
    const r = await shapeOf(run, t);
    if (r.kind !== "ok") return r;
  }
  return { kind: "ok" };
}

async function chainsOf(run: (args: string[]) => Promise<ExecResult>, t: Listed): Promise<DriftCheck> {
  const r = await run(["list", "chains", t.family]);
  if (r.code !== 0) return { kind: "failed", message: r.stderr.trim() };
  const names = parseChainNames(r.stdout, t.name, t.family);
  if (names === null) return { kind: "drift", reason: `table ${t.family} ${t.name} is missing` };
  const missing = t.chains.find((c) => !names.has(c.name));
  if (missing) return { kind: "drift", reason: `chain ${missing.name} is missing` };
  if (names.size !== t.chains.length)
    return { kind: "drift", reason: "the table has chains that are not ours" };
  return { kind: "ok" };
}

async function shapeOf(run: (args: string[]) => Promise<ExecResult>, t: Listed): Promise<DriftCheck> {
  const r = await run(["list", "table", t.family, t.name]);
  if (r.code !== 0) {
    if (/no such file or directory/i.test(r.stderr))
      return { kind: "drift", reason: `table ${t.family} ${t.name} is missing` };
    return { kind: "failed", message: r.stderr.trim() };
  }
  const dynamic = new Set(t.sets.filter((s) => s.dynamic).map((s) => s.name));
  const reason = shapeDifference(
    expectedShape(t),
    parseTableShape(r.stdout, (n) => dynamic.has(n)),
  );
  if (reason === null) return { kind: "ok" };
  return { kind: "drift", reason: t.family === "inet" ? reason : `${t.name}: ${reason}` };
}

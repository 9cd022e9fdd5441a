// Drift: whether the kernel still holds what was applied, for every table of the ruleset
// (`inet herald` and the handover tables). The cheap check lists chain names only (a deleted
// table or a flushed ruleset shows at once); the full one lists each table and compares its
// shape (rules per chain, elements per set) with what was applied (listing 10,000 Services
// costs nft about a second of CPU).
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

export async function checkDrift(
  run: (args: string[]) => Promise<ExecResult>,
  applied: Ruleset,
  full: boolean,
): Promise<DriftCheck> {
  if (!full) {
    const r = await run(["list", "chains"]);
    if (r.code !== 0) return { kind: "failed", message: r.stderr.trim() };
    for (const t of tables(applied)) {
      const names = parseChainNames(r.stdout, t.name, t.family);
      if (names === null) return { kind: "drift", reason: `table ${t.family} ${t.name} is missing` };
      const missing = t.chains.find((c) => !names.has(c.name));
      if (missing) return { kind: "drift", reason: `chain ${missing.name} is missing` };
      if (names.size !== t.chains.length)
        return { kind: "drift", reason: `table ${t.family} ${t.name} has chains that are not ours` };
    }
    return { kind: "ok" };
  }
  for (const t of tables(applied)) {
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
    if (reason !== null)
      return { kind: "drift", reason: t.family === "inet" ? reason : `${t.name}: ${reason}` };
  }
  return { kind: "ok" };
}

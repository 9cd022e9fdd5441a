// Each soak referee fails on a build broken in the way it watches for (broken-build.ts): a short
// soak runs the broken copy, and the referee named must report violations.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brokenBuild, SABOTAGES } from "./broken-build.js";
import { runSoak } from "./run-soak.js";

const root = mkdtempSync(join(tmpdir(), "herald-broken-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test.each(SABOTAGES.map((s) => [s.referee, s.what, s] as const))(
  "the %s referee fails on %s",
  async (_referee, _what, s) => {
    const dir = join(root, s.referee);
    const main = brokenBuild(dir, s);
    const { report, summary } = await runSoak(
      { seed: s.seed, minutes: s.minutes, out: join(dir, "out"), ...(s.faults ? { faults: s.faults } : {}) },
      { HERALD_LAB_MAIN: main },
    );
    process.stderr.write(`${summary}\n`);
    const verdict = report.verdicts.find((v) => v.referee === s.referee);
    expect(verdict?.pass).toBe(false);
    expect(verdict?.violations.length).toBeGreaterThan(0);
  },
  300_000,
);

// A short soak with a fixed seed (every fault kind at least once, operations all along) in which
// every referee must pass: `npm run test:soak`. `npm run soak` runs longer ones.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSoak } from "./run-soak.js";

const SEED = 1;
const MINUTES = 3;
const out = mkdtempSync(join(tmpdir(), "herald-soak-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

test(`a ${MINUTES}-minute soak with seed ${SEED}: every fault kind, every referee passes`, async () => {
  const { code, report, summary } = await runSoak({ seed: SEED, minutes: MINUTES, out });
  process.stderr.write(`${summary}\n`);
  const failed = report.verdicts.filter((v) => !v.pass);
  expect(failed.map((v) => ({ referee: v.referee, violations: v.violations.slice(0, 10) }))).toEqual([]);
  expect(code).toBe(0);
  // The run did what it says: every kind of fault went in, and operations were sent.
  expect(Object.keys(report.faultsInjected).sort()).toEqual(Object.keys(report.scheduled.faults).sort());
  expect(report.ops.sent).toBeGreaterThan(30);
  expect(report.probes.ok).toBeGreaterThan(10_000);
}, 420_000);

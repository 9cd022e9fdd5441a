// A short soak with a fixed seed (every fault kind at least once, operations all along) in which
// every referee must pass: `npm run test:soak`. `npm run soak` runs longer ones.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../controller/lab-controller.js";
import type { FaultRecord } from "./model.js";
import { runSoak } from "./run-soak.js";

const SEED = 1;
const MINUTES = 3;
const out = mkdtempSync(join(tmpdir(), "herald-soak-"));
let keep = false;
afterAll(() => {
  // A failed run's report, timeline and logs stay in soak-reports/ (not in git).
  if (keep) cpSync(out, join(REPO, "soak-reports", `short-run-${Date.now()}`), { recursive: true });
  rmSync(out, { recursive: true, force: true });
});

test(`a ${MINUTES}-minute soak with seed ${SEED}: every fault kind, every referee passes`, async () => {
  const { code, report, summary } = await runSoak({ seed: SEED, minutes: MINUTES, out });
  process.stderr.write(`${summary}\n`);
  const failed = report.verdicts.filter((v) => !v.pass);
  if (failed.length > 0 || code !== 0) {
    keep = true;
    // The log may be all that is left of a CI run: when each fault went in, and every violation.
    const { record } = report as typeof report & { record?: { faults: FaultRecord[] } };
    const lanes = (record?.faults ?? []).map(
      (f) =>
        `soak fault ${f.kind} ${f.node ?? f.controller ?? f.address ?? ""}: ms ${f.startMs}-${f.endMs ?? "end"}` +
        `${f.appliedMs === undefined ? "" : `, applied ${f.appliedMs}`}${f.skipped ? ` (${f.skipped})` : ""}`,
    );
    const violations = failed.flatMap((v) => v.violations.map((x) => `${v.referee}: ${x.message}`));
    process.stderr.write(`${[...lanes, ...violations].join("\n")}\n`);
  }
  expect(failed.map((v) => ({ referee: v.referee, violations: v.violations.slice(0, 10) }))).toEqual([]);
  expect(code).toBe(0);
  // The run did what it says: every kind of fault went in, and operations were sent.
  expect(Object.keys(report.faultsInjected).sort()).toEqual(Object.keys(report.scheduled.faults).sort());
  expect(report.ops.sent).toBeGreaterThan(30);
  expect(report.probes.ok).toBeGreaterThan(10_000);
}, 420_000);

// The last step of scripts/check: adds up the Jest reports of every test run and decides whether
// the lab was trustworthy. A lab file that failed once runs again in a fresh lab (a real control
// plane on a small machine has slow moments); its first report is kept as NAME.first.json beside
// the rerun's NAME.json. One rerun is tolerated and named; more than one means the lab itself (or
// a test's waits) has become flaky, and the check fails even when every rerun passed.
//
// Run as `node scripts/check-summary.ts DIR` (Node runs the TypeScript directly); exits 1 when
// the check fails. Imports nothing of Herald, so it runs before any build.
import { readdirSync, readFileSync } from "node:fs";

/** The part of Jest's --json report this reads. */
export interface JestReport {
  numPassedTests: number;
  numFailedTests: number;
  numRuntimeErrorTestSuites: number;
}

export interface Summary {
  passed: number;
  failed: number;
  /** The lab files whose first run failed, by report name (lab-NAME). */
  reruns: string[];
  ok: boolean;
  lines: string[];
}

export const MAX_LAB_RERUNS = 1;
const FIRST = ".first.json";

/** reports: file name in the results directory -> its report. */
export function summarize(reports: ReadonlyMap<string, JestReport>): Summary {
  let passed = 0;
  let failed = 0;
  const reruns: string[] = [];
  const lines: string[] = [];
  for (const [file, r] of [...reports].sort(([a], [b]) => a.localeCompare(b))) {
    if (file.endsWith(FIRST)) {
      // Superseded by the rerun; counted as a rerun, not as failed tests.
      const name = file.slice(0, -FIRST.length);
      reruns.push(name);
      lines.push(`check: RERUN ${name} (first run: ${r.numFailedTests} failed, ${r.numPassedTests} passed)`);
      if (!reports.has(`${name}.json`)) {
        lines.push(`check: ${name}: the rerun wrote no report`);
        failed += 1;
      }
      continue;
    }
    passed += r.numPassedTests;
    failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
  }
  const tooMany = reruns.length > MAX_LAB_RERUNS;
  if (tooMany) {
    lines.push(
      `check: FAIL ${reruns.length} lab files needed a rerun (at most ${MAX_LAB_RERUNS} may): ${reruns.join(", ")}`,
    );
  }
  const rerunText =
    reruns.length === 0 ? "" : `, ${reruns.length} lab file${reruns.length === 1 ? "" : "s"} rerun`;
  lines.push(`check: ${passed} passed, ${failed} failed${rerunText}`);
  return { passed, failed, reruns, ok: failed === 0 && !tooMany, lines };
}

export function readReports(dir: string): Map<string, JestReport> {
  const reports = new Map<string, JestReport>();
  for (const f of readdirSync(dir)) {
    if (f.endsWith(".json")) reports.set(f, JSON.parse(readFileSync(`${dir}/${f}`, "utf8")) as JestReport);
  }
  return reports;
}

if (import.meta.filename !== undefined && import.meta.filename === process.argv[1]) {
  const dir = process.argv[2];
  if (dir === undefined) {
    process.stderr.write("usage: node scripts/check-summary.ts RESULTS_DIR\n");
    process.exit(2);
  }
  const summary = summarize(readReports(dir));
  for (const line of summary.lines) console.log(line);
  process.exitCode = summary.ok ? 0 : 1;
}

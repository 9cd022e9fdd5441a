// scripts/check's verdict over the Jest reports of one run, fed made-up reports: no lab runs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JestReport, summarize } from "../../scripts/check-summary.js";

const report = (passed: number, failed = 0, broken = 0): JestReport => ({
  numPassedTests: passed,
  numFailedTests: failed,
  numRuntimeErrorTestSuites: broken,
});

test("no rerun: totals over every report", () => {
  const s = summarize(
    new Map([
      ["unit.json", report(700)],
      ["root.json", report(40)],
      ["lab-harness.json", report(9)],
    ]),
  );
  expect(s).toMatchObject({ passed: 749, failed: 0, reruns: [], ok: true });
  expect(s.lines).toEqual(["check: 749 passed, 0 failed"]);
});

test("one lab file that passed on its rerun is named and tolerated; its first run's failures do not count", () => {
  const s = summarize(
    new Map([
      ["unit.json", report(700)],
      ["lab-speaker.first.json", report(10, 2)],
      ["lab-speaker.json", report(12)],
    ]),
  );
  expect(s).toMatchObject({ passed: 712, failed: 0, reruns: ["lab-speaker"], ok: true });
  expect(s.lines).toContain("check: RERUN lab-speaker (first run: 2 failed, 10 passed)");
  expect(s.lines.at(-1)).toBe("check: 712 passed, 0 failed, 1 lab file rerun");
});

test("two lab files that needed a rerun fail the check even when both reruns passed, naming both", () => {
  const s = summarize(
    new Map([
      ["lab-speaker.first.json", report(10, 2)],
      ["lab-speaker.json", report(12)],
      ["lab-apiserver-restart.first.json", report(0, 0, 1)],
      ["lab-apiserver-restart.json", report(3)],
      ["lab-harness.json", report(9)],
    ]),
  );
  expect(s.ok).toBe(false);
  expect(s.failed).toBe(0);
  expect(s.reruns).toEqual(["lab-apiserver-restart", "lab-speaker"]);
  expect(s.lines).toContain(
    "check: FAIL 2 lab files needed a rerun (at most 1 may): lab-apiserver-restart, lab-speaker",
  );
});

test("a failed test fails the check; a rerun that wrote no report counts as a failure", () => {
  expect(summarize(new Map([["unit.json", report(5, 1)]])).ok).toBe(false);
  expect(summarize(new Map([["unit.json", report(5, 0, 1)]])).ok).toBe(false);
  const s = summarize(new Map([["lab-speaker.first.json", report(1, 1)]]));
  expect(s).toMatchObject({ failed: 1, ok: false });
  expect(s.lines).toContain("check: lab-speaker: the rerun wrote no report");
});

describe("script mode, as scripts/check runs it", () => {
  const dir = mkdtempSync(join(tmpdir(), "herald-check-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = new URL("../../scripts/check-summary.ts", import.meta.url).pathname;
  const run = () => {
    try {
      return { code: 0, out: execFileSync(process.execPath, [script, dir], { encoding: "utf8" }) };
    } catch (e) {
      const err = e as { status: number; stdout: string };
      return { code: err.status, out: err.stdout };
    }
  };
  const put = (name: string, r: JestReport) => writeFileSync(join(dir, name), JSON.stringify(r));

  test("exit 0 with one rerun, exit 1 with two", () => {
    put("unit.json", report(3));
    put("lab-a.first.json", report(1, 1));
    put("lab-a.json", report(2));
    expect(run()).toEqual({
      code: 0,
      out: expect.stringContaining("check: 5 passed, 0 failed, 1 lab file rerun"),
    });
    put("lab-b.first.json", report(0, 1));
    put("lab-b.json", report(1));
    const r = run();
    expect(r.code).toBe(1);
    expect(r.out).toContain("needed a rerun (at most 1 may): lab-a, lab-b");
  });
});

test("every lab file gets a report name of its own, as scripts/check derives it", () => {
  const script = execFileSync("grep", ["-E", "^\\s*name=", "scripts/check"], { encoding: "utf8" }).trim();
  const files = execFileSync("find", ["test", "-name", "*.lab.test.ts"], { encoding: "utf8" })
    .trim()
    .split("\n");
  const names = files.map((file) =>
    execFileSync("bash", ["-c", `file=$1; ${script}; printf '%s' "$name"`, "check", file], {
      encoding: "utf8",
    }),
  );
  expect(names).toContain("controller-dual-stack");
  expect(names).toContain("speaker-dual-stack");
  expect(new Set(names).size).toBe(files.length);
});

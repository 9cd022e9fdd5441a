// Running a whole soak (dist/test/soak/run.js) from a test: its own lab, its report read back.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../controller/lab-controller.js";
import type { SoakReport } from "./report.js";

export async function runSoak(
  args: { seed: number; minutes: number; faults?: string[]; out: string },
  env: Record<string, string> = {},
): Promise<{ code: number | null; report: SoakReport; summary: string; stderr: string }> {
  const argv = [
    join(REPO, "dist/test/soak/run.js"),
    "--seed",
    `${args.seed}`,
    "--minutes",
    `${args.minutes}`,
    "--out",
    args.out,
    ...(args.faults ? ["--faults", args.faults.join(",")] : []),
  ];
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const summary = stdout.trim().split("\n").at(-1) ?? "";
  let report: SoakReport;
  try {
    report = JSON.parse(readFileSync(join(args.out, `soak-${args.seed}.json`), "utf8")) as SoakReport;
  } catch {
    throw new Error(`the soak wrote no report (exit ${code}):\n${stderr.slice(-4000)}`);
  }
  return { code, report, summary, stderr };
}

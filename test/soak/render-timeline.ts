// Draws a soak report's timeline again: reads the report JSON (an object with `record`,
// `verdicts` and `title`) and writes the SVG next to it (report.json -> report.svg), for
// example after a change to the picture, or for a report from another machine.
//
//   npm run soak:timeline -- REPORT.json
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { SoakRecord, Verdict } from "./model.js";
import { renderTimeline } from "./timeline.js";

/** Where the picture of `reportPath` goes: beside it, .json replaced by .svg. */
export function svgPathFor(reportPath: string): string {
  return reportPath.endsWith(".json") ? `${reportPath.slice(0, -5)}.svg` : `${reportPath}.svg`;
}

/** The report's parts, or why the text is not a report this can draw. */
export function parseReport(
  text: string,
): { ok: true; record: SoakRecord; verdicts: Verdict[]; title: string } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  if (typeof value !== "object" || value === null) return { ok: false, error: "not an object" };
  const { record, verdicts, title } = value as Record<string, unknown>;
  if (typeof record !== "object" || record === null) return { ok: false, error: "no record object" };
  const r = record as Record<string, unknown>;
  for (const field of ["nodes", "faults", "ops", "wire", "probes", "foreignMacs"]) {
    if (!Array.isArray(r[field])) return { ok: false, error: `record.${field} is not an array` };
  }
  if (typeof r.durationMs !== "number") return { ok: false, error: "record.durationMs is not a number" };
  if (typeof r.macs !== "object" || r.macs === null)
    return { ok: false, error: "record.macs is not an object" };
  if (!Array.isArray(verdicts)) return { ok: false, error: "verdicts is not an array" };
  for (const v of verdicts as Verdict[]) {
    if (typeof v !== "object" || v === null || !Array.isArray(v.violations)) {
      return { ok: false, error: "a verdict without a violations array" };
    }
  }
  return {
    ok: true,
    record: record as SoakRecord,
    verdicts: verdicts as Verdict[],
    title: typeof title === "string" ? title : "soak run",
  };
}

/** Reads the report at `reportPath`, writes its SVG beside it and returns the SVG's path. */
export function renderReportFile(reportPath: string): string {
  const report = parseReport(readFileSync(reportPath, "utf8"));
  if (!report.ok) throw new Error(`${reportPath}: ${report.error}`);
  const out = svgPathFor(reportPath);
  writeFileSync(out, renderTimeline(report.record, report.verdicts, report.title));
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = process.argv[2];
  if (path === undefined || process.argv.length > 3) {
    console.error("usage: render-timeline REPORT.json (writes REPORT.svg beside it)");
    process.exit(2);
  }
  try {
    // npm runs scripts in the repository; a relative path means where the user typed it.
    console.log(`wrote ${renderReportFile(resolve(process.env.INIT_CWD ?? process.cwd(), path))}`);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "@jest/globals";
import { renderReportFile, svgPathFor } from "./render-timeline.js";
import { emptyRecord } from "./timeline-fixtures.js";
import { findAll, parseXml } from "./xml-tree.js";

describe("drawing a report's timeline again", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "herald-timeline-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test("writes REPORT.svg beside REPORT.json, with the report's title and lanes", () => {
    const record = emptyRecord(60_000);
    record.wire.push({ t: 1000, address: "192.0.2.7", mac: "02:00:00:00:00:01", kind: "arp-reply" });
    const report = join(dir, "soak-seed-3.json");
    writeFileSync(report, JSON.stringify({ record, verdicts: [], title: "soak seed 3, 1 min" }));
    const out = renderReportFile(report);
    expect(out).toBe(join(dir, "soak-seed-3.svg"));
    const svg = parseXml(readFileSync(out, "utf8"));
    expect(findAll(svg, (e) => e.name === "text" && e.text === "soak seed 3, 1 min")).toHaveLength(1);
    expect(findAll(svg, (e) => e.attrs["data-address"] === "192.0.2.7")).toHaveLength(1);
  });

  test.each([
    ["{", "not JSON"],
    ["[]", "no record object"],
    [
      JSON.stringify({ record: { ...emptyRecord(1000), wire: null }, verdicts: [] }),
      "record.wire is not an array",
    ],
    [
      JSON.stringify({ record: emptyRecord(1000), verdicts: [{ referee: "wire" }] }),
      "without a violations array",
    ],
  ])("refuses %s with a message naming the file", (text, why) => {
    const report = join(dir, "bad.json");
    writeFileSync(report, text);
    expect(() => renderReportFile(report)).toThrow(`${report}: `);
    expect(() => renderReportFile(report)).toThrow(why);
  });

  test("a report not named .json gets .svg added", () => {
    expect(svgPathFor("/tmp/report")).toBe("/tmp/report.svg");
  });
});

// The flags both components take for who reads /debug/state and /audit and how
// long the audit log keeps its files.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CliIo } from "../../src/cli/command.js";
import { FlagError } from "../../src/cli/flags.js";
import { runHerald } from "../../src/cli/herald.js";
import { parseServing } from "../../src/cli/serving.js";
import { scratchDirs } from "../scratch.js";

const scratch = scratchDirs("herald-serving-cli");

const flags = (over: Record<string, string> = {}) => ({
  "http-auth": "kubernetes",
  "audit-max-bytes": "512Mi",
  "audit-max-age": "30d",
  ...over,
});

test("sizes and ages turn into retention limits; 0 means no limit", () => {
  expect(parseServing(flags())).toEqual({
    auth: "kubernetes",
    retention: { maxBytes: 512 * 1024 * 1024, maxAgeMs: 30 * 86_400_000 },
  });
  expect(parseServing(flags({ "audit-max-bytes": "2Gi", "audit-max-age": "12h" })).retention).toEqual({
    maxBytes: 2 * 1024 ** 3,
    maxAgeMs: 12 * 3_600_000,
  });
  expect(parseServing(flags({ "audit-max-bytes": "0", "audit-max-age": "0", "http-auth": "none" }))).toEqual({
    auth: "none",
    retention: {},
  });
});

test.each([
  ["audit-max-bytes", "lots", "--audit-max-bytes must be a size"],
  ["audit-max-bytes", "1GB", "--audit-max-bytes must be a size"],
  ["audit-max-age", "forever", "--audit-max-age must be a duration"],
  ["audit-max-age", "-1d", "--audit-max-age must be a duration"],
  ["http-auth", "open", "--http-auth must be kubernetes or none"],
])("--%s %s is refused", (name, value, message) => {
  expect(() => parseServing(flags({ [name]: value }))).toThrow(FlagError);
  expect(() => parseServing(flags({ [name]: value }))).toThrow(message);
});

function capture(): CliIo & { stderr: string[]; stdout: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

test("both components take the flags, and exit 2 naming a bad value before they start", async () => {
  const dir = scratch.make();
  const key = join(dir, "key");
  writeFileSync(key, "k".repeat(40));
  for (const [component, extra] of [
    ["controller", []],
    ["speaker", ["--node-name", "n1", "--heartbeat-key-file", key]],
  ] as const) {
    const help = capture();
    expect(await runHerald([component, "--help"], help)).toBe(0);
    for (const flag of ["--http-auth", "--audit-max-bytes", "--audit-max-age"]) {
      expect([component, help.stdout.join("")]).toEqual([component, expect.stringContaining(flag)]);
    }
    const io = capture();
    expect(await runHerald([component, ...extra, "--audit-max-age", "a-while"], io)).toBe(2);
    expect(io.stderr.join("")).toContain("--audit-max-age must be a duration");
  }
});

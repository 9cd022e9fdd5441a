import type { CliIo } from "../../src/cli/command.js";
import { runHerald } from "../../src/cli/herald.js";

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

test("no command prints usage and exits 2", async () => {
  const io = capture();
  expect(await runHerald([], io)).toBe(2);
  expect(io.stdout.join("")).toContain("validate");
});

test("an unknown command is named in the error", async () => {
  const io = capture();
  expect(await runHerald(["frobnicate"], io)).toBe(2);
  expect(io.stderr.join("")).toContain('unknown command "frobnicate"');
});

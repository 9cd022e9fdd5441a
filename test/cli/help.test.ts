// `--help` and `-h` on every command and subcommand print that command's usage on stdout and
// exit 0, before any other check (no "--dir is required", no cluster, no files). The walk
// starts from `herald --help` and follows the subcommands each usage names, so a new command
// is covered as soon as it is listed.
import type { CliIo } from "../../src/cli/command.js";
import { runHerald } from "../../src/cli/herald.js";

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

async function run(argv: string[]) {
  const io = capture();
  const code = await runHerald(argv, io);
  return { code, stdout: io.stdout.join("\n"), stderr: io.stderr.join("\n") };
}

/** The commands a usage text names: rows under "commands:", and "herald <path> <sub>" lines. */
function subcommands(path: string[], usage: string): string[] {
  const found = new Set<string>();
  if (path.length === 0) {
    const list = usage.split("commands:")[1] ?? "";
    for (const m of list.matchAll(/^ {2}([a-z][\w-]*) {2,}/gm)) if (m[1]) found.add(m[1]);
  }
  const prefix = ["herald", ...path].join(" ");
  for (const line of usage.split("\n")) {
    const m = new RegExp(`^\\s*${prefix} ([a-z][\\w-]*)\\b`).exec(line);
    if (m?.[1]) found.add(m[1]);
  }
  return [...found];
}

async function walk(): Promise<string[][]> {
  const paths: string[][] = [];
  const queue: string[][] = [[]];
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    paths.push(path);
    const { stdout } = await run([...path, "--help"]);
    for (const sub of subcommands(path, stdout)) {
      if (sub !== "help" && paths.length + queue.length < 50) queue.push([...path, sub]);
    }
  }
  return paths;
}

test("--help and -h on every command print its usage and exit 0", async () => {
  const paths = await walk();
  const names = paths.map((p) => p.join(" "));
  // The walk reaches every command there is today (it finds new ones by itself).
  expect(names).toEqual(
    expect.arrayContaining(["", "audit", "audit query", "audit tail", "validate", "controller", "speaker"]),
  );
  for (const path of paths) {
    for (const flag of ["--help", "-h"]) {
      const r = await run([...path, flag]);
      const what = `herald ${[...path, flag].join(" ")}`;
      expect({ what, code: r.code, stderr: r.stderr }).toEqual({ what, code: 0, stderr: "" });
      expect(r.stdout).toMatch(/usage:/);
      expect(r.stdout).toContain(["herald", ...path].join(" "));
    }
  }
});

test.each([
  ["help wins over the flags that a run needs", ["audit", "query", "--format", "json", "--help"]],
  ["help wins over an unknown flag", ["controller", "--no-such-flag", "-h"]],
  ["herald help <command>", ["help", "speaker"]],
])("%s", async (_what, argv) => {
  const r = await run(argv);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe("");
  expect(r.stdout).toMatch(/usage:\s+herald/);
});

test("a --help after -- is an argument, not a request for help", async () => {
  const r = await run(["validate", "--", "--help"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("--help: cannot read");
});

test.each([
  [["audit"], "usage:"],
  [["audit", "frobnicate"], 'unknown subcommand "frobnicate"'],
  [["audit", "query"], "--dir is required"],
  [["validate"], "usage: herald validate"],
  [["validate", "--strict", "pools.yaml"], "unknown flag --strict"],
  [["controller", "--no-such-flag"], "unknown flag --no-such-flag"],
  [["constructor"], 'unknown command "constructor"'],
])("bad usage %j exits 2 and says why on stderr", async (argv, message) => {
  const r = await run(argv);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(message);
});

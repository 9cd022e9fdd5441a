import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CliIo } from "../../src/cli/command.js";
import { runHerald } from "../../src/cli/herald.js";
import { scratchDirs } from "../scratch.js";

function capture(): CliIo & { stderr: string[]; stdout: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

const dir = scratchDirs("herald-speaker-cli").make();
const shortKey = join(dir, "short");
writeFileSync(shortKey, "too-short\n");
const goodKey = join(dir, "good");
writeFileSync(goodKey, `${"k".repeat(32)}\n`);

test.each([
  ["no node name", ["--heartbeat-key-file", shortKey], "--node-name (or NODE_NAME) is required"],
  [
    "a key file that is missing",
    ["--node-name", "n1", "--heartbeat-key-file", join(dir, "none")],
    "cannot read the heartbeat key",
  ],
  [
    "a key shorter than 32 bytes",
    ["--node-name", "n1", "--heartbeat-key-file", shortKey],
    "shorter than 32 bytes",
  ],
  [
    "a bad port",
    ["--node-name", "n1", "--heartbeat-port", "99999"],
    "--heartbeat-port must be a port number",
  ],
  [
    "a real-time priority above 99",
    ["--node-name", "n1", "--heartbeat-key-file", goodKey, "--realtime-priority", "100"],
    "--realtime-priority must be a whole number from 0 to 99",
  ],
  [
    "a real-time priority that is not a number",
    ["--node-name", "n1", "--heartbeat-key-file", goodKey, "--realtime-priority", "high"],
    "--realtime-priority must be a whole number from 0 to 99",
  ],
])("herald speaker with %s exits 2 and says why", async (_what, args, message) => {
  const saved = process.env.NODE_NAME;
  delete process.env.NODE_NAME;
  try {
    const io = capture();
    expect(await runHerald(["speaker", ...args], io)).toBe(2);
    expect(io.stderr.join("")).toContain(message);
  } finally {
    if (saved !== undefined) process.env.NODE_NAME = saved;
  }
});

test("herald speaker --help lists the contract's flags", async () => {
  const io = capture();
  expect(await runHerald(["speaker", "--help"], io)).toBe(0);
  for (const flag of [
    "--node-name",
    "--http-port",
    "--heartbeat-port",
    "--heartbeat-key-file",
    "--audit-dir",
    "--lease-namespace",
  ])
    expect(io.stdout.join("")).toContain(flag);
});

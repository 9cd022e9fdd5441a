#!/usr/bin/env node
// Process entry point: real stdout/stderr and exit code around `runHerald`.
import type { CliIo } from "./command.js";
import { installCrashHandlers } from "./crash.js";
import { runHerald } from "./herald.js";

const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
};

installCrashHandlers(process, (text) => process.stderr.write(text));

runHerald(process.argv.slice(2), processIo).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `herald: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);

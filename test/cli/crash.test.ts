import { spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { describe, expect, test } from "@jest/globals";
import { CRASH_EXIT_CODE, installCrashHandlers } from "../../src/cli/crash.js";

function fakeProcess() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  const proc = Object.assign(emitter, { exit: (code: number) => void exits.push(code) });
  const written: string[] = [];
  installCrashHandlers(proc, (t) => written.push(t));
  return { emitter, exits, written };
}

describe("a rejection or exception nobody handled", () => {
  test.each([
    ["unhandledRejection", "unhandled promise rejection"],
    ["uncaughtException", "uncaught exception"],
  ])("%s is logged with its stack and ends the process with a non-zero code", (event, what) => {
    const p = fakeProcess();
    const error = new TypeError("Invalid URL");
    p.emitter.emit(event, error);
    expect(p.exits).toEqual([CRASH_EXIT_CODE]);
    const line = JSON.parse(p.written.join("")) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 60, code: "HERALD_CRASH", msg: `${what}; exiting` });
    expect(line.err).toContain("TypeError: Invalid URL");
    expect(line.err).toContain("crash.test.ts");
  });

  test("a rejection with a value that is not an Error is still told", () => {
    const p = fakeProcess();
    p.emitter.emit("unhandledRejection", "no route");
    expect(p.exits).toEqual([CRASH_EXIT_CODE]);
    expect(p.written.join("")).toContain("no route");
  });

  test("in a real process: a stray rejection ends it loudly with the code", () => {
    const module = new URL("../../src/cli/crash.ts", import.meta.url).pathname;
    const script = `const { installCrashHandlers } = await import(${JSON.stringify(module)});
      installCrashHandlers(process, (t) => process.stderr.write(t));
      setTimeout(() => process.stdout.write("still running\\n"), 200);
      Promise.reject(new Error("boom in forwarding"));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(r.status).toBe(CRASH_EXIT_CODE);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Error: boom in forwarding");
    expect(r.stderr).toContain("unhandled promise rejection; exiting");
  });
});

// Running short commands (ip, iptables, openssl, curl) and reporting failures with
// the command line and its stderr, which is what one needs to debug a broken lab.
import { execFile } from "node:child_process";
import { LabError } from "./errors.js";

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  cwd?: string;
}

/** Runs a command to completion; never throws, the exit code is in the result. */
export function tryExec(
  cmd: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 64 * 1024 * 1024,
        cwd: options.cwd,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        const reason = error && typeof error.code !== "number" ? `${error.message}\n` : "";
        resolve({ stdout, stderr: reason + stderr, code });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a command and throws LAB_COMMAND_FAILED with its stderr when it exits non-zero. */
export async function exec(cmd: string, args: readonly string[], options: ExecOptions = {}): Promise<string> {
  const r = await tryExec(cmd, args, options);
  if (r.code !== 0) {
    const shown = [cmd, ...args].join(" ");
    throw new LabError(
      "LAB_COMMAND_FAILED",
      `\`${shown.length > 300 ? `${shown.slice(0, 300)}...` : shown}\` exited ${r.code}: ${r.stderr.trim()}`,
    );
  }
  return r.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined, or throws LAB_TIMEOUT. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : "";
      throw new LabError("LAB_TIMEOUT", `timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Checks `check` again and again for `durationMs` (the opposite of waitFor: a promise that must
 * hold the whole time, such as "the address keeps answering during the outage"). `check`
 * throws (an assertion) to fail; the number of rounds is returned so a caller can tell that
 * the checks really ran.
 */
export async function holdsFor(
  durationMs: number,
  check: () => Promise<void>,
  intervalMs = 100,
): Promise<number> {
  const deadline = Date.now() + durationMs;
  let rounds = 0;
  do {
    await check();
    rounds++;
    if (Date.now() < deadline) await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  } while (Date.now() < deadline);
  return rounds;
}

/**
 * Promise.all that waits for every branch to finish before rejecting, so a failed
 * start does not leave branches still creating things while the lab is removed.
 */
export async function settleAll<T extends readonly unknown[]>(
  promises: { [K in keyof T]: Promise<T[K]> },
): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

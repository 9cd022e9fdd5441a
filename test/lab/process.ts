// Long-lived processes of the lab (etcd, the API server, kube-proxy, echo servers,
// whatever a test starts in a node). Each one runs in its own process group with its
// output in a log file, so it outlives `npm run lab:up`, and stopping it also stops
// anything it forked (socat's per-connection children, for example).
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { LabError } from "./errors.js";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LabProcess {
  readonly name: string;
  readonly pid: number;
  /** File holding the process's stdout and stderr. */
  readonly logPath: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  /** True until the process has exited. */
  running(): boolean;
  /** Sends a signal to the process group; a no-op once it has exited. */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5000); resolves once it has exited. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** SIGKILL; resolves once it has exited. */
  kill(): Promise<ExitInfo>;
  /** Everything it has written so far. */
  output(): string;
}

export interface SpawnSpec {
  name: string;
  /** Network namespace to run in; undefined runs in the caller's namespace. */
  netns?: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  logPath: string;
}

export function spawnLabProcess(spec: SpawnSpec): LabProcess {
  const [cmd, args] = spec.netns
    ? ["ip", ["netns", "exec", spec.netns, spec.command, ...spec.args]]
    : [spec.command, [...spec.args]];
  const log = openSync(spec.logPath, "a");
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(cmd, args, {
      detached: true,
      stdio: ["ignore", log, log],
      env: spec.env ?? process.env,
    });
  } finally {
    closeSync(log);
  }
  const pid = child.pid;
  if (pid === undefined) {
    throw new LabError("LAB_PROCESS_FAILED", `could not start ${spec.name} (${spec.command})`);
  }
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once("error", () => {
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
    });
  });
  // The lab must not keep a test process (or `lab:up`) alive by itself.
  child.unref();
  const signal = (sig: NodeJS.Signals) => {
    if (exitInfo) return;
    killGroup(pid, sig);
  };
  const stop = async (graceMs = 5000): Promise<ExitInfo> => {
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
      // Children it forked may still hold the group.
      killGroup(pid, "SIGKILL");
    }
  };
  return {
    name: spec.name,
    pid,
    logPath: spec.logPath,
    exited,
    running: () => exitInfo === undefined,
    signal,
    stop,
    // SIGKILL at once: a SIGTERM first would let the process run its shutdown handler.
    kill: async () => {
      signal("SIGKILL");
      const info = await exited;
      killGroup(pid, "SIGKILL");
      return info;
    },
    output: () => readFileSync(spec.logPath, "utf8"),
  };
}

/** Signals a process group, ignoring "no such process". */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Waits until the log of `p` contains `text`, failing early if the process exits. */
export async function waitForOutput(p: LabProcess, text: string | RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const found = () => {
    const out = p.output();
    return typeof text === "string" ? out.includes(text) : text.test(out);
  };
  while (!found()) {
    if (!p.running()) {
      throw new LabError("LAB_PROCESS_FAILED", `${p.name} exited before it was ready; log: ${tail(p)}`);
    }
    if (Date.now() > deadline) {
      throw new LabError("LAB_TIMEOUT", `${p.name} not ready after ${timeoutMs} ms; log: ${tail(p)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function tail(p: LabProcess): string {
  const lines = p.output().trimEnd().split("\n");
  return `${p.logPath}\n${lines.slice(-15).join("\n")}`;
}

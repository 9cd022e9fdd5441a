// A rejection nobody handled or an exception nobody caught leaves the process in a state no
// one reasoned about: say so on stderr with the stack and end with a non-zero code, so the
// kubelet restarts the Pod and the reason is in its previous log. Never silently.

/** The parts of `process` used here (a test passes an EventEmitter). */
export interface CrashProcess {
  on(event: "unhandledRejection", listener: (reason: unknown) => void): unknown;
  on(event: "uncaughtException", listener: (error: Error) => void): unknown;
  exit(code: number): void;
}

/** Exit code of a process ended by an unhandled rejection or an uncaught exception. */
export const CRASH_EXIT_CODE = 70;

function describe(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return String(e);
}

export function installCrashHandlers(proc: CrashProcess, write: (text: string) => void): void {
  const crash = (what: string, e: unknown) => {
    try {
      // One JSON line, as pino writes them, so log collectors keep it with the rest.
      const line = {
        level: 60,
        time: Date.now(),
        code: "HERALD_CRASH",
        msg: `${what}; exiting`,
        err: describe(e),
      };
      write(`${JSON.stringify(line)}\n`);
    } finally {
      proc.exit(CRASH_EXIT_CODE);
    }
  };
  proc.on("unhandledRejection", (reason) => crash("unhandled promise rejection", reason));
  proc.on("uncaughtException", (error) => crash("uncaught exception", error));
}

// Running the node's commands (nft, conntrack, ip, chrt) without stopping the event loop.
//
// Starting a child process is not asynchronous all the way: libuv forks and then waits, in the
// calling thread, until the child has called exec. On a busy node the child (normal priority)
// can wait hundreds of milliseconds for a CPU before it gets there, and all that time the
// speaker's event loop sends no heartbeat and answers no ARP. The lab saw 200-310 ms waits
// (`strace -T`: `read(fd, "", 4) = 0 <0.313>` right after a clone). So the speaker starts its
// commands from a worker thread of its own (command-worker.ts), which waits in its place. The
// worker runs at normal priority: threads started after the main thread was raised to SCHED_RR
// (cpu-priority.ts, with reset-on-fork) do not inherit it.
import { spawn } from "node:child_process";
import type { Worker } from "node:worker_threads";
import { startWorker } from "../audit/worker-thread.js";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file` with these arguments and this standard input; never rejects (a failure to start is code 127). */
export type RunCommand = (file: string, args: readonly string[], stdin?: string) => Promise<ExecResult>;

/** Starts the command from the calling thread (tests, and the worker itself). */
export const spawnCommand: RunCommand = (file, args, stdin) =>
  new Promise((resolve) => {
    const child = spawn(file, [...args], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => resolve({ code: 127, stdout: "", stderr: e.message }));
    child.on("close", (code) =>
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
    child.stdin.on("error", () => {});
    child.stdin.end(stdin ?? "");
  });

/** What the worker is asked, and what it answers. */
export interface CommandRequest {
  id: number;
  file: string;
  args: readonly string[];
  stdin?: string;
}
export interface CommandReply extends ExecResult {
  id: number;
}

/**
 * Commands started from a worker thread. A worker that dies answers its pending commands with
 * code 127 and the reason, and the next command starts a new one. `close` stops it.
 */
export class CommandWorker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, (r: ExecResult) => void>();

  readonly run: RunCommand = (file, args, stdin) =>
    new Promise((resolve) => {
      const id = this.nextId++;
      this.pending.set(id, resolve);
      const worker = this.started();
      worker.ref(); // a command in flight keeps the process alive, as a child process would
      const request: CommandRequest = {
        id,
        file,
        args: [...args],
        ...(stdin !== undefined ? { stdin } : {}),
      };
      worker.postMessage(request);
    });

  /** Commands started and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    this.failAll("the command worker was stopped");
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const w = startWorker(new URL("./command-worker.js", import.meta.url));
    w.on("message", (reply: CommandReply) => {
      const done = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) w.unref(); // idle, it keeps nothing alive
      done?.({ code: reply.code, stdout: reply.stdout, stderr: reply.stderr });
    });
    const lost = (why: string) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.failAll(why);
    };
    w.on("error", (e) => lost(`the command worker failed: ${e.message}`));
    w.on("exit", (code) => lost(`the command worker exited (${code})`));
    this.worker = w;
    return w;
  }

  private failAll(why: string): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const done of waiting) done({ code: 127, stdout: "", stderr: why });
  }
}

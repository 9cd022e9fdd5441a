// Two network namespaces joined by a veth, for the soak probes' root tests: a client side (where
// the probes run, as in the lab) and a peer. Names carry the owning process's pid, so a run that
// crashed before its afterAll is recognised (its pid is gone) and removed by the next run, while
// another run's live namespaces are left alone.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { waitFor } from "../lab/exec.js";

const PREFIX = "heraldsoak-";

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Namespaces `heraldsoak-<pid>-...` whose pid is gone: their processes killed, then deleted. */
export function removeStale(): void {
  for (const line of ip("netns", "list").split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const pid = Number(name.slice(PREFIX.length).split("-")[0]);
    if (!name.startsWith(PREFIX) || !(pid > 0) || alive(pid)) continue;
    removeNamespace(name);
  }
}

function removeNamespace(name: string): void {
  try {
    for (const p of ip("netns", "pids", name).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(p), "SIGKILL");
      } catch {
        // Gone already.
      }
    }
    ip("netns", "delete", name);
  } catch {
    // Gone already.
  }
}

export class NetnsPair {
  readonly id = randomBytes(3).toString("hex");
  readonly client = `${PREFIX}${process.pid}-${this.id}-cli`;
  readonly peer = `${PREFIX}${process.pid}-${this.id}-peer`;
  readonly clientIf = `sk${this.id}c`;
  readonly peerIf = `sk${this.id}p`;
  private readonly children: Child[] = [];

  /** Both namespaces, the veth up, and the given addresses (IPv6 with nodad: usable at once). */
  create(clientAddresses: string[], peerAddresses: string[]): void {
    removeStale();
    ip("netns", "add", this.client);
    ip("netns", "add", this.peer);
    ip(
      "link",
      "add",
      this.clientIf,
      "netns",
      this.client,
      "type",
      "veth",
      "peer",
      "name",
      this.peerIf,
      "netns",
      this.peer,
    );
    for (const [ns, dev, addresses] of [
      [this.client, this.clientIf, clientAddresses],
      [this.peer, this.peerIf, peerAddresses],
    ] as const) {
      this.exec(ns, "ip", "link", "set", "lo", "up");
      this.exec(ns, "ip", "link", "set", dev, "up");
      for (const a of addresses) {
        this.exec(ns, "ip", "addr", "add", a, "dev", dev, ...(a.includes(":") ? ["nodad"] : []));
      }
    }
  }

  exec(ns: string, command: string, ...args: string[]): string {
    return execFileSync("ip", ["netns", "exec", ns, command, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 20_000,
    });
  }

  mac(ns: string, dev: string): string {
    return this.exec(ns, "cat", `/sys/class/net/${dev}/address`).trim().toLowerCase();
  }

  /** A compiled script of this tree (dist/...) run with node inside `ns`. */
  node(ns: string, script: string, ...args: string[]): Child {
    const child = new Child(
      spawn("ip", ["netns", "exec", ns, process.execPath, join(process.cwd(), script), ...args], {
        stdio: ["pipe", "pipe", "pipe"],
      }),
    );
    this.children.push(child);
    return child;
  }

  /** Every child killed, both namespaces deleted; safe to call twice and after a failed create. */
  async remove(): Promise<void> {
    for (const c of this.children) await c.kill();
    removeNamespace(this.client);
    removeNamespace(this.peer);
  }
}

/** A child process read line by line. */
export class Child {
  readonly lines: string[] = [];
  stderr = "";
  readonly exited: Promise<number | null>;

  constructor(readonly process: ChildProcess) {
    this.exited = once(process, "exit").then(([code]) => code as number | null);
    createInterface({ input: process.stdout as NodeJS.ReadableStream }).on("line", (l) => this.lines.push(l));
    process.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  write(line: string): void {
    this.process.stdin?.write(`${line}\n`);
  }

  /** The JSON lines printed so far (other lines skipped). */
  json<T>(): T[] {
    return this.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as T);
  }

  /** Polls until `pick` finds something in the output; fails if the child exits first. */
  until<T>(what: string, pick: (c: Child) => T | undefined, timeoutMs = 15_000): Promise<T> {
    return waitFor(
      what,
      async () => {
        const v = pick(this);
        if (v === undefined && !this.running) throw new Error(`exited: ${this.stderr}`);
        return v;
      },
      timeoutMs,
      20,
    );
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.running) this.process.kill(signal);
    return this.exited;
  }

  async kill(): Promise<void> {
    if (this.running) this.process.kill("SIGKILL");
    await this.exited;
  }
}

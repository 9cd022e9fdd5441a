// The respond fixture as a child process inside a network namespace, for root tests.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";

const root = process.cwd();

/** The fixture runs as plain JavaScript in its own process: compile the tree first. */
export function compileTree(): void {
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], {
    cwd: root,
  });
}

export class SpeakerProcess {
  readonly lines: string[] = [];
  mac = "";
  private child: ChildProcess | undefined;
  private waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];

  /** `fixture`: a file name in test/speaker/l2/fixtures, without extension. */
  constructor(
    private readonly ns: string,
    private readonly args: string[],
    private readonly fixture = "respond",
  ) {}

  async start(): Promise<void> {
    const script = join(root, `dist/test/speaker/l2/fixtures/${this.fixture}.js`);
    const child = spawn("ip", ["netns", "exec", this.ns, process.execPath, script, ...this.args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.child = child;
    createInterface({ input: child.stdout }).on("line", (l) => {
      this.lines.push(l);
      for (const w of this.waiters.filter((x) => x.match(l))) w.resolve(l);
      this.waiters = this.waiters.filter((x) => !x.match(l));
    });
    this.mac = (await this.waitFor((l) => l.startsWith("ready"))).slice("ready ".length);
  }

  waitFor(match: (line: string) => boolean): Promise<string> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** SIGTERM: the fixture prints a JSON line (its counters), which is returned. */
  async stop(): Promise<Record<string, unknown>> {
    const child = this.child;
    if (!child || child.exitCode !== null) return {};
    child.kill("SIGTERM");
    await once(child, "exit");
    return JSON.parse(this.lines.find((l) => l.startsWith("{")) ?? "{}");
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await once(child, "exit");
  }
}

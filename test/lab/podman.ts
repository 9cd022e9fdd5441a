// podman as the lab runs it: the image store that scripts/image.sh builds into, runc, no systemd,
// and containers named after the lab run, so the lab's cleanup removes them also after a crash.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exec, tryExec } from "./exec.js";
import { prefixOfNamespace } from "./plan.js";
import type { ExitInfo, LabProcess } from "./process.js";

const REPO = (() => {
  let dir = fileURLToPath(new URL(".", import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

let storage: string[] | undefined;
/** The image store scripts/image.sh builds into (its own root, vfs), so podman sees the image. */
export function storageFlags(): string[] {
  storage ??= execFileSync(join(REPO, "scripts", "image.sh"), ["--storage-flags"], { encoding: "utf8" })
    .trim()
    .split("\n");
  return storage;
}

/** What the machine forces on every container: no CAP_SYS_RESOURCE for podman's higher defaults. */
export const MACHINE_ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

/** The image to run: $HERALD_IMAGE, else what scripts/image.sh builds (cached layers). */
export function builtImage(): string {
  if (process.env.HERALD_IMAGE) return process.env.HERALD_IMAGE;
  const out = execFileSync(join(REPO, "scripts", "image.sh"), {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return out.trim().split("\n").pop() as string;
}

/** podman with the image store, runc (crun refuses this kernel's hybrid cgroups) and no systemd. */
export function podmanArgs(args: readonly string[]): string[] {
  return [
    ...storageFlags(),
    "--runtime",
    "runc",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
    ...args,
  ];
}

export function podman(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return exec("podman", podmanArgs(args), { timeoutMs });
}

/** Names of the containers that labs made (`hlab<hex>-...`), with the run prefix of each. */
async function labContainers(): Promise<{ name: string; prefix: string }[]> {
  if ((await tryExec("sh", ["-c", "command -v podman"])).code !== 0) return [];
  const list = await tryExec("podman", podmanArgs(["ps", "-a", "--format", "{{.Names}}"]));
  return list.stdout
    .split("\n")
    .map((name) => ({ name, prefix: prefixOfNamespace(name) ?? "" }))
    .filter((c) => c.prefix !== "");
}

async function removeNamed(names: string[]): Promise<void> {
  // Removing a container deletes its root filesystem: minutes on a loaded machine with vfs.
  if (names.length > 0) {
    await tryExec("podman", podmanArgs(["rm", "--force", "--time", "0", ...names]), { timeoutMs: 300_000 });
  }
}

/** Removes every container of the lab run `prefix` (also those a crashed run left). */
export async function removeContainers(prefix: string): Promise<void> {
  await removeNamed((await labContainers()).filter((c) => c.prefix === prefix).map((c) => c.name));
}

/** Removes containers of lab runs that no longer exist (their namespaces and run directory gone). */
export async function removeOrphanContainers(livePrefixes: ReadonlySet<string>): Promise<string[]> {
  const orphans = (await labContainers()).filter((c) => !livePrefixes.has(c.prefix));
  await removeNamed(orphans.map((c) => c.name));
  return [...new Set(orphans.map((c) => c.prefix))];
}

/** A container as a LabProcess: stop is `podman stop -t`, the exit code is podman's. */
export class ContainerProcess implements LabProcess {
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;

  constructor(
    readonly name: string,
    readonly pid: number,
    readonly logPath: string,
  ) {
    this.exited = new Promise((resolve) => {
      const waiter = execFile("podman", podmanArgs(["wait", name]), { encoding: "utf8" }, (error, stdout) => {
        const code = error ? null : Number(stdout.trim());
        this.exitInfo = { code: Number.isInteger(code) ? code : null, signal: null };
        resolve(this.exitInfo);
      });
      waiter.unref();
    });
  }

  running(): boolean {
    return this.exitInfo === undefined;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.exitInfo) return;
    void tryExec("podman", podmanArgs(["kill", "--signal", signal, this.name]));
  }

  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    await tryExec("podman", podmanArgs(["stop", "--time", String(Math.ceil(graceMs / 1000)), this.name]), {
      timeoutMs: graceMs + 30_000,
    });
    return this.exited;
  }

  async kill(): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    await tryExec("podman", podmanArgs(["kill", "--signal", "KILL", this.name]));
    return this.exited;
  }

  output(): string {
    try {
      return readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }
}

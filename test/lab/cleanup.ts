// Finding and removing labs: the one being stopped, and those a crashed run left
// behind. A lab is its namespaces (all named `<prefix>-...`), the processes inside
// them, the few processes in the root namespace listed in its state file, and its
// run directory. Removing is idempotent and never touches anything without a lab prefix.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exec, sleep, tryExec } from "./exec.js";
import { prefixOfNamespace } from "./plan.js";
import { removeContainers, removeOrphanContainers } from "./podman.js";
import { killGroup } from "./process.js";

/** Where labs keep their run directories (`<root>/<prefix>/`). */
export function defaultStateRoot(): string {
  return process.env.HERALD_LAB_DIR ?? join(tmpdir(), "herald-lab");
}

/** What a lab writes to `<root>/<prefix>/state.json` before it creates anything. */
export interface LabState {
  prefix: string;
  dir: string;
  /** The process that owns the lab; when it is gone, the lab is stale (unless persistent). */
  ownerPid: number;
  /** Made by `lab:up`: stays until `lab:down`. */
  persistent: boolean;
  createdAt: string;
  /** Process groups in the root namespace (the API forwarder). */
  rootPids: number[];
  ready: boolean;
  [more: string]: unknown;
}

export function readState(dir: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as LabState;
  } catch {
    return undefined;
  }
}

export async function listNetns(): Promise<string[]> {
  const out = await exec("ip", ["netns", "list"]);
  return out
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n !== "");
}

export interface FoundLab {
  prefix: string;
  state: LabState | undefined;
  namespaces: string[];
}

/** Every lab on this machine, from run directories and namespace names. */
export async function findLabs(stateRoot = defaultStateRoot()): Promise<FoundLab[]> {
  const labs = new Map<string, FoundLab>();
  const get = (prefix: string) => {
    let lab = labs.get(prefix);
    if (!lab) {
      lab = { prefix, state: readState(join(stateRoot, prefix)), namespaces: [] };
      labs.set(prefix, lab);
    }
    return lab;
  };
  for (const ns of await listNetns()) {
    const prefix = prefixOfNamespace(ns);
    if (prefix) get(prefix).namespaces.push(ns);
  }
  if (existsSync(stateRoot)) {
    for (const entry of readdirSync(stateRoot)) {
      if (prefixOfNamespace(`${entry}-`) === entry) get(entry);
    }
  }
  return [...labs.values()];
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A lab whose owner is gone and that `lab:up` did not make: a crashed run. */
export function isStale(lab: FoundLab): boolean {
  if (!lab.state) return true;
  if (lab.state.persistent) return false;
  return !alive(lab.state.ownerPid);
}

/** Kills every process of the lab and deletes its namespaces and run directory. */
export async function removeLab(prefix: string, stateRoot = defaultStateRoot()): Promise<void> {
  const dir = join(stateRoot, prefix);
  const state = readState(dir);
  for (const pid of state?.rootPids ?? []) {
    // Only if it is still ours: its command line names the run directory.
    const cmdline = tryRead(`/proc/${pid}/cmdline`);
    if (cmdline?.includes(dir)) killGroup(pid, "SIGKILL");
  }
  // Containers first: podman's monitor runs outside the namespaces and would keep their records.
  await removeContainers(prefix);
  const namespaces = (await listNetns()).filter((ns) => prefixOfNamespace(ns) === prefix);
  const pids: number[] = [];
  for (const ns of namespaces) {
    const r = await tryExec("ip", ["netns", "pids", ns]);
    for (const p of r.stdout.split(/\s+/).filter(Boolean)) pids.push(Number(p));
  }
  for (const pid of pids) killGroup(pid, "SIGKILL");
  const deadline = Date.now() + 5000;
  while (pids.some(alive) && Date.now() < deadline) await sleep(20);
  for (const ns of namespaces) await tryExec("ip", ["netns", "delete", ns]);
  // File systems a run mounted in its directory (a soak's small audit disks), deepest first.
  for (const mount of mountsUnder(dir)) await tryExec("umount", ["-l", mount]);
  rmSync(dir, { recursive: true, force: true });
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mounts; octal escapes undone). */
export function mountsUnder(dir: string, mounts = tryRead("/proc/self/mounts") ?? ""): string[] {
  return mounts
    .split("\n")
    .map((line) =>
      (line.split(" ")[1] ?? "").replace(/\\([0-7]{3})/g, (_, o) =>
        String.fromCharCode(Number.parseInt(o, 8)),
      ),
    )
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Removes crashed labs; with `everything`, also `lab:up` labs and labs whose owner still runs. */
export async function removeLabs(
  options: { everything?: boolean; persistentToo?: boolean; stateRoot?: string } = {},
): Promise<string[]> {
  const stateRoot = options.stateRoot ?? defaultStateRoot();
  removeOldStagingDirs(stateRoot);
  const removed: string[] = [];
  const live = new Set<string>();
  for (const lab of await findLabs(stateRoot)) {
    const persistent = lab.state?.persistent === true;
    if (options.everything || isStale(lab) || (persistent && options.persistentToo)) {
      await removeLab(lab.prefix, stateRoot);
      removed.push(lab.prefix);
    } else live.add(lab.prefix);
  }
  // A run whose namespaces are gone may still have left containers behind.
  removed.push(...(await removeOrphanContainers(live)).filter((p) => !removed.includes(p)));
  return removed;
}

/** A start that crashed within its first milliseconds leaves `.<prefix>`, a run directory never renamed. */
function removeOldStagingDirs(stateRoot: string): void {
  if (!existsSync(stateRoot)) return;
  for (const entry of readdirSync(stateRoot)) {
    const path = join(stateRoot, entry);
    const prefix = entry.slice(1);
    if (entry.startsWith(".") && prefixOfNamespace(`${prefix}-`) === prefix) {
      if (Date.now() - statSync(path).mtimeMs > 60_000) rmSync(path, { recursive: true, force: true });
    }
  }
}

function tryRead(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

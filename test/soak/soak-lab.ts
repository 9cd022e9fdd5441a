// The lab a soak runs in: three dual-stack nodes, two controllers (one leads), a speaker per
// node, every component's audit directory on a small tmpfs of its own (so "disk full" is a
// real ENOSPC), a foreign host on the LAN that can claim addresses, and the Pods and Services
// the schedule starts with. Components start from HERALD_LAB_MAIN when it is set (a broken
// build), like every lab helper.
import { closeSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Rest } from "../../src/k8s/rest.js";
import {
  apiOf,
  applyPool,
  eventually,
  installCrds,
  leading,
  type RunningController,
  startController,
} from "../controller/lab-controller.js";
import { exec } from "../lab/exec.js";
import { startLab } from "../lab/fixture.js";
import type { Lab, LabProcess } from "../lab/lab.js";
import { addHost } from "../lab/network.js";
import { macOf, speakerState, startSpeaker, writeHeartbeatKey } from "../speaker/lab-speaker.js";
import type { ResourceSample } from "./model.js";

export const POOL = "soak";
export const L2ADVERTISEMENT = "soak";
const CONTROLLERS = [
  { name: "controller-0", port: 7472 },
  { name: "controller-1", port: 7474 },
] as const;
/** Each audit directory's tmpfs: room for hours of soak events, small enough to fill at once. */
const AUDIT_TMPFS = "size=32m";
const FOREIGN = { v4: "192.0.2.66", v6: "2001:db8::66" };

export interface SoakLab {
  lab: Lab;
  api: Rest;
  nodes: string[];
  macs: Record<string, string>;
  foreignNetns: string;
  foreignMac: string;
  speakers: Map<string, LabProcess>;
  controllers: Map<string, RunningController>;
  /** Every component's audit directory, by component name ("controller-0", "speaker-node-1"). */
  auditDirs: Map<string, string>;
  startSpeaker(node: string): Promise<void>;
  startController(name: string): Promise<void>;
  /** The controller whose replica holds the leader Lease, if the API server says. */
  leader(): Promise<string | undefined>;
  /** RSS and open descriptors of every running component. */
  sampleResources(): ResourceSample[];
  /** Fills every audit tmpfs to the last byte; returns how to free it again. */
  fillAuditDisks(): () => void;
  stop(): Promise<void>;
}

export async function startSoakLab(o: { poolRanges: string[] }): Promise<SoakLab> {
  const lab = await startLab({ nodes: 3, dualStack: true });
  try {
    return await setUp(lab, o.poolRanges);
  } catch (error) {
    await lab.stop();
    throw error;
  }
}

async function setUp(lab: Lab, poolRanges: string[]): Promise<SoakLab> {
  const api = apiOf(lab);
  await installCrds(lab);
  const keyFile = writeHeartbeatKey(lab);
  await applyPool(api, POOL, { addresses: poolRanges });
  await lab.kubectlRun(["apply", "-f", "-"], {
    input: `apiVersion: herald.dev/v1alpha1\nkind: L2Advertisement\nmetadata:\n  name: ${L2ADVERTISEMENT}\nspec:\n  ipAddressPools: [${POOL}]\n`,
  });
  const nodes = lab.nodes.map((n) => n.name);
  const macs: Record<string, string> = {};
  for (const node of nodes) macs[node] = await macOf(lab, node);
  // The foreign host's namespace carries the lab's prefix: the lab's cleanup removes it.
  const foreignNetns = `${lab.prefix}-foreign`;
  await addHost({
    labNetns: lab.labNetns,
    netns: foreignNetns,
    bridgePort: "foreign",
    v4: FOREIGN.v4,
    v6: FOREIGN.v6,
    router: false,
  });
  const foreignMac = (await exec("ip", ["netns", "exec", foreignNetns, "cat", "/sys/class/net/eth0/address"]))
    .trim()
    .toLowerCase();

  const auditDirs = new Map<string, string>();
  for (const c of CONTROLLERS) auditDirs.set(c.name, join(lab.dir, `audit-${c.name}`));
  for (const node of nodes) auditDirs.set(`speaker-${node}`, join(lab.dir, `audit-${node}`));
  for (const dir of auditDirs.values()) {
    await mkdir(dir, { recursive: true });
    await exec("mount", ["-t", "tmpfs", "-o", AUDIT_TMPFS, "tmpfs", dir]);
  }

  const speakers = new Map<string, LabProcess>();
  const controllers = new Map<string, RunningController>();
  const s: SoakLab = {
    lab,
    api,
    nodes,
    macs,
    foreignNetns,
    foreignMac,
    speakers,
    controllers,
    auditDirs,
    async startSpeaker(node) {
      if (speakers.get(node)?.running()) return;
      const p = startSpeaker(lab, node, keyFile);
      speakers.set(node, p);
      await eventually(
        `speaker on ${node} ready`,
        async () => (await speakerState(lab, node).catch(() => undefined))?.node === node,
        30_000,
      ).catch((error: Error) => {
        // The run directory may go with the lab: say here what the speaker said last.
        throw new Error(`${error.message}; its last output:\n${p.output().slice(-3000)}`);
      });
    },
    async startController(name) {
      if (controllers.get(name)?.proc.running()) return;
      const port = CONTROLLERS.find((c) => c.name === name)?.port;
      if (port === undefined) throw new Error(`no controller ${name}`);
      const c = startController(lab, name, port);
      controllers.set(name, c);
      await eventually(`${name} serving`, async () => (await c.state().catch(() => undefined)) !== undefined);
    },
    async leader() {
      const lease = await api
        .request<{ spec?: { holderIdentity?: string } }>(
          "GET",
          "/apis/coordination.k8s.io/v1/namespaces/herald-system/leases/herald-controller",
        )
        .catch(() => undefined);
      const holder = lease?.spec?.holderIdentity;
      return holder && controllers.has(holder) ? holder : undefined;
    },
    sampleResources() {
      const out: ResourceSample[] = [];
      const add = (component: string, p: LabProcess | undefined) => {
        if (!p?.running()) return;
        const sample = processSample(component, p.pid);
        if (sample) out.push(sample);
      };
      for (const [name, c] of controllers) add(name, c.proc);
      for (const [node, p] of speakers) add(`speaker-${node}`, p);
      return out;
    },
    fillAuditDisks() {
      const fillers = [...auditDirs.values()].map((dir) => fill(join(dir, "soak-filler")));
      return () => {
        for (const f of fillers) rmSync(f, { force: true });
      };
    },
    async stop() {
      // Graceful: every audit log seals its journal into Parquet before its process exits.
      await Promise.all([
        ...[...speakers.values()].map((p) => p.stop(10_000)),
        ...[...controllers.values()].map((c) => c.proc.stop(10_000)),
      ]);
    },
  };
  for (const c of CONTROLLERS) await s.startController(c.name);
  await eventually("a controller leading", async () => {
    for (const c of controllers.values()) if (await leading(c)) return true;
    return undefined;
  });
  await Promise.all(nodes.map((n) => s.startSpeaker(n)));
  return s;
}

/** Writes zeros to `path` until the file system refuses (ENOSPC); returns the path. */
function fill(path: string): string {
  const chunk = Buffer.alloc(1 << 20);
  const fd = openSync(path, "w");
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
    // The last partial chunk: fill the remaining bytes too.
    for (let size = chunk.length >> 1; size >= 1; size >>= 1) {
      try {
        writeSync(fd, chunk, 0, size);
      } catch {
        /* smaller next */
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** A process's resident memory (VmRSS) and count of open descriptors, from /proc. */
export function processSample(component: string, pid: number): ResourceSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return Number.isFinite(kb) ? { component, pid, rssBytes: kb * 1024, fds } : undefined;
  } catch {
    return undefined;
  }
}

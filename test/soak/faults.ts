// A soak's faults, put in and taken back for real: signals to the components, the node's
// bridge port down, an nftables drop of the heartbeat port, the API server stopped, a foreign
// host holding and announcing an address, every audit disk filled.
import { join } from "node:path";
import { REPO } from "../controller/lab-controller.js";
import { exec, tryExec } from "../lab/exec.js";
import type { LabProcess } from "../lab/lab.js";
import { waitForOutput } from "../lab/process.js";
import type { FaultRecord, ScheduledFault } from "./model.js";
import type { SoakLab } from "./soak-lab.js";

const HEARTBEAT_PORT = 7946;
/** Gratuitous ARPs a second from the foreign host, besides its kernel answering requests. */
const CLAIM_PER_SECOND = 5;
const BLOCK_TABLE = "soak_heartbeat_block";
const AFTER_THE_COMMAND = new Set(["linkCut", "heartbeatBlock", "diskFull"]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Puts the fault in, keeps it for its duration, takes it back; never throws. */
export async function runFault(
  s: SoakLab,
  f: ScheduledFault,
  o: { now: () => number; heldAddresses: () => string[] },
): Promise<FaultRecord> {
  const record: FaultRecord = { kind: f.fault.kind, startMs: o.now() };
  if ("node" in f.fault) record.node = f.fault.node;
  if ("inboundOnly" in f.fault && f.fault.inboundOnly) record.inboundOnly = true;
  try {
    const undo = await putIn(s, f, record, o.heldAddresses);
    if (!undo) return record;
    // A signal acts when sent; a command (nft, ip, a filled disk) somewhere between being
    // started and returning, which on a loaded machine can be most of a second apart.
    if (AFTER_THE_COMMAND.has(f.fault.kind)) record.appliedMs = o.now();
    await sleep(f.durationMs);
    await undo();
    record.endMs = o.now();
  } catch (error) {
    record.skipped = `failed: ${String((error as Error).message ?? error).slice(0, 300)}`;
    record.endMs ??= o.now();
  }
  return record;
}

type Undo = () => Promise<void>;

async function putIn(
  s: SoakLab,
  f: ScheduledFault,
  record: FaultRecord,
  heldAddresses: () => string[],
): Promise<Undo | undefined> {
  const fault = f.fault;
  switch (fault.kind) {
    case "speakerKill":
    case "speakerTerm": {
      const p = s.speakers.get(fault.node);
      if (!p?.running()) return skip(record, `speaker on ${fault.node} not running`);
      if (fault.kind === "speakerKill") await p.kill();
      else await p.stop(10_000);
      return () => s.startSpeaker(fault.node);
    }
    case "controllerKill":
    case "controllerStop": {
      const name = await s.leader();
      const c = name ? s.controllers.get(name) : undefined;
      if (!name || !c?.proc.running()) return skip(record, "no controller leads");
      record.controller = name;
      if (fault.kind === "controllerKill") {
        await c.proc.kill();
        return () => s.startController(name);
      }
      c.proc.signal("SIGSTOP");
      return async () => c.proc.signal("SIGCONT");
    }
    case "linkCut":
      await s.lab.cutLink(fault.node);
      return () => s.lab.restoreLink(fault.node);
    case "heartbeatBlock": {
      const ns = s.lab.netnsOf(fault.node);
      const drop = [`    udp dport ${HEARTBEAT_PORT} drop`, `    udp sport ${HEARTBEAT_PORT} drop`];
      const chain = (name: string, hook: string) => [
        `  chain ${name} {`,
        `    type filter hook ${hook} priority -300; policy accept;`,
        ...drop,
        "  }",
      ];
      const rules = [
        `table inet ${BLOCK_TABLE} {`,
        ...chain("in", "input"),
        ...(fault.inboundOnly ? [] : chain("out", "output")),
        "}",
      ].join("\n");
      await exec("ip", ["netns", "exec", ns, "nft", "-f", "-"], { input: rules });
      return async () => {
        await exec("ip", ["netns", "exec", ns, "nft", "delete", "table", "inet", BLOCK_TABLE]);
      };
    }
    case "apiServerStop":
      // Killed: on SIGTERM kube-apiserver 1.20 went on serving the speakers' watches until stop()
      // gave up after 10 s and killed it anyway, so the outage began 10 s after its stamp and the
      // fault lane fell that much behind its schedule.
      await s.lab.stopApiServer({ kill: true });
      return () => s.lab.startApiServer();
    case "foreignClaim": {
      const held = [...heldAddresses()].sort();
      const address = held[Math.floor(fault.pick * held.length)];
      if (!address) return skip(record, "no address is held");
      record.address = address;
      return claim(s, address);
    }
    case "diskFull": {
      const free = s.fillAuditDisks();
      return async () => free();
    }
  }
}

function skip(record: FaultRecord, why: string): undefined {
  record.skipped = why;
  record.endMs = record.startMs;
  return undefined;
}

/**
 * A foreign host takes the address: its kernel holds it (so it answers ARP requests and
 * neighbour solicitations as a misconfigured server would) and it sends gratuitous ARPs.
 */
async function claim(s: SoakLab, address: string): Promise<Undo> {
  const v6 = address.includes(":");
  const prefix = v6 ? "128" : "32";
  const ns = s.foreignNetns;
  await exec("ip", [
    "netns",
    "exec",
    ns,
    "ip",
    "addr",
    "add",
    `${address}/${prefix}`,
    "dev",
    "eth0",
    ...(v6 ? ["nodad"] : []),
  ]);
  let spoofer: LabProcess | undefined;
  if (!v6) {
    spoofer = s.lab.spawn("lab", {
      name: "foreign-claim",
      command: "ip",
      args: [
        "netns",
        "exec",
        ns,
        process.execPath,
        join(REPO, "dist/bench/claim-spoofer.js"),
        "eth0",
        address,
        s.foreignMac,
        `${CLAIM_PER_SECOND}`,
      ],
    });
    await waitForOutput(spoofer, "ready", 10_000);
  }
  return async () => {
    await spoofer?.stop(2000);
    await tryExec("ip", ["netns", "exec", ns, "ip", "addr", "del", `${address}/${prefix}`, "dev", "eth0"]);
  };
}

// How long starting a command stops the speaker's event loop, on a busy machine: the loop runs
// at SCHED_RR with reset-on-fork, as the speaker's does (cpu-priority.ts), CPU burners at normal
// priority keep every core busy, and `true` is started every 50 ms, once from the main thread
// (as the speaker did) and once through the command worker (commands.ts). A 10 ms timer measures
// how late the loop runs meanwhile. Both modes run in the same process, one after the other.
// Run as root: npm run bench:command-stall   (prints JSON, then one summary line)
import { spawn } from "node:child_process";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { CommandWorker, type RunCommand, spawnCommand } from "../src/speaker/commands.js";
import { raiseToRealtime } from "../src/speaker/cpu-priority.js";
import { percentile } from "./percentile.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BURNERS = Number(process.env.BENCH_BURNERS ?? cpus().length * 2);

async function measure(run: RunCommand): Promise<{ commands: number; lateMs: Record<string, number> }> {
  const late: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    late.push(now - last - 10);
    last = now;
  }, 10);
  const end = performance.now() + SECONDS * 1000;
  let commands = 0;
  while (performance.now() < end) {
    const r = await run("true", []);
    if (r.code !== 0) throw new Error(`true exited ${r.code}: ${r.stderr}`);
    commands++;
    await sleep(50);
  }
  clearInterval(timer);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    commands,
    lateMs: {
      p50: round(percentile(late, 50)),
      p99: round(percentile(late, 99)),
      max: round(Math.max(...late)),
    },
  };
}

const burners = Array.from({ length: BURNERS }, () =>
  spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }),
);
try {
  const worker = new CommandWorker();
  // The worker thread starts before the loop is raised, as in the speaker.
  const priority = await raiseToRealtime(worker.run, process.pid, 10);
  if (!priority.raised) throw new Error(`chrt refused (${JSON.stringify(priority)}): run as root`);
  await sleep(500);
  const mainThread = await measure(spawnCommand);
  const commandWorker = await measure(worker.run);
  await worker.close();
  const result = { seconds: SECONDS, burners: BURNERS, cpus: cpus().length, mainThread, commandWorker };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `command-stall: loop late p99/max ${mainThread.lateMs.p99}/${mainThread.lateMs.max} ms starting from the main thread, ${commandWorker.lateMs.p99}/${commandWorker.lateMs.max} ms through the command worker (${BURNERS} burners, ${cpus().length} CPUs)`,
  );
} finally {
  for (const b of burners) b.kill("SIGKILL");
}

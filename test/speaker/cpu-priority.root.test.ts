// The real system call through chrt: the raised thread runs SCHED_RR, and what it starts
// afterwards runs at normal priority (reset-on-fork).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, expect, test } from "@jest/globals";
import { spawnCommand } from "../../src/speaker/commands.js";
import { raiseToRealtime } from "../../src/speaker/cpu-priority.js";
import { SCHED_OTHER, SCHED_RR, schedulingFromStat } from "./scheduling.js";

const children: number[] = [];
afterAll(() => {
  for (const pid of children) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
});

const scheduling = (pid: number) => schedulingFromStat(readFileSync(`/proc/${pid}/stat`, "utf8"));

test("a raised process runs SCHED_RR at the priority asked, and its later children do not", async () => {
  // The shell forks its second sleep after it was raised.
  const sh = spawn("sh", ["-c", "sleep 0.5; sleep 30"], { detached: true, stdio: "ignore" });
  const pid = sh.pid ?? 0;
  children.push(pid);
  const outcome = await raiseToRealtime(spawnCommand, pid, 7);
  expect(outcome).toEqual({ raised: true, priority: 7 });
  expect(scheduling(pid)).toEqual({ policy: SCHED_RR, rtPriority: 7 });
  await sleep(1_000);
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).map(Number);
  expect(kids).toHaveLength(1);
  expect(scheduling(kids[0] ?? 0)).toEqual({ policy: SCHED_OTHER, rtPriority: 0 });
});

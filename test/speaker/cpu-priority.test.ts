import { expect, test } from "@jest/globals";
import type { RunCommand } from "../../src/speaker/commands.js";
import { raiseToRealtime } from "../../src/speaker/cpu-priority.js";
import { SCHED_RR, schedulingFromStat } from "./scheduling.js";

function recorder(result: { code: number; stdout?: string; stderr?: string }) {
  const calls: [string, readonly string[]][] = [];
  const run: RunCommand = async (file, args) => {
    calls.push([file, args]);
    return { stdout: "", stderr: "", ...result };
  };
  return { calls, run };
}

test("raises only the given thread, to SCHED_RR, with reset-on-fork so children run normally", async () => {
  const { calls, run } = recorder({ code: 0 });
  expect(await raiseToRealtime(run, 4242, 10)).toEqual({ raised: true, priority: 10 });
  expect(calls).toEqual([["chrt", ["--rr", "--reset-on-fork", "--pid", "10", "4242"]]]);
});

test("a refusal (no CAP_SYS_NICE) is reported with chrt's words, not thrown", async () => {
  const { run } = recorder({
    code: 1,
    stderr: "chrt: failed to set pid 4242's policy: Operation not permitted\n",
  });
  expect(await raiseToRealtime(run, 4242, 10)).toEqual({
    raised: false,
    reason: "refused",
    detail: "chrt: failed to set pid 4242's policy: Operation not permitted",
  });
});

test("chrt missing from the image is a refusal too", async () => {
  const { run } = recorder({ code: 127, stderr: "spawn chrt ENOENT" });
  expect(await raiseToRealtime(run, 1, 10)).toMatchObject({ raised: false, reason: "refused" });
});

test("priority 0 runs nothing", async () => {
  const { calls, run } = recorder({ code: 0 });
  expect(await raiseToRealtime(run, 1, 0)).toEqual({ raised: false, reason: "disabled" });
  expect(calls).toEqual([]);
});

test.each([-1, 100, 1.5, Number.NaN])("priority %p is refused before anything runs", async (p) => {
  const { calls, run } = recorder({ code: 0 });
  await expect(raiseToRealtime(run, 1, p)).rejects.toThrow(RangeError);
  expect(calls).toEqual([]);
});

test("reads policy and real-time priority from a stat line, also when the name holds spaces and parentheses", () => {
  // Fields 3-52 as the kernel writes them (field 3 is the state); 40 is rt_priority, 41 the policy.
  const fields: string[] = Array.from({ length: 50 }, (_, i) => (i === 0 ? "S" : "0"));
  fields[40 - 3] = "10";
  fields[41 - 3] = String(SCHED_RR);
  expect(schedulingFromStat(`4153 (node (main) x) ${fields.join(" ")}`)).toEqual({
    rtPriority: 10,
    policy: SCHED_RR,
  });
  expect(schedulingFromStat("garbage")).toBeUndefined();
});

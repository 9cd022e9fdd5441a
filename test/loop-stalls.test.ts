import { describe, expect, jest, test } from "@jest/globals";
import { parseRunDelay } from "../src/loop-sampler.js";
import { classifyStall, type LoopSample, LoopStalls, type Stall } from "../src/loop-stalls.js";
import { FakeClock } from "./clock.js";

const zero: LoopSample = { cpuMs: 0, waitMs: 0, gcMs: 0 };

describe("classifyStall", () => {
  test.each<[string, LoopSample, Stall["cause"]]>([
    ["GC pauses took the time", { cpuMs: 420, waitMs: 10, gcMs: 380 }, "gc"],
    ["the thread waited for a CPU", { cpuMs: 40, waitMs: 350, gcMs: 5 }, "starved"],
    ["the process ran its own work", { cpuMs: 400, waitMs: 20, gcMs: 30 }, "busy"],
    ["neither ran nor waited (a sync syscall, SIGSTOP)", { cpuMs: 10, waitMs: 5, gcMs: 0 }, "blocked"],
    ["no schedstat off Linux: busy still shows", { cpuMs: 400, waitMs: undefined, gcMs: 0 }, "busy"],
  ])("%s", (_, to, cause) => {
    expect(classifyStall(400, zero, to).cause).toBe(cause);
  });

  test("a GC pause that waited for a CPU is starvation: the wait made it long", () => {
    expect(classifyStall(700, zero, { cpuMs: 60, waitMs: 710, gcMs: 740 }).cause).toBe("starved");
  });

  test("GC time is not counted again as the process's own work", () => {
    // 300 ms of CPU of which 250 GC: gc; 250 of CPU of which 100 GC is neither gc nor busy.
    expect(classifyStall(400, zero, { cpuMs: 300, waitMs: 0, gcMs: 250 }).cause).toBe("gc");
    expect(classifyStall(400, zero, { cpuMs: 250, waitMs: 0, gcMs: 100 }).cause).toBe("blocked");
  });

  test("counters going backwards (a restarted source) never give negative shares", () => {
    const s = classifyStall(400, { cpuMs: 500, waitMs: 500, gcMs: 500 }, zero);
    expect([s.cpuMs, s.waitMs, s.gcMs]).toEqual([0, 0, 0]);
    expect(s.cause).toBe("blocked");
  });
});

describe("LoopStalls", () => {
  function watch() {
    const clock = new FakeClock();
    const sample = { cpuMs: 0, waitMs: 0, gcMs: 0 };
    const onStall = jest.fn<(s: Stall) => void>();
    const w = new LoopStalls({ clock, sample: () => ({ ...sample }), onStall, tickMs: 50, boundMs: 200 });
    w.start();
    return { clock, sample, onStall, w };
  }

  test("ticks on time report nothing", () => {
    const { clock, onStall } = watch();
    clock.advance(5_000);
    expect(onStall).not.toHaveBeenCalled();
  });

  test("a loop stalled 600 ms while waiting for a CPU is reported once, as starved", () => {
    const { clock, sample, onStall } = watch();
    clock.advance(100);
    clock.stall(600);
    sample.waitMs += 550;
    clock.advance(50);
    expect(onStall).toHaveBeenCalledTimes(1);
    const stall = onStall.mock.calls[0]?.[0];
    expect(stall?.cause).toBe("starved");
    expect(stall?.lateMs).toBeGreaterThan(500);
    clock.advance(1_000);
    expect(onStall).toHaveBeenCalledTimes(1);
  });

  test("a lateness at the bound is not a stall; past it is", () => {
    const { clock, onStall } = watch();
    clock.advance(50);
    clock.stall(250); // the tick runs 200 ms late
    clock.advance(50);
    expect(onStall).not.toHaveBeenCalled();
    clock.stall(260);
    clock.advance(50);
    expect(onStall).toHaveBeenCalledTimes(1);
  });

  test("stop ends the ticks", () => {
    const { clock, onStall, w } = watch();
    w.stop();
    clock.stall(1_000);
    clock.advance(100);
    expect(onStall).not.toHaveBeenCalled();
  });
});

test("parseRunDelay reads the wait field of /proc/<pid>/schedstat in ms", () => {
  expect(parseRunDelay("755826 741649000 2\n")).toBeCloseTo(741.649);
  expect(parseRunDelay("")).toBeUndefined();
  expect(parseRunDelay("garbage")).toBeUndefined();
});

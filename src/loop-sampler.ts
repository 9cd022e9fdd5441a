// The process's own counters for loop-stalls.ts: CPU time (every thread), the main thread's wait
// for a CPU (/proc/self/schedstat's second field, run delay in ns) and V8's GC pauses. Also the
// one place that wires a LoopStalls to a log line and a metric, for the speaker and the controller.
import { readFileSync } from "node:fs";
import { PerformanceObserver } from "node:perf_hooks";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { Clock } from "./clock.js";
import { type LoopSample, LoopStalls } from "./loop-stalls.js";

/** The run delay in ms from schedstat text ("<run ns> <wait ns> <slices>"), or undefined. */
export function parseRunDelay(text: string): number | undefined {
  const wait = Number(text.trim().split(/\s+/)[1]);
  return Number.isFinite(wait) ? wait / 1e6 : undefined;
}

function runDelay(): number | undefined {
  try {
    return parseRunDelay(readFileSync("/proc/self/schedstat", "utf8"));
  } catch {
    return undefined;
  }
}

/** Samples this process; `close` stops observing GC. */
export function processSampler(): { sample: () => LoopSample; close: () => void } {
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  observer.observe({ entryTypes: ["gc"] });
  return {
    sample: () => {
      const cpu = process.cpuUsage();
      return { cpuMs: (cpu.user + cpu.system) / 1000, waitMs: runDelay(), gcMs };
    },
    close: () => observer.disconnect(),
  };
}

/** Logs every stall of the event loop with its cause and counts it in herald_event_loop_stalls_total. */
export function watchLoopStalls(o: { clock: Clock; log: Logger; registry: Registry }): { stop: () => void } {
  const stalls = new Counter({
    name: "herald_event_loop_stalls_total",
    help: "Times the event loop ran more than 200 ms late, by what took the time (gc, starved, busy, blocked)",
    labelNames: ["cause"],
    registers: [o.registry],
  });
  const sampler = processSampler();
  const watcher = new LoopStalls({
    clock: o.clock,
    sample: sampler.sample,
    onStall: (s) => {
      stalls.inc({ cause: s.cause });
      o.log.warn(
        {
          lateMs: Math.round(s.lateMs),
          cause: s.cause,
          cpuMs: Math.round(s.cpuMs),
          waitMs: s.waitMs === undefined ? undefined : Math.round(s.waitMs),
          gcMs: Math.round(s.gcMs),
        },
        "event loop ran late",
      );
    },
  });
  watcher.start();
  return {
    stop: () => {
      watcher.stop();
      sampler.close();
    },
  };
}

// A speaker's deadlines are short: heartbeats every 100 ms, peers declaring it dead after 300 ms,
// ARP replies expected at once. On a busy node a normal process can wait for a CPU longer than
// that (the lab measured 200-800 ms waits on the run queue), its peers take its addresses, and
// they flap back when it runs again. So the speaker raises its main thread to SCHED_RR, the way
// keepalived's vrrp_rt_priority does for VRRP. Real-time scheduling crosses cgroups, which
// niceness and CPU requests do not for a mostly idle process that must wake up at once.
//
// Only the main thread (the event loop that sends heartbeats and answers ARP/NDP) is raised, with
// SCHED_RESET_ON_FORK so that nft, conntrack and threads started later run at normal priority.
// The kernel's real-time throttling (sched_rt_runtime_us, 95 % by default) keeps a runaway loop
// from taking a whole CPU, and /healthz fails when the loop stops turning. chrt (util-linux) does
// the system call; it needs CAP_SYS_NICE. Without it the speaker says so and runs as before.
import type { RunCommand } from "./commands.js";

export const MAX_REALTIME_PRIORITY = 99;

export type PriorityOutcome =
  | { raised: true; priority: number }
  | { raised: false; reason: "disabled" }
  | { raised: false; reason: "refused"; detail: string };

/** Raises thread `tid` (the main thread's id is the process id) to SCHED_RR `priority`; 0 leaves it. */
export async function raiseToRealtime(
  run: RunCommand,
  tid: number,
  priority: number,
): Promise<PriorityOutcome> {
  if (priority === 0) return { raised: false, reason: "disabled" };
  if (!Number.isInteger(priority) || priority < 1 || priority > MAX_REALTIME_PRIORITY)
    throw new RangeError(
      `a real-time priority is 1-${MAX_REALTIME_PRIORITY} (or 0 for none), not ${priority}`,
    );
  const r = await run("chrt", ["--rr", "--reset-on-fork", "--pid", String(priority), String(tid)]);
  if (r.code !== 0)
    return { raised: false, reason: "refused", detail: (r.stderr || r.stdout).trim() || `exit ${r.code}` };
  return { raised: true, priority };
}

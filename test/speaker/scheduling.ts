// A thread's scheduling as the kernel reports it, for the tests of cpu-priority.ts.
export const SCHED_OTHER = 0;
export const SCHED_RR = 2;

/** Policy and real-time priority from a /proc/<pid>/stat line. */
export function schedulingFromStat(text: string): { policy: number; rtPriority: number } | undefined {
  // The command name (field 2) is in parentheses and may hold spaces: count from its end.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // Fields 40 (rt_priority) and 41 (policy), counted from field 3 on.
  const rtPriority = Number(rest[40 - 3]);
  const policy = Number(rest[41 - 3]);
  if (!Number.isInteger(rtPriority) || !Number.isInteger(policy)) return undefined;
  return { policy, rtPriority };
}

// How often this speaker sends a heartbeat to each peer: fast to the peers that would take over
// an address it owns (they must notice its death in ~300 ms), slow to everyone else (they only
// need to know it exists). A full mesh at 100 ms costs every node 10 x (N-1) packets per second
// each way, 1990 at 200 nodes; this plan costs 10 x (successors) + 1 x (the rest), about 290 at
// 200 nodes with five addresses per node (bench/heartbeat.ts measures both).
//
// Every speaker derives the plan from the same election it acts on, so the successor of an
// address is exactly the node that receives the owner's fast heartbeats. Each heartbeat carries
// its interval, and the receiver's deadline follows it (Membership).
import type { Election } from "../../domain/election.js";

export interface HeartbeatPlanOptions {
  fastIntervalMs?: number;
  slowIntervalMs?: number;
  /** How many candidates after the owner get fast heartbeats (2 covers a second failure). */
  depth?: number;
}

export type HeartbeatPlan = Map<string, number>;

export function planHeartbeats(
  self: string,
  peers: Iterable<string>,
  elections: Iterable<Election>,
  options: HeartbeatPlanOptions = {},
): HeartbeatPlan {
  const fast = options.fastIntervalMs ?? 100;
  const slow = options.slowIntervalMs ?? 1000;
  const depth = options.depth ?? 2;
  const watchers = new Set<string>();
  for (const e of elections) {
    // Only the first `depth` successors take over; this node tells those ranked after it. Nodes
    // further down would only act after several failures and can wait for slow heartbeats.
    const at = e.candidates.indexOf(self);
    if (at < 0 || at >= depth) continue;
    for (const c of e.candidates.slice(at + 1, depth + 1)) watchers.add(c);
  }
  const plan: HeartbeatPlan = new Map();
  for (const p of peers) if (p !== self) plan.set(p, watchers.has(p) ? fast : slow);
  return plan;
}

/** Packets per second this plan sends. */
export function planRate(plan: HeartbeatPlan): number {
  let rate = 0;
  for (const interval of plan.values()) rate += 1000 / interval;
  return rate;
}

// How often this speaker sends a heartbeat to each peer: fast between an address's owner and its
// successors, slow to everyone else (they only need to know it exists). The successors must
// notice the owner's death in ~300 ms to take over; the owner forwards Cluster traffic to the
// successors' NodePorts (forwardTargets), so it must notice theirs as fast, or it keeps sending
// connections into a dead node for seconds. A full mesh at 100 ms costs every node 10 x (N-1)
// packets per second each way, 1990 at 200 nodes; this plan costs 10 x (owners and successors
// it pairs with) + 1 x (the rest), a fraction of that (bench/heartbeat.ts measures both).
//
// Every speaker derives the plan from the same election it acts on, so the successor of an
// address is exactly the node that receives the owner's fast heartbeats, and the owner hears its
// successors fast. Each heartbeat carries its interval, and the receiver's deadline follows it
// (Membership).
import type { Election } from "../../domain/election.js";

export interface HeartbeatPlanOptions {
  fastIntervalMs?: number;
  slowIntervalMs?: number;
  /** How many candidates after the owner are its successors (default SUCCESSOR_DEPTH). */
  depth?: number;
}

export type HeartbeatPlan = Map<string, number>;

/** How many candidates after the owner are its successors (2 covers a second failure). */
export const SUCCESSOR_DEPTH = 2;

/**
 * The nodes `self` sends Cluster traffic to, through their NodePorts, for an address of this
 * election: the first SUCCESSOR_DEPTH candidates other than itself. For the owner these are its
 * successors, which send it fast heartbeats; another node's kube-proxy spreads the traffic
 * again over every endpoint, so more targets would spread no further, only over peers this
 * node hears once a second.
 */
export function forwardTargets(election: Election | undefined, self: string): string[] {
  return (election?.candidates ?? []).filter((n) => n !== self).slice(0, SUCCESSOR_DEPTH);
}

export function planHeartbeats(
  self: string,
  peers: Iterable<string>,
  elections: Iterable<Election>,
  options: HeartbeatPlanOptions = {},
): HeartbeatPlan {
  const fast = options.fastIntervalMs ?? 100;
  const slow = options.slowIntervalMs ?? 1000;
  const depth = options.depth ?? SUCCESSOR_DEPTH;
  const watchers = new Set<string>();
  for (const e of elections) {
    // Only the first `depth` successors take over; this node tells those ranked after it. Nodes
    // further down would only act after several failures and can wait for slow heartbeats.
    const at = e.candidates.indexOf(self);
    if (at < 0 || at > depth) continue;
    for (const c of e.candidates.slice(at + 1, depth + 1)) watchers.add(c);
    // A successor is a forward target of the owner: the owner must hear of its death as fast.
    const owner = e.candidates[0];
    if (at > 0 && owner !== undefined) watchers.add(owner);
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

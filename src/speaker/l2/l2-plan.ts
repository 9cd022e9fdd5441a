// What the layer-2 half should do, as pure functions of what it knows: which addresses this
// node should hold (the election over the live nodes), which of its links answer for which
// owned address (the L2Advertisements' interfaces), and how often to send heartbeats to whom.
// L2Speaker keeps the state these functions read (timers, probes, announcements in flight) and
// applies their answers; nothing here touches a socket or a clock.
import { type Election, electOwner, shouldAnnounce } from "../../domain/election.js";
import { type HeartbeatPlan, planHeartbeats } from "./heartbeat-plan.js";
import { interfaceSelected } from "./interfaces.js";
import type { ClusterState } from "./l2-interface.js";

export interface ElectionView {
  self: string;
  state: ClusterState;
  /** Nodes alive by heartbeats or by evidence; without this node while it may not own anything. */
  live: ReadonlySet<string>;
  /** The elections of the previous plan: who owned each Service's addresses before. */
  previous: ReadonlyMap<string, Election>;
}

export interface HoldPlan {
  elections: Map<string, Election>;
  /** Addresses this node should hold -> the node that owned them in the previous elections. */
  wanted: Map<string, string | undefined>;
  heartbeats: HeartbeatPlan;
}

export function planHolding(view: ElectionView): HoldPlan {
  const elections = electOwner({
    nodes: view.state.nodes,
    live: new Set(view.live),
    services: view.state.services,
  });
  const wanted = new Map<string, string | undefined>();
  for (const s of view.state.services) {
    if (shouldAnnounce(view.self, elections.get(s.key)) !== "") continue;
    for (const a of s.addresses) wanted.set(a, view.previous.get(s.key)?.owner);
  }
  const heartbeats = planHeartbeats(view.self, view.state.peers.keys(), elections.values());
  return { elections, wanted, heartbeats };
}

/** Whether `address` may be answered and announced on the interface `name`. */
export function answersOn(state: ClusterState, name: string, address: string): boolean {
  return interfaceSelected(name, state.interfaces?.get(address) ?? []);
}

/**
 * Interface name -> the owned addresses it answers for, for every link (a link that answers
 * nothing maps to an empty list, so that it stops answering what it did before).
 */
export function answeredPerLink(
  state: ClusterState,
  links: readonly string[],
  owned: Iterable<string>,
): Map<string, string[]> {
  const addresses = [...owned].sort();
  return new Map(links.map((name) => [name, addresses.filter((a) => answersOn(state, name, a))]));
}

// UDP has no connection end: conntrack keeps sending a client's datagrams to the target it
// was first translated to until the entry times out (30 s, 120 s once answered), even after
// that target is gone. These are the flows to forget when targets go away, as kube-proxy
// does with `conntrack -D`. TCP needs nothing: a dead target resets or times out.
import type { Family, Frontend } from "./state.js";

export interface StaleFlow {
  family: Family;
  address: string;
  port: number;
  target: { address: string; port: number };
}

/** UDP targets that `before` could translate to and `after` no longer does. */
export function staleUdpFlows(before: readonly Frontend[], after: readonly Frontend[]): StaleFlow[] {
  const now = new Map(after.map((f) => [f.id, f]));
  const stale: StaleFlow[] = [];
  for (const old of before) {
    if (old.protocol !== "udp") continue;
    const kept = new Set((now.get(old.id)?.targets ?? []).map((t) => `${t.address}|${t.port}`));
    for (const t of old.targets) {
      if (kept.has(`${t.address}|${t.port}`)) continue;
      stale.push({
        family: old.family,
        address: old.address,
        port: old.port,
        target: { address: t.address, port: t.port },
      });
    }
  }
  return stale;
}

/** The `conntrack` arguments that delete one stale flow's entries. */
export function conntrackDeleteArgs(f: StaleFlow): string[] {
  return [
    "-D",
    "-f",
    f.family === 4 ? "ipv4" : "ipv6",
    "-p",
    "udp",
    "--orig-dst",
    f.address,
    "--orig-port-dst",
    String(f.port),
    "--reply-src",
    f.target.address,
    "--reply-port-src",
    String(f.target.port),
  ];
}

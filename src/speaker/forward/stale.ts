// Conntrack decides a flow's translation once, at its first packet, and keeps the decision for
// every later packet of the same addresses and ports. Two kinds of entries outlive what they
// were decided for, and are forgotten with `conntrack -D`, as kube-proxy does:
// - UDP has no connection end: a client's datagrams keep going to the target they were first
//   translated to until the entry times out (30 s, 120 s once answered), even after that
//   target is gone.
// - TCP connections a target never answered (a node whose cable was cut, counted dead a moment
//   later) stay in SYN_SENT for 120 s, renewed by every retry from the same client port: the
//   client's next connection from that port goes to the dead target again, though the rules no
//   longer name it. Only those are forgotten; an answered connection to a target that is still
//   alive (a node that stopped being a successor) carries on.
// - A new frontend: packets that reached this node for its address and port before its rules
//   were in (the address announced a moment before the table, a client's cache still naming
//   this node) were not translated, and went on untranslated. Their entries live on (TCP in
//   SYN_SENT for 120 s, renewed by every retry; UDP for 30 s, renewed by every datagram), so
//   when the client uses the same source port again, its connection is still not translated
//   and fails although the rules are there.
import type { Family, Frontend, NodePortEndpoint } from "./state.js";

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

/** `conntrack -D` of the entries for one address and port, narrowed by `reply` (who answers them). */
function deleteArgs(family: Family, protocol: "tcp" | "udp", address: string, port: number, reply: string[]) {
  const f = family === 4 ? "ipv4" : "ipv6";
  return ["-D", "-f", f, "-p", protocol, "--orig-dst", address, "--orig-port-dst", String(port), ...reply];
}

/** The `conntrack` arguments that delete one stale flow's entries. */
export function conntrackDeleteArgs(f: StaleFlow): string[] {
  const reply = ["--reply-src", f.target.address, "--reply-port-src", String(f.target.port)];
  return deleteArgs(f.family, "udp", f.address, f.port, reply);
}

/**
 * Addresses that TCP frontends of `before` could translate to and no TCP frontend of `after`
 * does (a node counted dead, a Pod that left), once each: one `conntrack` run an address, not one
 * a Service. An address some frontend still sends to is alive, and its connections are left alone.
 */
export function goneTcpTargets(before: readonly Frontend[], after: readonly Frontend[]): string[] {
  const kept = new Set(
    after.filter((f) => f.protocol === "tcp").flatMap((f) => f.targets.map((t) => t.address)),
  );
  const gone = new Set<string>();
  for (const old of before) {
    if (old.protocol !== "tcp") continue;
    for (const t of old.targets) if (!kept.has(t.address)) gone.add(t.address);
  }
  return [...gone];
}

/** `conntrack -D` of the unanswered TCP connections translated to `address`, narrowed by `match`. */
function synSentArgs(address: string, match: string[]): string[] {
  const f = address.includes(":") ? "ipv6" : "ipv4";
  return ["-D", "-f", f, "-p", "tcp", ...match, "--reply-src", address, "--state", "SYN_SENT"];
}

/** The `conntrack` arguments that delete the unanswered TCP connections to a gone target. */
export function conntrackGoneTargetArgs(address: string): string[] {
  return synSentArgs(address, []);
}

export interface UntranslatedFlow {
  family: Family;
  protocol: "tcp" | "udp";
  address: string;
  port: number;
}

/**
 * At most this many new frontends, and as many gone TCP targets, are cleaned up after per
 * transaction: each is one `conntrack` run over the whole table, and the next transaction waits
 * for them. A burst of more (thousands of Services created at once, hundreds of Pods deleted)
 * leaves the rest, which only matter to a client that tried one of them when it could not answer
 * and comes back from the same port.
 */
export const MAX_UNTRANSLATED_CLEANUPS = 64;

/** Frontends of `after` that `before` did not have: their untranslated entries are stale. */
export function untranslatedFlows(
  before: readonly Frontend[],
  after: readonly Frontend[],
): UntranslatedFlow[] {
  const had = new Set(before.map((f) => f.id));
  return after
    .filter((f) => !had.has(f.id))
    .map((f) => ({ family: f.family, protocol: f.protocol, address: f.address, port: f.port }));
}

/** The `conntrack` arguments that delete a frontend's untranslated entries (the reply comes from the address itself). */
export function conntrackUntranslatedArgs(f: UntranslatedFlow): string[] {
  return deleteArgs(f.family, f.protocol, f.address, f.port, ["--reply-src", f.address]);
}

/** One string per (NodePort, address) pair, to compare endpoints in sets. */
export function nodePortEndpointKey(e: NodePortEndpoint): string {
  return `${e.nodePort}|${e.address}`;
}

/** Endpoints behind a NodePort that `before` had and `after` no longer has. */
export function goneNodePortEndpoints(
  before: readonly NodePortEndpoint[],
  after: readonly NodePortEndpoint[],
): NodePortEndpoint[] {
  const kept = new Set(after.map(nodePortEndpointKey));
  const seen = new Set<string>();
  return before.filter((e) => {
    const k = nodePortEndpointKey(e);
    if (kept.has(k) || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The `conntrack` arguments that delete unanswered TCP connections to a gone NodePort endpoint. */
export function conntrackSynSentArgs(e: NodePortEndpoint): string[] {
  return synSentArgs(e.address, ["--orig-port-dst", String(e.nodePort)]);
}

/** `conntrack -L` of one family's unanswered TCP connections (what {@link strayNodePortEntries} reads). */
export function conntrackListSynSentArgs(family: Family): string[] {
  return ["-L", "-f", family === 4 ? "ipv4" : "ipv6", "-p", "tcp", "--state", "SYN_SENT"];
}

/**
 * The unanswered connections in a `conntrack -L` listing that were sent to one of `endpoints`'
 * NodePorts and translated to an address no endpoint of that NodePort has, once each pair: left
 * by endpoints that went while nobody was watching (the speaker was down when the Pod was
 * deleted), so no update ever said they left. A line is `tcp 6 117 SYN_SENT src= dst= sport=
 * dport= [UNREPLIED] src= dst= sport= dport= ...`: the first `dport` is the original
 * destination port, the second `src` the translated address that should answer.
 */
export function strayNodePortEntries(
  listing: string,
  endpoints: readonly NodePortEndpoint[],
): NodePortEndpoint[] {
  const ports = new Set(endpoints.map((e) => e.nodePort));
  const live = new Set(endpoints.map(nodePortEndpointKey));
  const stray = new Map<string, NodePortEndpoint>();
  for (const line of listing.split("\n")) {
    const nodePort = Number(/\bdport=(\d+)/.exec(line)?.[1]);
    // Most lines of a busy table are other ports': they cost one match.
    if (!ports.has(nodePort)) continue;
    const address = [...line.matchAll(/\bsrc=(\S+)/g)][1]?.[1];
    if (address === undefined) continue;
    const e = { nodePort, address };
    const k = nodePortEndpointKey(e);
    if (!live.has(k)) stray.set(k, e);
  }
  return [...stray.values()];
}

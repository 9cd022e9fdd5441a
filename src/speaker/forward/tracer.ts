// A packet tracer over the rendered Ruleset: follows a packet that conntrack has no connection
// for (the first packet of a connection, or mid-stream TCP after the address moved) through
// Herald's chains the way the kernel would (the handover table's prerouting filter, Herald's
// prerouting filter, prerouting nat, then postrouting nat after a DNAT) and says what happens.
// For behaviour tests without a kernel; the root tests check the same with one.
import type { Chain, Element, Field, Match, NamedSet, Rule, Ruleset } from "./ruleset-model.js";
import { addressBits, canonicalAddress, type Family } from "./state.js";

export interface Packet {
  src: string;
  dst: string;
  protocol: "tcp" | "udp";
  dport: number;
  /** TCP: whether SYN is set (default true: a connection attempt). */
  syn?: boolean;
  /** The frame's source MAC (default: a host that is no speaker). */
  srcMac?: string;
}

export type Verdict =
  | { verdict: "dnat"; address: string; port: number; masquerade: boolean }
  | { verdict: "drop" }
  | { verdict: "reject"; with: "tcp reset" | "icmpx port-unreachable" }
  /** Copied unchanged to the previous owner `to` (it finishes the connection); this node's copy dropped. */
  | { verdict: "passedOn"; to: string }
  /** Herald does not touch it; the rest of the host decides. */
  | { verdict: "accept" };

/** Contents of the dynamic (affinity) sets: set name -> client -> expiry in seconds. */
export type DynamicSets = Map<string, Map<string, number>>;

export interface TraceOptions {
  /** numgen random mod N: the number drawn, 0..N-1 (default 0). */
  draw?: (modulus: number) => number;
  /** Affinity memory, carried from one trace to the next. */
  dynamic?: DynamicSets;
  /** Current time in seconds, for affinity expiry. */
  now?: number;
}

type Outcome =
  | { kind: "dnat"; address: string; port: number }
  | { kind: "dup"; to: string }
  | { kind: "drop" }
  | { kind: "masquerade" }
  | { kind: "reject"; with: "tcp reset" | "icmpx port-unreachable" };

interface Context {
  family: Family;
  values: Record<Field, string>;
  dnat: boolean;
  syn: boolean;
  /** Where `dup` sent a copy. */
  dup?: string;
}

class Interpreter {
  private readonly sets: Map<string, NamedSet>;
  private readonly chains: Map<string, Chain>;

  constructor(
    table: { sets: readonly NamedSet[]; chains: readonly Chain[] },
    private readonly opts: Required<TraceOptions>,
  ) {
    this.sets = new Map(table.sets.map((s) => [s.name, s]));
    this.chains = new Map(table.chains.map((c) => [c.name, c]));
  }

  run(chain: string, ctx: Context): Outcome | null {
    const c = this.chains.get(chain);
    if (!c) throw new Error(`chain ${chain} is not in the ruleset`);
    for (const rule of c.rules) {
      if (!rule.match.every((m) => this.matches(m, ctx))) continue;
      const out = this.execute(rule, ctx);
      if (out !== "next") return out;
    }
    return null;
  }

  private execute(rule: Rule, ctx: Context): Outcome | null | "next" {
    for (const s of rule.statements) {
      switch (s.kind) {
        case "vmap": {
          if (s.family !== ctx.family) return "next";
          const hit = this.find(
            s.map,
            s.fields.map((f) => ctx.values[f]),
          );
          if (hit?.goto) return this.run(hit.goto, ctx);
          return "next";
        }
        case "goto":
          return this.run(s.chain, ctx);
        case "dupMap": {
          if (s.family !== ctx.family) return "next";
          const to = this.find(
            s.map,
            s.fields.map((f) => ctx.values[f]),
          )?.data;
          // A failed map lookup ends the rule, as in the kernel.
          if (to === undefined) return "next";
          ctx.dup = to;
          break;
        }
        case "counter":
          break;
        case "dnatMap": {
          if (s.family !== ctx.family) return "next";
          const key = [...s.fields.map((f) => ctx.values[f]), String(this.opts.draw(s.modulus))];
          const data = this.find(s.map, key)?.data;
          if (data === undefined) return "next";
          const [address = "", port = "0"] = data.split(" . ");
          return { kind: "dnat", address, port: Number(port) };
        }
        case "updateSet": {
          const set = this.sets.get(s.set);
          const members = this.opts.dynamic.get(s.set) ?? new Map<string, number>();
          this.opts.dynamic.set(s.set, members);
          members.set(ctx.values.saddr, this.opts.now + (set?.timeoutSeconds ?? 0));
          break;
        }
        case "dnat":
          return { kind: "dnat", address: s.address, port: s.port };
        case "drop":
          return ctx.dup !== undefined ? { kind: "dup", to: ctx.dup } : { kind: "drop" };
        case "reject":
          return { kind: "reject", with: s.with };
        case "masquerade":
          return { kind: "masquerade" };
      }
    }
    return "next";
  }

  private matches(m: Match, ctx: Context): boolean {
    switch (m.kind) {
      case "lookup": {
        if (m.family !== ctx.family) return false;
        const key = m.fields.map((f) => ctx.values[f]);
        const set = this.sets.get(m.set);
        let found: boolean;
        if (set?.dynamic) {
          const expiry = this.opts.dynamic.get(m.set)?.get(key.join(" . "));
          found = expiry !== undefined && expiry > this.opts.now;
        } else found = this.find(m.set, key) !== undefined;
        return m.negate ? !found : found;
      }
      case "ctStatusDnat":
        return ctx.dnat;
      case "ctStateNew":
      case "ctStateUnknown":
        return true;
      case "tcpNoSyn":
        return ctx.values.l4proto === "tcp" && !ctx.syn;
      case "l4proto":
        return ctx.values.l4proto === m.protocol;
      case "numgen":
        return this.opts.draw(m.modulus) === 0;
    }
  }

  private find(set: string, key: string[]): Element | undefined {
    const s = this.sets.get(set);
    if (!s) throw new Error(`set ${set} is not in the ruleset`);
    return s.elements.find((e) => e.key.every((v, i) => valueMatches(v, key[i] ?? "")));
  }
}

function valueMatches(element: string, value: string): boolean {
  if (!element.includes("/")) return element === value;
  const [net = "", bits = "0"] = element.split("/");
  const n = canonicalAddress(net);
  const v = canonicalAddress(value);
  if (!n || !v || n.family !== v.family) return false;
  const host = BigInt((n.family === 4 ? 32 : 128) - Number(bits));
  return addressBits(n.address) >> host === addressBits(v.address) >> host;
}

/** Follows the first packet of a connection; numgen draws come from `draw` (default: always 0). */
export function trace(rs: Ruleset, packet: Packet, options: TraceOptions = {}): Verdict {
  const src = canonicalAddress(packet.src);
  const dst = canonicalAddress(packet.dst);
  if (!src || !dst || src.family !== dst.family) throw new Error("packet addresses must be one family");
  const opts: Required<TraceOptions> = {
    draw: options.draw ?? (() => 0),
    dynamic: options.dynamic ?? new Map(),
    now: options.now ?? 0,
  };
  const vm = new Interpreter(rs, opts);
  const values: Record<Field, string> = {
    saddr: src.address,
    daddr: dst.address,
    l4proto: packet.protocol,
    dport: String(packet.dport),
    ctOriginalDaddr: dst.address,
    etherSaddr: (packet.srcMac ?? "02:00:00:00:00:01").toLowerCase(),
    tcpDport: packet.protocol === "tcp" ? String(packet.dport) : "",
  };
  const ctx = { family: dst.family, values, dnat: false, syn: packet.syn ?? true };
  // The handover table's chain runs first (priority -150).
  const handover = rs.handover.find((t) => t.family === (dst.family === 4 ? "ip" : "ip6"));
  if (handover) {
    const h = new Interpreter(handover, opts).run("prerouting", { ...ctx });
    if (h?.kind === "dup") return { verdict: "passedOn", to: h.to };
    if (h?.kind === "drop") return { verdict: "drop" };
  }
  const filter = vm.run("filter-prerouting", ctx);
  if (filter?.kind === "reject") return { verdict: "reject", with: filter.with };
  if (filter?.kind === "drop") return { verdict: "drop" };
  const pre = vm.run("prerouting", ctx);
  if (pre?.kind === "drop") return { verdict: "drop" };
  if (pre?.kind === "dnat") {
    const after = { ...values, daddr: pre.address, dport: String(pre.port) };
    const post = vm.run("postrouting", { ...ctx, values: after, dnat: true });
    return { verdict: "dnat", address: pre.address, port: pre.port, masquerade: post?.kind === "masquerade" };
  }
  return { verdict: "accept" };
}

/** Every verdict the packet can get, with its probability over the numgen draws (affinity memory ignored). */
export function traceAll(rs: Ruleset, packet: Packet): Array<{ probability: number } & Verdict> {
  const seen = new Map<string, { probability: number } & Verdict>();
  // Depth-first over the sequences of draws: each prefix is replayed, then extended.
  const pending: number[][] = [[]];
  for (let prefix = pending.pop(); prefix !== undefined; prefix = pending.pop()) {
    const taken = [...prefix];
    let i = 0;
    let probability = 1;
    const draw = (modulus: number) => {
      if (i >= taken.length) {
        for (let v = 1; v < modulus; v++) pending.push([...taken, v]);
        taken.push(0);
      }
      probability /= modulus;
      return taken[i++] ?? 0;
    };
    const v = trace(rs, packet, { draw });
    const key = JSON.stringify(v);
    seen.set(key, { ...v, probability: (seen.get(key)?.probability ?? 0) + probability });
  }
  return [...seen.values()];
}

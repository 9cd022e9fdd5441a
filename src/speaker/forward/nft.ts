// The narrow I/O edge of forwarding: running `nft`, and reading back what the kernel
// holds in a form that can be compared with the Ruleset we rendered.
import { type ExecResult, type RunCommand, spawnCommand } from "../commands.js";
import type { Chain, NamedSet } from "./ruleset-model.js";

export type { ExecResult };

/** Runs nft with these arguments and this standard input. */
export type NftExec = (args: readonly string[], stdin?: string) => Promise<ExecResult>;

/**
 * The real thing. `command` is what runs nft, such as `["nft"]` or, in tests,
 * `["ip", "netns", "exec", "ns1", "nft"]`; `run` starts it (the speaker's command worker, or
 * from this thread).
 */
export function nftExec(command: readonly string[] = ["nft"], run: RunCommand = spawnCommand): NftExec {
  const [file = "nft", ...pre] = command;
  return (args, stdin) => run(file, [...pre, ...args], stdin);
}

/** What a table holds, counted: rules per chain, elements per (non-dynamic) set. */
export interface TableShape {
  chains: Map<string, number>;
  sets: Map<string, number>;
}

/** The shape the kernel should report once this table is applied. */
export function expectedShape(rs: { sets: readonly NamedSet[]; chains: readonly Chain[] }): TableShape {
  return {
    chains: new Map(rs.chains.map((c) => [c.name, c.rules.length])),
    sets: new Map(rs.sets.filter((s) => !s.dynamic).map((s) => [s.name, s.elements.length])),
  };
}

function countElements(body: string): number {
  const text = body.trim();
  if (text === "") return 0;
  return text.split(",").length;
}

/**
 * Reads `nft list table` output. Only counts are compared: nft prints rules in its own
 * normal form, so text would differ from what was sent even when nothing drifted.
 */
export function parseTableShape(listing: string, dynamicSets: (name: string) => boolean): TableShape {
  const chains = new Map<string, number>();
  const sets = new Map<string, number>();
  const lines = listing.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    const head = /^(chain|set|map) (\S+) \{$/.exec(line);
    if (!head) continue;
    const [, kind, name = ""] = head;
    let count = 0;
    for (i++; i < lines.length; i++) {
      const l = (lines[i] ?? "").trim();
      if (l === "}") break;
      if (kind === "chain") {
        if (l !== "" && !l.startsWith("type ") && !l.startsWith("comment ")) count++;
        continue;
      }
      const el = /^elements = \{(.*)$/.exec(l);
      if (!el) continue;
      let body = el[1] ?? "";
      while (!body.trimEnd().endsWith("}") && i + 1 < lines.length) body += ` ${lines[++i]?.trim() ?? ""}`;
      count = countElements(body.trimEnd().slice(0, -1));
    }
    if (kind === "chain") chains.set(name, count);
    else if (!dynamicSets(name)) sets.set(name, count);
  }
  return { chains, sets };
}

/** The first difference between two shapes, or null when they agree. */
export function shapeDifference(want: TableShape, have: TableShape): string | null {
  for (const [kind, w, h] of [
    ["chain", want.chains, have.chains],
    ["set", want.sets, have.sets],
  ] as const) {
    for (const [name, n] of w) {
      const got = h.get(name);
      if (got === undefined) return `${kind} ${name} is missing`;
      if (got !== n) return `${kind} ${name} has ${got} entries, want ${n}`;
    }
    for (const name of h.keys()) if (!w.has(name)) return `${kind} ${name} is not ours`;
  }
  return null;
}

/**
 * Chain names of one table in `nft list chains` output, or null when the table is not
 * there. That listing is cheap (no rules, no elements), unlike listing the table.
 */
export function parseChainNames(listing: string, table: string, family = "inet"): Set<string> | null {
  let names: Set<string> | null = null;
  let inside = false;
  for (const raw of listing.split("\n")) {
    const line = raw.trim();
    const t = /^table (\S+) (\S+) \{$/.exec(line);
    if (t) {
      inside = t[1] === family && t[2] === table;
      if (inside) names = new Set();
      continue;
    }
    const c = /^chain (\S+) \{$/.exec(line);
    if (inside && c?.[1]) names?.add(c[1]);
  }
  return names;
}

// Ruleset -> nft text. Two forms, both one `nft -f -` transaction (nft sends a file as
// one netlink batch: all of it commits or none does):
//   renderTable  the whole ruleset, replacing any previous one (`table` + `delete table` +
//                definition, for `inet herald` and both handover tables), the source of truth
//                at start, after failures and on drift;
//   renderUpdate the difference to the last applied ruleset, touching only the chains and
//                elements that changed, so one Service among 10,000 costs milliseconds and
//                the affinity sets of untouched Services keep their clients; a handover table
//                that changed is replaced whole (it holds a handful of elements).
import { HANDOVER_TABLE } from "./handover.js";
import type {
  Chain,
  Element,
  Field,
  FrontendParts,
  Match,
  NamedSet,
  Rule,
  Ruleset,
  Statement,
  Table,
} from "./ruleset-model.js";
import { sharedSets } from "./ruleset-model.js";

const fam = (f: 4 | 6) => (f === 4 ? "ip" : "ip6");

function field(f: 4 | 6, x: Field): string {
  switch (x) {
    case "saddr":
      return `${fam(f)} saddr`;
    case "daddr":
      return `${fam(f)} daddr`;
    case "l4proto":
      return "meta l4proto";
    case "dport":
      return "th dport";
    case "ctOriginalDaddr":
      return `ct original ${fam(f)} daddr`;
    case "etherSaddr":
      return "ether saddr";
    case "tcpDport":
      return "tcp dport";
  }
}

const fields = (f: 4 | 6, xs: Field[]) => xs.map((x) => field(f, x)).join(" . ");

function match(m: Match): string {
  switch (m.kind) {
    case "lookup":
      return `${fields(m.family, m.fields)} ${m.negate ? "!= " : ""}@${m.set}`;
    case "ctStatusDnat":
      return "ct status dnat";
    case "ctStateNew":
      return "ct state new";
    case "ctStateUnknown":
      return "ct state new,invalid";
    case "tcpNoSyn":
      return "tcp flags & syn == 0";
    case "l4proto":
      return `meta l4proto ${m.protocol}`;
    case "numgen":
      return `numgen random mod ${m.modulus} 0`;
  }
}

function statement(s: Statement): string {
  switch (s.kind) {
    case "vmap":
      return `${fields(s.family, s.fields)} vmap @${s.map}`;
    case "goto":
      return `goto ${s.chain}`;
    case "dupMap":
      return `dup to ${fields(s.family, s.fields)} map @${s.map}`;
    case "counter":
      return "counter";
    case "dnatMap":
      return `dnat ${fam(s.family)} to ${fields(s.family, s.fields)} . numgen random mod ${s.modulus} map @${s.map}`;
    case "updateSet":
      return `update @${s.set} { ${fam(s.family)} saddr }`;
    case "dnat":
      return s.family === 4 ? `dnat ip to ${s.address}:${s.port}` : `dnat ip6 to [${s.address}]:${s.port}`;
    case "masquerade":
      return "masquerade";
    case "drop":
      return "drop";
    case "reject":
      return `reject with ${s.with}`;
  }
}

export function renderRule(r: Rule): string {
  const parts = [...r.match.map(match), ...r.statements.map(statement)];
  if (r.comment) parts.push(`comment ${JSON.stringify(r.comment)}`);
  return parts.join(" ");
}

function renderElement(e: Element): string {
  if (e.text === undefined) {
    const key = e.key.join(" . ");
    e.text =
      e.data !== undefined ? `${key} : ${e.data}` : e.goto !== undefined ? `${key} : goto ${e.goto}` : key;
  }
  return e.text;
}

/** The key part of an element (what identifies it in a map). */
const elementKey = (set: NamedSet, e: Element) => (set.map ? e.key.join(" . ") : renderElement(e));

function setHeader(s: NamedSet): string {
  const parts = [
    s.typeof
      ? `typeof ${s.typeof};`
      : `type ${s.type.join(" . ")}${s.map ? ` : ${s.dataType ?? "verdict"}` : ""};`,
  ];
  if (s.flags.length > 0) parts.push(`flags ${s.flags.join(",")};`);
  if (s.timeoutSeconds !== undefined) parts.push(`timeout ${s.timeoutSeconds}s;`);
  return parts.join(" ");
}

function hookLine(c: Chain): string | null {
  if (!c.hook) return null;
  return `type ${c.hook.type} hook ${c.hook.hook} priority ${c.hook.priority}; policy accept;`;
}

/** The body of a table definition: its sets and maps, then its chains. */
function renderBody(sets: readonly NamedSet[], chains: readonly Chain[], out: string[]): void {
  for (const s of sets) {
    out.push(`\t${s.map ? "map" : "set"} ${s.name} {`, `\t\t${setHeader(s)}`);
    if (s.elements.length > 0) {
      out.push("\t\telements = {");
      out.push(s.elements.map((e) => `\t\t\t${renderElement(e)}`).join(",\n"));
      out.push("\t\t}");
    }
    out.push("\t}");
  }
  for (const c of chains) {
    out.push(`\tchain ${c.name} {`);
    const hook = hookLine(c);
    if (hook) out.push(`\t\t${hook}`);
    for (const r of c.rules) out.push(`\t\t${renderRule(r)}`);
    out.push("\t}");
  }
}

const handoverFamilies = ["ip", "ip6"] as const;

/** Removes a table whether or not it is there (creating it first makes the delete safe). */
const replaceLines = (family: string, name: string) => [
  `table ${family} ${name} {}`,
  `delete table ${family} ${name}`,
];

function handoverDefinition(t: Table): string {
  if (t.text === undefined) {
    const out = [`table ${t.family} ${t.name} {`];
    renderBody(t.sets, t.chains, out);
    out.push("}");
    t.text = out.join("\n");
  }
  return t.text;
}

/** The handover table of one family as it should be: removed, then defined if there is one. */
function handoverReplacement(rs: Ruleset, family: "ip" | "ip6"): string[] {
  const t = rs.handover.find((x) => x.family === family);
  return [...replaceLines(family, HANDOVER_TABLE), ...(t ? [handoverDefinition(t)] : [])];
}

export function renderTable(rs: Ruleset): string {
  const out: string[] = [...replaceLines("inet", rs.table), `table inet ${rs.table} {`];
  renderBody(rs.sets, rs.chains, out);
  out.push("}");
  for (const f of handoverFamilies) out.push(...handoverReplacement(rs, f));
  out.push("");
  return out.join("\n");
}

/** The text that removes Herald's tables: the handover tables, and `inet herald` unless kept. */
export function renderRemoval(table: string, options: { keepTable?: boolean } = {}): string {
  const lines = handoverFamilies.flatMap((f) => replaceLines(f, HANDOVER_TABLE));
  return `${[...(options.keepTable ? [] : replaceLines("inet", table)), ...lines].join("\n")}\n`;
}

function renderSet(t: string, s: NamedSet): string {
  return `add ${s.map ? "map" : "set"} ${t} ${s.name} { ${setHeader(s)} }`;
}

/** Element changes of one set, from the rendered elements before and after (keyed by map key). */
function elementChanges(
  set: NamedSet,
  before: Element[],
  after: Element[],
  del: string[],
  add: string[],
): void {
  const was = new Map(before.map((e) => [elementKey(set, e), renderElement(e)]));
  const is = new Map(after.map((e) => [elementKey(set, e), renderElement(e)]));
  for (const [k, v] of was) if (is.get(k) !== v) del.push(k);
  for (const [k, v] of is) if (was.get(k) !== v) add.push(v);
}

/**
 * Commands that turn the table `from` into `to`, or null when only a full replacement
 * can (the table's skeleton or an affinity set's timeout changed). Only frontends whose
 * signature changed are looked at, so the cost follows the change, not the table.
 * Ordered so that nothing is deleted while still referenced: elements first, then rules,
 * then chains and sets.
 */
export function renderUpdate(from: Ruleset, to: Ruleset): string | null {
  if (from.table !== to.table || from.skeleton !== to.skeleton) return null;
  const t = `inet ${to.table}`;
  const setsByName = new Map(to.sets.map((s) => [s.name, s]));
  const del = new Map<string, string[]>();
  const add = new Map<string, string[]>();
  const list = (m: Map<string, string[]>, set: string) => {
    const l = m.get(set) ?? [];
    m.set(set, l);
    return l;
  };
  const delSets: string[] = [];
  const addSets: string[] = [];
  const flush: string[] = [];
  const delChains: string[] = [];
  const addChains: string[] = [];
  const addRules: string[] = [];
  const pairs: Array<[FrontendParts | undefined, FrontendParts | undefined]> = [];
  for (const [id, old] of from.frontends) {
    const now = to.frontends.get(id);
    if (now !== old && now?.signature !== old.signature) pairs.push([old, now]);
  }
  for (const [id, now] of to.frontends) if (!from.frontends.has(id)) pairs.push([undefined, now]);
  for (const [old, now] of pairs) {
    const group = (p: FrontendParts | undefined) => {
      const m = new Map<string, Element[]>();
      for (const [set, e] of p?.elements ?? []) {
        const l = m.get(set) ?? [];
        l.push(e);
        m.set(set, l);
      }
      return m;
    };
    const was = group(old);
    const is = group(now);
    for (const name of new Set([...was.keys(), ...is.keys()])) {
      const set = setsByName.get(name);
      if (set) elementChanges(set, was.get(name) ?? [], is.get(name) ?? [], list(del, name), list(add, name));
    }
    const oldSets = new Map((old?.sets ?? []).map((s) => [s.name, s]));
    const newSets = new Map((now?.sets ?? []).map((s) => [s.name, s]));
    for (const [name, s] of newSets) {
      const o = oldSets.get(name);
      if (!o) addSets.push(renderSet(t, s));
      else if (setHeader(o) !== setHeader(s)) return null;
    }
    for (const [name, s] of oldSets)
      if (!newSets.has(name)) delSets.push(`delete ${s.map ? "map" : "set"} ${t} ${name}`);
    const oldChains = new Map((old?.chains ?? []).map((c) => [c.name, c]));
    for (const c of now?.chains ?? []) {
      const rules = c.rules.map(renderRule);
      const o = oldChains.get(c.name);
      oldChains.delete(c.name);
      if (o) {
        const before = o.rules.map(renderRule);
        if (before.length === rules.length && before.every((r, i) => r === rules[i])) continue;
        flush.push(`flush chain ${t} ${c.name}`);
      } else addChains.push(`add chain ${t} ${c.name}`);
      for (const r of rules) addRules.push(`add rule ${t} ${c.name} ${r}`);
    }
    for (const name of oldChains.keys()) {
      flush.push(`flush chain ${t} ${name}`);
      delChains.push(`delete chain ${t} ${name}`);
    }
  }
  // The spread-N chains never change their rules; beyond the preset ones they come and go
  // with the counts in use (added only by a full replacement, see presetSpreads).
  const spreadIn = (rs: Ruleset) =>
    new Map(rs.chains.filter((c) => c.name.startsWith("spread-")).map((c) => [c.name, c]));
  const spreadFrom = spreadIn(from);
  const spreadTo = spreadIn(to);
  for (const name of spreadTo.keys()) if (!spreadFrom.has(name)) return null;
  for (const name of spreadFrom.keys()) {
    if (spreadTo.has(name)) continue;
    flush.push(`flush chain ${t} ${name}`);
    delChains.push(`delete chain ${t} ${name}`);
  }
  // Shared sets (owned addresses, nodes, hairpin pairs) are small: compared whole.
  if (pairs.length > 0) {
    const fromSets = new Map(from.sets.map((s) => [s.name, s]));
    for (const name of sharedSets) {
      const now = setsByName.get(name);
      const old = fromSets.get(name);
      if (now && old) elementChanges(now, old.elements, now.elements, list(del, name), list(add, name));
    }
  }
  const elements = (verb: string, m: Map<string, string[]>) =>
    [...m]
      .filter(([, l]) => l.length > 0)
      .map(([set, l]) => `${verb} element ${t} ${set} { ${l.join(", ")} }`);
  const lines = [
    ...elements("delete", del),
    ...flush,
    ...delChains,
    ...delSets,
    ...addSets,
    ...addChains,
    ...addRules,
    ...elements("add", add),
  ];
  for (const f of handoverFamilies) {
    const before = from.handover.find((x) => x.family === f);
    const after = to.handover.find((x) => x.family === f);
    if ((before && handoverDefinition(before)) !== (after && handoverDefinition(after)))
      lines.push(...handoverReplacement(to, f));
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

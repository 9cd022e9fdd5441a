// Ruleset -> nft text. Two forms, both one `nft -f -` transaction (nft sends a file as
// one netlink batch: all of it commits or none does):
//   renderTable  the whole table, replacing any previous one (`table` + `delete table` +
//                definition), the source of truth at start, after failures and on drift;
//   renderUpdate the difference to the last applied ruleset, touching only the chains and
//                elements that changed, so one Service among 10,000 costs milliseconds and
//                the affinity sets of untouched Services keep their clients.
import type { Chain, Element, Field, Match, NamedSet, Rule, Ruleset, Statement } from "./ruleset.js";

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

function renderElement(set: NamedSet, e: Element): string {
  const key = e.key.join(" . ");
  return set.map ? `${key} : goto ${e.goto}` : key;
}

function setHeader(s: NamedSet): string {
  const parts = [`type ${s.type.join(" . ")}${s.map ? " : verdict" : ""};`];
  if (s.flags.length > 0) parts.push(`flags ${s.flags.join(",")};`);
  if (s.timeoutSeconds !== undefined) parts.push(`timeout ${s.timeoutSeconds}s;`);
  return parts.join(" ");
}

function hookLine(c: Chain): string | null {
  if (!c.hook) return null;
  return `type ${c.hook.type} hook ${c.hook.hook} priority ${c.hook.priority}; policy accept;`;
}

export function renderTable(rs: Ruleset): string {
  const out: string[] = [
    `table inet ${rs.table} {}`,
    `delete table inet ${rs.table}`,
    `table inet ${rs.table} {`,
  ];
  for (const s of rs.sets) {
    out.push(`\t${s.map ? "map" : "set"} ${s.name} {`, `\t\t${setHeader(s)}`);
    if (s.elements.length > 0) {
      out.push("\t\telements = {");
      out.push(s.elements.map((e) => `\t\t\t${renderElement(s, e)}`).join(",\n"));
      out.push("\t\t}");
    }
    out.push("\t}");
  }
  for (const c of rs.chains) {
    out.push(`\tchain ${c.name} {`);
    const hook = hookLine(c);
    if (hook) out.push(`\t\t${hook}`);
    for (const r of c.rules) out.push(`\t\t${renderRule(r)}`);
    out.push("\t}");
  }
  out.push("}", "");
  return out.join("\n");
}

/** The text that removes the table (for `stop({ removeTable: true })`). */
export function renderRemoval(table: string): string {
  return `table inet ${table} {}\ndelete table inet ${table}\n`;
}

const setSignature = (s: NamedSet) => `${s.map ? "map" : "set"} ${setHeader(s)}`;
const chainSignature = (c: Chain) => hookLine(c) ?? "";

/**
 * Commands that turn the table `from` into `to`, or null when only a full replacement
 * can (a base chain or a set's type changed). Ordered so that nothing is deleted while
 * still referenced: elements first, then rules, then chains and sets.
 */
export function renderUpdate(from: Ruleset, to: Ruleset): string | null {
  if (from.table !== to.table) return null;
  const t = `inet ${to.table}`;
  const oldSets = new Map(from.sets.map((s) => [s.name, s]));
  const newSets = new Map(to.sets.map((s) => [s.name, s]));
  const oldChains = new Map(from.chains.map((c) => [c.name, c]));
  const newChains = new Map(to.chains.map((c) => [c.name, c]));
  const delElements: string[] = [];
  const addElements: string[] = [];
  const delSets: string[] = [];
  const addSets: string[] = [];
  for (const [name, s] of newSets) {
    const old = oldSets.get(name);
    if (!old) {
      addSets.push(`add ${s.map ? "map" : "set"} ${t} ${name} { ${setHeader(s)} }`);
      if (!s.dynamic && s.elements.length > 0) {
        addElements.push(
          `add element ${t} ${name} { ${s.elements.map((e) => renderElement(s, e)).join(", ")} }`,
        );
      }
      continue;
    }
    if (setSignature(old) !== setSignature(s)) return null;
    if (s.dynamic) continue;
    const before = new Map(old.elements.map((e) => [e.key.join(" . "), renderElement(old, e)]));
    const after = new Map(s.elements.map((e) => [e.key.join(" . "), renderElement(s, e)]));
    const gone = [...before].filter(([k, v]) => after.get(k) !== v).map(([k]) => k);
    const come = [...after].filter(([k, v]) => before.get(k) !== v).map(([, v]) => v);
    if (gone.length > 0) delElements.push(`delete element ${t} ${name} { ${gone.join(", ")} }`);
    if (come.length > 0) addElements.push(`add element ${t} ${name} { ${come.join(", ")} }`);
  }
  for (const [name, s] of oldSets) {
    if (!newSets.has(name)) delSets.push(`delete ${s.map ? "map" : "set"} ${t} ${name}`);
  }
  const flush: string[] = [];
  const delChains: string[] = [];
  const addChains: string[] = [];
  const addRules: string[] = [];
  for (const [name, c] of newChains) {
    const old = oldChains.get(name);
    const rules = c.rules.map(renderRule);
    if (old) {
      if (chainSignature(old) !== chainSignature(c)) return null;
      const oldRules = old.rules.map(renderRule);
      if (oldRules.length === rules.length && oldRules.every((r, i) => r === rules[i])) continue;
      flush.push(`flush chain ${t} ${name}`);
    } else {
      if (c.hook) return null;
      addChains.push(`add chain ${t} ${name}`);
    }
    for (const r of rules) addRules.push(`add rule ${t} ${name} ${r}`);
  }
  for (const [name, c] of oldChains) {
    if (newChains.has(name)) continue;
    if (c.hook) return null;
    flush.push(`flush chain ${t} ${name}`);
    delChains.push(`delete chain ${t} ${name}`);
  }
  const lines = [
    ...delElements,
    ...flush,
    ...delChains,
    ...delSets,
    ...addSets,
    ...addChains,
    ...addRules,
    ...addElements,
  ];
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

// `herald validate FILE...`: checks IPAddressPool YAML before it reaches a
// cluster. Prints each pool's ranges and sizes, or its errors by document and
// field; pools are also checked against each other (overlaps). Exit 1 on any error.
import { readFile } from "node:fs/promises";
import { parseAllDocuments } from "yaml";
import { POOL_KIND, type PoolParse, validatePools } from "../api/ipaddresspool.js";
import { isObject } from "../api/selector.js";
import { poolFamilies, poolSize } from "../domain/pool.js";
import { formatRange, rangeSize } from "../domain/range.js";
import type { Command } from "./command.js";
import { helpRequested } from "./flags.js";

const USAGE = "usage: herald validate FILE... (YAML with one or more IPAddressPool documents; - for stdin)";

interface Doc {
  where: string;
  obj: unknown;
  error?: string;
}

export const validate: Command = async (argv, io) => {
  if (helpRequested(argv)) {
    io.out(USAGE);
    return 0;
  }
  const files = argv[0] === "--" ? argv.slice(1) : argv;
  if (files.length === 0) {
    io.err(USAGE);
    return 2;
  }
  const flag = argv[0] === "--" ? undefined : files.find((f) => f.startsWith("-") && f !== "-");
  if (flag !== undefined) {
    io.err(`herald validate: unknown flag ${flag} (a file named so goes after --)\n${USAGE}`);
    return 2;
  }
  let failed = false;
  const docs: Doc[] = [];
  for (const file of files) {
    const loaded = await load(file);
    if (typeof loaded === "string") {
      io.err(loaded);
      failed = true;
      continue;
    }
    for (const d of loaded) {
      if (d.error !== undefined) {
        io.err(`${d.where}: ${d.error}`);
        failed = true;
      } else if (isObject(d.obj) && d.obj.kind === POOL_KIND) docs.push(d);
      else if (d.obj !== null) io.out(`${d.where}: skipped (kind ${kindOf(d.obj)})`);
    }
  }
  const results = validatePools(docs.map((d) => d.obj));
  results.forEach((r, i) => {
    io.out(describe(docs[i]?.where ?? "?", r));
    if (!r.ok) failed = true;
  });
  if (docs.length === 0 && !failed) {
    io.err("no IPAddressPool documents found");
    return 1;
  }
  return failed ? 1 : 0;
};

async function load(file: string): Promise<string | Doc[]> {
  let text: string;
  try {
    text = file === "-" ? await readStdin() : await readFile(file, "utf8");
  } catch (e) {
    return `${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  }
  return parseAllDocuments(text).map((doc, i) => {
    const where = `${file}#${i + 1}`;
    if (doc.errors.length > 0)
      return { where, obj: undefined, error: `not valid YAML: ${doc.errors[0]?.message ?? ""}` };
    return { where, obj: doc.toJS() };
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function kindOf(obj: unknown): string {
  return isObject(obj) && typeof obj.kind === "string" ? obj.kind : "none";
}

function describe(where: string, r: PoolParse): string {
  const name = r.name === "" ? "(no name)" : r.name;
  if (!r.ok) {
    const n = r.errors.length;
    const lines = r.errors.map((e) => `  ${e.field}: ${e.message}`);
    return [`${where} IPAddressPool ${name}: INVALID (${n} error${n === 1 ? "" : "s"})`, ...lines].join("\n");
  }
  const p = r.pool;
  const flags = [
    p.autoAssign ? "" : "autoAssign=false",
    p.avoidBuggyIPs ? "avoidBuggyIPs" : "",
    p.disabled ? "disabled" : "",
    p.priority === undefined ? "" : `priority=${p.priority}`,
    p.allowSharingAcrossNamespaces ? "allowSharingAcrossNamespaces" : "",
  ].filter((f) => f !== "");
  const header = `${where} IPAddressPool ${name}: valid${flags.length ? ` (${flags.join(", ")})` : ""}`;
  const width = Math.max(...p.ranges.map((x) => formatRange(x).length));
  const ranges = p.ranges.map((x) => `  ${formatRange(x).padEnd(width)}  ${x.family}  ${rangeSize(x)}`);
  const totals = poolFamilies(p).map((f) => `${f} ${poolSize(p, f)}`);
  return [header, ...ranges, `  usable: ${totals.join(", ")}`].join("\n");
}

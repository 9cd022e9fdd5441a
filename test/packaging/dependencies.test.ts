// The image keeps only production dependencies (npm prune --omit=dev). So every package the
// shipped code loads at run time must be a production dependency, and a package used only for
// its types (erased by the compiler) must not be one: it would be carried in the image for nothing.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** The npm package an import specifier names, or undefined for built-ins and relative paths. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("node:")) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** Packages a source file loads at run time, and those it imports for types only. */
function imports(text: string): { runtime: Set<string>; typesOnly: Set<string> } {
  const runtime = new Set<string>();
  const typesOnly = new Set<string>();
  const statement = /(^|\n)\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*"([^"]+)"/g;
  for (const m of text.matchAll(statement)) {
    const name = packageOf(m[5] ?? "");
    if (!name) continue;
    const clause = m[4] ?? "";
    // `import { type A, type B } from` is erased too; `import { type A, b }` is not.
    const named = /^\{([^}]*)\}$/.exec(clause.trim());
    const names = named?.[1]
      ?.split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    const erased = m[3] !== undefined || names?.every((s) => s.startsWith("type ")) === true;
    (erased ? typesOnly : runtime).add(name);
  }
  for (const m of text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) {
    const name = packageOf(m[1] ?? "");
    if (name) runtime.add(name);
  }
  return { runtime, typesOnly };
}

const all = sources("src").map((f) => ({ file: f, ...imports(readFileSync(f, "utf8")) }));
const runtime = new Set(all.flatMap((f) => [...f.runtime]));

test("the import scanner tells run-time imports from type-only ones", () => {
  const seen = imports(
    [
      'import type { V1Service } from "@kubernetes/client-node";',
      'import { type Logger } from "pino";',
      'import { type FastifyInstance, fastify } from "fastify";',
      'import { join } from "node:path";',
      'import { x } from "./local.js";',
      'const m = await import("yaml");',
    ].join("\n"),
  );
  expect([...seen.runtime].sort()).toEqual(["fastify", "yaml"]);
  expect([...seen.typesOnly].sort()).toEqual(["@kubernetes/client-node", "pino"]);
});

test("every package the shipped code loads at run time is a production dependency", () => {
  const missing = all.flatMap((f) =>
    [...f.runtime].filter((p) => !(p in pkg.dependencies)).map((p) => `${f.file}: ${p}`),
  );
  expect(missing).toEqual([]);
});

test("no production dependency is there only for its types", () => {
  const typesOnly = Object.keys(pkg.dependencies).filter(
    (p) => !runtime.has(p) && all.some((f) => f.typesOnly.has(p)),
  );
  expect(typesOnly).toEqual([]);
});

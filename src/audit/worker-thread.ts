// Starts a worker thread from a module beside the caller: the compiled .js file, or,
// when running from the TypeScript sources (tests), the .ts file, with its imports of
// "./x.js" resolved to "./x.ts" (Node strips the types).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

const FROM_SOURCES = `
const { registerHooks } = require("node:module");
const { existsSync } = require("node:fs");
const { fileURLToPath } = require("node:url");
registerHooks({
  resolve(specifier, context, next) {
    if (specifier.startsWith(".") && specifier.endsWith(".js") && context.parentURL?.startsWith("file:")) {
      const url = new URL(specifier, context.parentURL);
      if (!existsSync(fileURLToPath(url))) return next(specifier.replace(/\\.js$/, ".ts"), context);
    }
    return next(specifier, context);
  },
});
`;

/** `entry` names the module as compiled (".../x.js"); a ".ts" entry is run from the sources. */
export function startWorker(entry: URL): Worker {
  if (entry.pathname.endsWith(".js") && existsSync(fileURLToPath(entry))) return new Worker(entry);
  const source = entry.pathname.endsWith(".js") ? new URL(entry.href.replace(/\.js$/, ".ts")) : entry;
  return new Worker(`${FROM_SOURCES}import(${JSON.stringify(source.href)});`, { eval: true });
}

// Runs scripts/helm-render.sh (the chart rendered like `helm template`, without a
// helm binary) and parses its output into objects.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

export const ALL_ON = "test/helm/values-all-on.yaml";

// The first call may build the renderer (Go), which takes seconds.
export const BUILD_TIMEOUT_MS = 180_000;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    /** Set by the API server (objects read back from a cluster). */
    generation?: number;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML
  [field: string]: any;
}

export function renderRaw(args: string[]): string {
  return execFileSync("scripts/helm-render.sh", args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/**
 * Renders with the given values files (and/or inline values), returns every object. `cluster`
 * holds objects that the chart's `lookup` finds, as on an upgrade.
 */
export function render(
  options: {
    files?: string[];
    values?: string;
    crds?: boolean;
    cluster?: K8sObject[];
    /** More arguments for the renderer, such as --api-versions. */
    args?: string[];
  } = {},
): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), "herald-values-"));
  try {
    const files = [...(options.files ?? [])];
    if (options.values !== undefined) {
      const file = join(dir, "values.yaml");
      writeFileSync(file, options.values);
      files.push(file);
    }
    const args = [
      ...files.flatMap((f) => ["-f", f]),
      ...(options.crds ? ["--include-crds"] : []),
      ...(options.args ?? []),
    ];
    if (options.cluster !== undefined) {
      const file = join(dir, "cluster.json");
      // JSON is YAML: one object per document.
      writeFileSync(file, options.cluster.map((o) => JSON.stringify(o)).join("\n---\n"));
      args.push("--cluster", file);
    }
    return parseStream(renderRaw(args));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function parseStream(text: string): K8sObject[] {
  return parseAllDocuments(text).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`document ${i + 1}: ${doc.errors[0]?.message}`);
    return doc.toJS() as K8sObject;
  });
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} in the rendered chart`);
  return found;
}

export function kindsAndNames(objects: K8sObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
}

// Renders the chart with the real helm (`helm template`, release herald in herald-system, as a
// user's `helm install` names it) and parses its output into objects. Offline, as `helm
// template` is: the chart's `lookup` finds nothing, and the API versions are helm's defaults.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CHART, helmBinary, helmEnv, INSTALL_TIMEOUT_MS } from "./helm-tool.js";

export const ALL_ON = "test/helm/values-all-on.yaml";
export const RELEASE = "herald";
export const NAMESPACE = "herald-system";

// The first call may download helm (scripts/helm.sh), which takes seconds.
export const BUILD_TIMEOUT_MS = INSTALL_TIMEOUT_MS;

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

/** Runs helm offline; a failure throws with helm's stderr (the chart's `fail` message) in it. */
export function helm(args: string[]): string {
  return execFileSync(helmBinary(), args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: helmEnv(),
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** `helm template` of the chart with these arguments (values files, --include-crds, ...). */
export function renderRaw(args: string[]): string {
  return helm(["template", RELEASE, CHART, "--namespace", NAMESPACE, ...args]);
}

/** The rendered NOTES.txt, as `helm install` prints it (a client-only dry run: no cluster). */
export function renderNotes(args: string[] = []): string {
  const out = helm(["install", RELEASE, CHART, "--namespace", NAMESPACE, "--dry-run=client", ...args]);
  const at = out.indexOf("\nNOTES:\n");
  if (at < 0) throw new Error("helm install --dry-run printed no NOTES");
  return out.slice(at + "\nNOTES:\n".length);
}

/** Renders with the given values files (and/or inline values), returns every object. */
export function render(
  options: {
    files?: string[];
    values?: string;
    crds?: boolean;
    /** More arguments for `helm template`, such as --api-versions. */
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

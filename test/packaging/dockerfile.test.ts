// The Dockerfile checked against what can drift: the build commands of scripts/up, the CLI's
// entry point, and the user the chart runs the controller as. (test/image/ builds and runs it.)
import { readFileSync } from "node:fs";
import { BUILD_TIMEOUT_MS, find, render } from "../helm/render.js";

interface Stage {
  from: string;
  instructions: { op: string; args: string }[];
}

/**
 * Dockerfile stages with their instructions, continuation lines joined and comments dropped;
 * `${ARG}` in FROM resolved to the default of an ARG declared before the first FROM.
 */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .split("\n")
    .filter((l) => !l.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const stages: Stage[] = [];
  const globalArgs = new Map<string, string>();
  for (const line of logical) {
    const [op = "", ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    if (op.toUpperCase() === "FROM") {
      const from = args.replace(/\$\{(\w+)\}/g, (_, name: string) => globalArgs.get(name) ?? "");
      stages.push({ from, instructions: [] });
    } else if (stages.length === 0 && op.toUpperCase() === "ARG") {
      const [name = "", value = ""] = args.split("=");
      globalArgs.set(name, value);
    } else stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

const shellCommands = (stage: Stage) =>
  stage.instructions.filter((i) => i.op === "RUN").flatMap((i) => i.args.split("&&").map((c) => c.trim()));

const stages = parseDockerfile(readFileSync("Dockerfile", "utf8"));
const build = stages[0];
const runtime = stages.at(-1);

test("has a build stage and a slim Node 24 runtime stage", () => {
  expect(stages).toHaveLength(2);
  expect(build?.from).toMatch(/^node:24-\S+ AS build$/);
  expect(runtime?.from).toMatch(/^node:24-\S*slim$/);
  const engines = JSON.parse(readFileSync("package.json", "utf8")).engines.node;
  expect(engines).toBe(">=24");
});

test("both stages default to the public Node 24 base, which a build argument can replace", () => {
  const text = readFileSync("Dockerfile", "utf8");
  expect(text).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
  const base = "$" + "{NODE_IMAGE}";
  expect(text.match(/^FROM .*$/gm)).toEqual([`FROM ${base} AS build`, `FROM ${base}`]);
});

test("installs dependencies before the sources are copied, so a source change reuses that layer", () => {
  const ops = (build as Stage).instructions.map((i) => `${i.op} ${i.args}`);
  const install = ops.findIndex((o) => o.startsWith("RUN") && o.includes("npm install"));
  const copyAll = ops.indexOf("COPY . .");
  expect(install).toBeGreaterThan(0);
  expect(copyAll).toBeGreaterThan(install);
  const copiedBefore = ops.slice(0, install).filter((o) => o.startsWith("COPY "));
  expect(copiedBefore).toEqual(["COPY package.json package-lock.json ./", "COPY native ./native"]);
  // The addon is built by npm install, from native/ alone (binding.gyp and its sources).
  const ignored = readFileSync(".dockerignore", "utf8").split("\n");
  expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", "native/build", ".git"]));
});

test("builds with exactly the npm commands of scripts/up, in the same order", () => {
  const up = readFileSync("scripts/up", "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("npm "));
  expect(up.length).toBeGreaterThanOrEqual(2);
  const docker = shellCommands(build as Stage).filter(
    (c) => c.startsWith("npm ") && !c.startsWith("npm prune"),
  );
  expect(docker).toEqual(up);
});

test("ships only production dependencies, with the tools the speaker calls", () => {
  expect(shellCommands(build as Stage)).toContain("npm prune --omit=dev --no-audit --no-fund");
  const installs = shellCommands(runtime as Stage).find((c) => c.startsWith("apt-get install"));
  expect(installs?.split(/\s+/)).toEqual(expect.arrayContaining(["nftables", "iproute2"]));
  const copied = (runtime as Stage).instructions
    .filter((i) => i.op === "COPY")
    .map((i) => i.args.split(" ")[1]);
  expect(copied).toEqual(
    expect.arrayContaining([
      "/app/node_modules",
      "/app/dist",
      "/app/native/build/Release",
      "/app/package.json",
    ]),
  );
});

test("the entrypoint is the CLI that package.json names as `herald`", () => {
  const entry = (runtime as Stage).instructions.find((i) => i.op === "ENTRYPOINT");
  const bin = JSON.parse(readFileSync("package.json", "utf8")).bin.herald;
  expect(JSON.parse(entry?.args ?? "null")).toEqual(["node", `/app/${bin}`]);
});

test(
  "runs as a non-root user, the same one the chart runs the controller as",
  () => {
    const users = (runtime as Stage).instructions.filter((i) => i.op === "USER").map((i) => i.args);
    expect(users).toHaveLength(1);
    expect(users[0]).not.toMatch(/^(0|root)(:|$)/);
    const controller = find(render(), "Deployment", "herald-controller").spec.template.spec.securityContext;
    expect(String(controller.runAsUser)).toBe(users[0]);
  },
  BUILD_TIMEOUT_MS,
);

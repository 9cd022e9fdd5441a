// Deliberately broken builds of Herald, for showing that each soak referee catches what it
// claims: a copy of dist/ with one compiled file changed in one place, run through
// HERALD_LAB_MAIN. The place must be found exactly once, so a refactoring that moves it makes
// the test fail loudly instead of quietly testing an unbroken build.
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../controller/lab-controller.js";
import type { FaultKind, Verdict } from "./model.js";

export interface Sabotage {
  /** What is broken, as the test's name says it. */
  what: string;
  /** The referee that must fail on it. */
  referee: Verdict["referee"];
  /** The compiled file, relative to dist/src. */
  file: string;
  find: string;
  replace: string;
  /** The faults the soak needs to show it (default: the schedule's own). */
  faults?: FaultKind[];
  minutes: number;
  seed: number;
}

export const SABOTAGES: Sabotage[] = [
  {
    what: "a speaker that ignores heartbeats (it counts only itself live, so it elects itself for everything)",
    referee: "wire",
    file: "speaker/l2/l2-plan.js",
    find: "live: new Set(view.live)",
    replace: "live: new Set([view.self])",
    minutes: 1,
    seed: 11,
  },
  {
    what: "a controller that does not warm-start (it forgets the addresses Services hold when it becomes leader)",
    referee: "addresses",
    file: "controller/controller.js",
    find: ".filter((s) => isHandled(s, this.o.lbClass) && ingressAddresses(s).length > 0)",
    replace: ".filter(() => false)",
    faults: ["controllerKill"],
    minutes: 1,
    seed: 12,
  },
  {
    // A speaker slow to notice a dead peer (40 missed heartbeats) no longer shows in traffic:
    // a killed speaker's node keeps forwarding with the table it left, and clients keep its MAC.
    what: "a speaker that sends Cluster traffic to the wrong NodePort of the other nodes",
    referee: "traffic",
    file: "speaker/forward/state.js",
    find: "port: p.nodePort,",
    replace: "port: p.nodePort + 1,",
    faults: [],
    minutes: 1,
    seed: 13,
  },
  {
    what: "an audit log that acknowledges allocations without writing them",
    referee: "audit",
    file: "audit/log.js",
    find: "record(input) {",
    replace:
      'record(input) {\n        if (input.kind === "allocated") return Promise.resolve({ durable: true, seq: 0 });',
    faults: [],
    minutes: 1,
    seed: 14,
  },
  {
    what: "a speaker that leaks a file descriptor twice a second",
    referee: "resources",
    file: "cli/speaker.js",
    find: "export const speaker = async (argv, io) => {",
    replace:
      'export const speaker = async (argv, io) => {\n    setInterval(() => process.getBuiltinModule("node:fs").openSync("/dev/null"), 500);',
    faults: [],
    minutes: 1,
    seed: 15,
  },
];

/**
 * Copies dist/ into `root` with the sabotage applied (node_modules, native/ and package.json
 * linked or copied beside it, so imports resolve as from the repository); returns the CLI's path.
 */
export function brokenBuild(root: string, s: Sabotage): string {
  mkdirSync(root, { recursive: true });
  cpSync(join(REPO, "dist"), join(root, "dist"), { recursive: true });
  cpSync(join(REPO, "package.json"), join(root, "package.json"));
  symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"));
  symlinkSync(join(REPO, "native"), join(root, "native"));
  const file = join(root, "dist", "src", s.file);
  const text = readFileSync(file, "utf8");
  const at = text.indexOf(s.find);
  if (at < 0 || text.indexOf(s.find, at + 1) >= 0)
    throw new Error(`${s.file}: "${s.find}" must occur exactly once (found ${at < 0 ? "none" : "more"})`);
  writeFileSync(file, text.slice(0, at) + s.replace + text.slice(at + s.find.length));
  return join(root, "dist", "src", "cli", "main.js");
}

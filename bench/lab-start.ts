// Start-to-ready time of the lab on a warm binary cache: starts and stops a lab
// `--runs` times (default 3) with `--nodes` nodes (default 3), prints JSON with
// every run's steps, then one summary line. Needs root and scripts/k8s-binaries.sh.
//
//   npm run bench:lab -- --runs 5 --nodes 3
import { parseArgs } from "node:util";
import { Lab } from "../test/lab/lab.js";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "3" }, nodes: { type: "string", default: "3" } },
});
const runs = Number(values.runs);
const nodes = Number(values.nodes);

const results: { startMs: number; stopMs: number; steps: Record<string, number> }[] = [];
for (let i = 0; i < runs; i++) {
  const lab = await Lab.start({ nodes });
  const t = performance.now();
  await lab.stop();
  results.push({
    startMs: lab.startedInMs,
    stopMs: Math.round(performance.now() - t),
    steps: { ...lab.timings },
  });
}
const starts = results.map((r) => r.startMs).sort((a, b) => a - b);
const median = starts[Math.floor(starts.length / 2)] ?? 0;
process.stdout.write(
  `${JSON.stringify({ bench: "lab-start", nodes, runs: results, medianStartMs: median }, null, 2)}\n`,
);
process.stdout.write(
  `lab-start: ${nodes} nodes, median start-to-ready ${median} ms over ${runs} runs (min ${starts[0]}, max ${starts.at(-1)})\n`,
);
// The lab's HTTP clients may keep sockets open; nothing else is left to wait for.
process.exit(0);

// Starting a lab in a test file: prints the start-to-ready time, so every lab test
// run shows it next to its results.
import { Lab, type LabOptions } from "./lab.js";

/** Time allowed for a lab to start in beforeAll (a warm start takes seconds). */
export const LAB_START_TIMEOUT_MS = 120_000;

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const lab = await Lab.start(options);
  const steps = Object.entries(lab.timings)
    .map(([k, v]) => `${k} ${v} ms`)
    .join(", ");
  process.stderr.write(`lab ${lab.prefix} start-to-ready: ${lab.startedInMs} ms (${steps})\n`);
  return lab;
}

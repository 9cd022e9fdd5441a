// Render + apply time of the forwarding table with a real nft in a scratch network
// namespace: full table for 1,000 and 10,000 Services, and one changed Service among
// 10,000 (incremental transaction). Needs root. Prints JSON, then one summary line.
//   npm run bench:forwarding-apply
import { execFileSync } from "node:child_process";
import { nftExec } from "../src/speaker/forward/nft.js";
import { renderTable, renderUpdate } from "../src/speaker/forward/render.js";
import { type BuildMemo, buildRuleset } from "../src/speaker/forward/ruleset.js";
import { newPlanMemo, planForwarding } from "../src/speaker/forward/state.js";
import { manyServices } from "../test/speaker/forward/fixtures.js";
import { removeStale } from "../test/speaker/forward/netns.js";

const ns = `hfwd${process.pid}-bench`;
const rounds = 5;
const changeRounds = 21;
// nsenter rather than `ip netns exec`, which remounts /sys on every call; the speaker
// runs nft in its own (host) namespace with no wrapper at all. /usr/bin/time reports
// the CPU nft used, which a busy machine does not inflate the way it does wall time.
const nft = nftExec(["/usr/bin/time", "-f", "cpu %U %S", "nsenter", `--net=/run/netns/${ns}`, "nft"]);
let nftCpuMs = 0;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const round = (x: number) => Math.round(x * 10) / 10;

async function send(text: string): Promise<number> {
  const t0 = performance.now();
  const r = await nft(["-f", "-"], text);
  if (r.code !== 0) throw new Error(r.stderr);
  const cpu = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  nftCpuMs = cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : Number.NaN;
  return performance.now() - t0;
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function full(n: number) {
  const s = manyServices(n);
  const renderMs: number[] = [];
  const renderCpuMs: number[] = [];
  const applyMs: number[] = [];
  const applyCpuMs: number[] = [];
  let lines = 0;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const c0 = cpuNow();
    const text = renderTable(buildRuleset(planForwarding(s)));
    renderCpuMs.push(cpuNow() - c0);
    renderMs.push(performance.now() - t0);
    lines = text.split("\n").length;
    applyMs.push(await send(text));
    applyCpuMs.push(nftCpuMs);
  }
  return summary(renderMs, renderCpuMs, applyMs, applyCpuMs, { lines });
}

function summary(
  renderMs: number[],
  renderCpuMs: number[],
  applyMs: number[],
  applyCpuMs: number[],
  extra: object,
) {
  const r = {
    renderMs: round(median(renderMs)),
    applyMs: round(median(applyMs)),
    renderCpuMs: round(median(renderCpuMs)),
    nftCpuMs: round(median(applyCpuMs)),
  };
  return { ...r, totalMs: round(r.renderMs + r.applyMs), ...extra };
}

/** As the applier does it: memoized plan and build, incremental transaction. */
async function oneChange(n: number) {
  const s = manyServices(n);
  const planMemo = newPlanMemo();
  const buildMemo: BuildMemo = { parts: new Map() };
  let current = buildRuleset(planForwarding(s, planMemo), buildMemo);
  await send(renderTable(current));
  const renderMs: number[] = [];
  const renderCpuMs: number[] = [];
  const applyMs: number[] = [];
  const applyCpuMs: number[] = [];
  for (let i = 0; i < changeRounds; i++) {
    const at = (i * 997) % n;
    const changed = s.services[at];
    if (!changed) throw new Error("fixture");
    s.services[at] = { ...changed, localEndpoints: [`198.51.100.${201 + (i % 50)}`] };
    const t0 = performance.now();
    const c0 = cpuNow();
    const next = buildRuleset(planForwarding(s, planMemo), buildMemo);
    const text = renderUpdate(current, next);
    renderCpuMs.push(cpuNow() - c0);
    renderMs.push(performance.now() - t0);
    if (!text) throw new Error("expected an incremental update");
    applyMs.push(await send(text));
    applyCpuMs.push(nftCpuMs);
    current = next;
  }
  const t0 = performance.now();
  const listing = await nft(["list", "table", "inet", "herald"]);
  const listMs = performance.now() - t0;
  if (listing.code !== 0) throw new Error(listing.stderr);
  return summary(renderMs, renderCpuMs, applyMs, applyCpuMs, { driftCheckListMs: round(listMs) });
}

removeStale();
execFileSync("ip", ["netns", "add", ns]);
try {
  const results = {
    full1000: await full(1000),
    full10000: await full(10_000),
    oneChangeAmong10000: await oneChange(10_000),
    nft: execFileSync("nft", ["--version"], { encoding: "utf8" }).trim(),
    rounds: { full: rounds, oneChange: changeRounds },
    loadAverage: (await import("node:os")).loadavg().map(round),
    shape: "per Service: one TCP or UDP port, Cluster, one local pod, two other nodes (3 targets)",
  };
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  const ok = (ms: number, limit: number) => (ms < limit ? "ok" : "OVER");
  process.stdout.write(
    `forwarding-apply: full 1k ${results.full1000.totalMs} ms, full 10k ${results.full10000.totalMs} ms (target 1000: ${ok(results.full10000.totalMs, 1000)}), one change among 10k ${results.oneChangeAmong10000.totalMs} ms (target 50: ${ok(results.oneChangeAmong10000.totalMs, 50)})\n`,
  );
} finally {
  execFileSync("ip", ["netns", "delete", ns]);
}

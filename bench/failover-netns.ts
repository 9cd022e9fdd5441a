// Client-observed failover gap between two speakers in network namespaces (heartbeats over UDP,
// election, responder, announcer; no Kubernetes). A client asks "who has 192.0.2.10?" every
// 10 ms; per trial the owner is killed (SIGKILL), cut off (link down) or stopped (SIGTERM).
// The gap is the longest time without any reply; lost probes are requests left unanswered.
// Needs root.   npm run bench:failover-netns [-- TRIALS]
import { createLan } from "../test/speaker/l2/lan.js";
import { SpeakerProcess } from "../test/speaker/l2/speaker-process.js";
import { percentile } from "./percentile.js";

const trials = Number(process.argv[2] ?? 20);
const PROBE_MS = 10;
const names = ["node-a", "node-b"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Kind = "sigkill" | "linkCut" | "sigterm";

/**
 * gapMs: from the first request that got no answer to the first one answered after it (the
 * longest such stretch); lost: requests never answered; movedAt: when the new owner first answered.
 */
function analyse(sent: number[], answered: [number, number, string][], eventAt: number) {
  const ok = new Set(answered.map((a) => a[0]));
  let gap = 0;
  let lost = 0;
  let stretchStart: number | undefined;
  // The last requests can still be in flight when the client stops: leave out the final 50 ms.
  for (let i = 0; i + 5 < sent.length; i++) {
    const t = sent[i] as number;
    if (!ok.has(i)) {
      lost++;
      stretchStart ??= t;
    } else if (stretchStart !== undefined) {
      gap = Math.max(gap, t - stretchStart);
      stretchStart = undefined;
    }
  }
  const macs = [...new Set(answered.map((a) => a[2]))];
  const firstNew = answered.find((a) => a[2] !== answered[0]?.[2]);
  return {
    gapMs: Math.round(gap),
    lostProbes: lost,
    answeringMacs: macs.length,
    newOwnerAfterMs: firstNew ? Math.round(firstNew[1] - eventAt) : undefined,
  };
}

async function trial(kind: Kind) {
  const lan = createLan(2);
  const procs: SpeakerProcess[] = [];
  try {
    const peers = lan.speakers.map((p, i) => `${names[i]}=${p.ipv4}`);
    for (const [i, s] of lan.speakers.entries()) {
      const p = new SpeakerProcess(
        s.ns,
        [names[i] as string, s.ifname, ...peers, "--", "192.0.2.10"],
        "speak",
      );
      procs.push(p);
      await p.start();
    }
    await sleep(2500);
    const probe = new SpeakerProcess(
      lan.client,
      [lan.bridge, "192.0.2", "192.0.2.10", String(PROBE_MS)],
      "arp-probe",
    );
    procs.push(probe);
    await probe.start();
    const probeStarted = performance.now();
    await sleep(500);
    const owner = procs.find(
      (p) => p.lines.includes("owned 192.0.2.10") && !p.lines.includes("released 192.0.2.10"),
    );
    if (!owner) throw new Error("no owner");
    const eventAt = performance.now() - probeStarted;
    if (kind === "sigkill") await owner.kill();
    if (kind === "linkCut") lan.setLink(procs.indexOf(owner), false);
    if (kind === "sigterm") await owner.stop();
    await sleep(1500);
    const { sent, answered } = (await probe.stop()) as {
      sent: number[];
      answered: [number, number, string][];
    };
    return analyse(sent, answered, eventAt);
  } finally {
    for (const p of procs) await p.kill();
    lan.destroy();
  }
}

const result: Record<string, unknown> = { trials, probeIntervalMs: PROBE_MS };
const summary: string[] = [];
for (const kind of ["sigkill", "linkCut", "sigterm"] as Kind[]) {
  const runs = [];
  for (let i = 0; i < trials; i++) runs.push(await trial(kind));
  const gaps = runs.map((r) => r.gapMs);
  const lost = runs.map((r) => r.lostProbes);
  result[kind] = {
    gapMs: { p50: percentile(gaps, 50), p99: percentile(gaps, 99), max: Math.max(...gaps) },
    lostProbesMax: Math.max(...lost),
    runs,
  };
  summary.push(
    `${kind} gap p50 ${percentile(gaps, 50)} ms p99 ${percentile(gaps, 99)} ms (lost probes max ${Math.max(...lost)})`,
  );
}
console.log(JSON.stringify(result));
console.log(`failover-netns (${trials} trials each): ${summary.join("; ")}`);

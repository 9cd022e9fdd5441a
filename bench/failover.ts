// Client-observed failover in the lab: three nodes with kube-proxy, the controller and a
// speaker each, one LoadBalancer Service with a Pod on every node. The client asks "who has
// VIP?" every 10 ms and opens a new HTTP connection to VIP every 10 ms; per trial the owner's
// link is cut, its speaker is killed (SIGKILL) or stopped (SIGTERM), and the longest stretch
// without an answer is measured from the client's side. The lab is dual-stack and the Service
// RequireDualStack: beside ARP for its IPv4 address the client sends a neighbour solicitation
// for its IPv6 address every 10 ms (the NDP gap), and notes when the new owner's unsolicited NA
// arrives after the event (NA-observed). linkCutSpoofed cuts the link while a
// LAN host (its own namespace on the bridge, 192.0.2.66) claims VIP with the owner's MAC at 100
// gratuitous ARPs a second, from just before the cut until the trial's end. Needs root and the lab
// binaries.
//   npm run bench:failover [-- TRIALS [KIND,...]] [--containers]
//     kinds: linkCut, sigkill, sigterm, linkCutSpoofed (default all); --containers runs the
//     controller and speakers from the image as the chart's Pods (test/image/chart-lab.ts)
//     instead of host processes.
import { join } from "node:path";
import { createService, eventually, ingress, lbService, REPO } from "../test/controller/lab-controller.js";
import { startChartLab } from "../test/image/chart-lab.js";
import { addHost } from "../test/lab/network.js";
import { type LabProcess, waitForOutput } from "../test/lab/process.js";
import { startHeraldLab } from "../test/speaker/lab-speaker.js";
import { percentile } from "./percentile.js";

const containers = process.argv.includes("--containers");
const positional = process.argv.slice(2).filter((a) => a !== "--containers");
const trials = Number(positional[0] ?? 20);
const ALL_KINDS = ["linkCut", "sigkill", "sigterm", "linkCutSpoofed"] as const;
const SPOOF_PER_SECOND = 100;
const kinds = (positional[1]?.split(",") ?? ALL_KINDS) as Kind[];
if (kinds.some((k) => !ALL_KINDS.includes(k))) throw new Error(`kinds are ${ALL_KINDS.join(", ")}`);
const PROBE_MS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Kind = (typeof ALL_KINDS)[number];

// Lab processes do not hold the event loop open: waiting only for one of them to exit would
// otherwise end this script early.
const keepAlive = setInterval(() => {}, 1000);
const h = containers
  ? await startChartLab(3, { dualStack: true })
  : await startHeraldLab(3, { dualStack: true });
const { lab } = h;
// The spoofer's namespace carries the lab's prefix, so the lab's cleanup removes it too.
const spooferNetns = `${lab.prefix}-spoofer`;
if (kinds.includes("linkCutSpoofed"))
  await addHost({
    labNetns: lab.labNetns,
    netns: spooferNetns,
    bridgePort: "spoofer",
    v4: "192.0.2.66",
    v6: "2001:db8::66",
    router: false,
  });

/** The final JSON line a probe prints when it stops. */
async function stopProbe<T>(p: LabProcess): Promise<T> {
  await p.stop(5000);
  const lines = p.output().trim().split("\n");
  return JSON.parse(lines.at(-1) ?? "{}") as T;
}

/**
 * Gap: from the first ARP request that got no answer to the next one that did (the longest
 * such stretch); lost: requests without an answer. `answered(i)` says whether request i was.
 */
function gaps(starts: number[], answered: (i: number) => boolean) {
  let gap = 0;
  let lost = 0;
  let stretch: number | undefined;
  // Leave out the last 100 ms: those requests may still be in flight when the probe stops.
  const end = (starts.at(-1) ?? 0) - 100;
  for (let i = 0; i < starts.length && (starts[i] as number) < end; i++) {
    const t = starts[i] as number;
    if (!answered(i)) {
      lost++;
      stretch ??= t;
    } else if (stretch !== undefined) {
      gap = Math.max(gap, t - stretch);
      stretch = undefined;
    }
  }
  if (stretch !== undefined) gap = Math.max(gap, end - stretch);
  return { gapMs: Math.round(gap), lost };
}

const nodeOfMac = (mac: string) => [...h.macs].find(([, m]) => m === mac)?.[0] ?? mac;

async function trial(kind: Kind, vip: string, vip6: string) {
  const owner = await h.answeringNode(vip);
  const ndp = lab.spawn("client", {
    name: "ndp-ping",
    command: process.execPath,
    args: [join(REPO, "dist/test/speaker/ndp-ping.js"), "eth0", lab.client.v6, vip6, "0", `${PROBE_MS}`],
  });
  await waitForOutput(ndp, "ready", 10_000);
  const ndpStarted = performance.now();
  const arp = lab.spawn("client", {
    name: "arp-ping",
    command: process.execPath,
    args: [join(REPO, "dist/test/speaker/arp-ping.js"), "eth0", lab.client.v4, vip, "0", `${PROBE_MS}`],
  });
  const http = lab.spawn("client", {
    name: "http-probe",
    command: process.execPath,
    args: [join(REPO, "dist/bench/http-probe.js"), `http://${vip}/`, `${PROBE_MS}`, "3000"],
  });
  // The probe's clock starts just before it prints "ready".
  await waitForOutput(http, "ready", 10_000);
  const httpStarted = performance.now();
  let spoofer: LabProcess | undefined;
  if (kind === "linkCutSpoofed") {
    const mac = h.macs.get(owner) ?? "";
    const script = join(REPO, "dist/bench/claim-spoofer.js");
    spoofer = lab.spawn("lab", {
      name: "claim-spoofer",
      command: "ip",
      args: [
        "netns",
        "exec",
        spooferNetns,
        process.execPath,
        script,
        "eth0",
        vip,
        mac,
        `${SPOOF_PER_SECOND}`,
      ],
    });
    await waitForOutput(spoofer, "ready", 10_000);
  }
  await sleep(700);
  const eventAt = performance.now();
  if (kind === "linkCut" || kind === "linkCutSpoofed") await lab.cutLink(owner);
  if (kind === "sigkill") await h.speakers.get(owner)?.kill();
  if (kind === "sigterm") await h.speakers.get(owner)?.stop(5000);
  await sleep(2500);
  const a = await stopProbe<{ sent: number[]; replies: [number, string][] }>(arp);
  const n = await stopProbe<{ sent: number[]; replies: [number, string][]; unsolicited: [number, string][] }>(
    ndp,
  );
  const w = await stopProbe<{ requests: [number, number, number, string?][]; stoppedAt: number }>(http);
  const spoofed = spoofer ? (await stopProbe<{ sent?: number }>(spoofer)).sent : undefined;
  // Put things back: the owner returns and (rendezvous hashing) takes its address back.
  if (kind === "linkCut" || kind === "linkCutSpoofed") await lab.restoreLink(owner);
  else await h.ensureSpeaker(owner);
  await sleep(2500);
  // An ARP request counts as answered when a reply comes before the one after next is sent.
  const arpResult = gaps(a.sent, (i) => {
    const t = a.sent[i] as number;
    const until = a.sent[i + 2] ?? t + 3 * PROBE_MS;
    return a.replies.some(([r]) => r >= t && r < until);
  });
  const ndpResult = gaps(n.sent, (i) => {
    const t = n.sent[i] as number;
    const until = n.sent[i + 2] ?? t + 3 * PROBE_MS;
    return n.replies.some(([r]) => r >= t && r < until);
  });
  // The first unsolicited NA from another node after the event, in ms after the event.
  const ownerMac = h.macs.get(owner);
  const eventInNdp = eventAt - ndpStarted;
  const na = n.unsolicited.find(([t, m]) => t >= eventInNdp && m !== ownerMac);
  const naObservedMs = na ? Math.round(na[0] - eventInNdp) : undefined;
  // HTTP: a request sent into the gap often succeeds later (SYN retransmitted after 1 s), so
  // the gap is the longest time between two successful answers as the client receives them.
  const done = w.requests
    .filter((r) => r[1] === 1)
    .map((r) => r[2])
    .sort((x, y) => x - y);
  // A request still open when the probe stopped and sent in its last 100 ms was cut short, not
  // lost (like ARP's last 100 ms); one open for longer hung, and counts.
  const lost = w.requests.filter((r) => r[1] === 0 && !(r[3] === "open" && r[0] > w.stoppedAt - 100));
  const httpResult = {
    gapMs: Math.round(Math.max(0, ...done.slice(1).map((t, i) => t - (done[i] as number)))),
    lost: lost.length,
  };
  // Failed requests: started how many ms after the event, and how they failed.
  const sinceEvent = (t: number) => Math.round(t - (eventAt - httpStarted));
  const failures = lost.map((r) => [sinceEvent(r[0]), r[3] ?? ""]);
  return {
    owner,
    arp: arpResult,
    // Every unsolicited NA the client saw, in ms after the event, with its sender.
    ndp: {
      ...ndpResult,
      naObservedMs,
      unsolicited: n.unsolicited.map(([t, m]) => [Math.round(t - eventInNdp), nodeOfMac(m)]),
    },
    http: { ...httpResult, requests: w.requests.length, failures },
    macs: new Set(a.replies.map(([, m]) => m)).size,
    ...(spoofed !== undefined ? { spoofedFrames: spoofed } : {}),
  };
}

const runtime = containers ? "containers" : "processes";
const result: Record<string, unknown> = { trials, probeIntervalMs: PROBE_MS, nodes: 3, runtime };
const summary: string[] = [];
try {
  await Promise.all(
    h.nodes.map((n, i) => lab.createPod({ name: `web-${i + 1}`, node: n, labels: { app: "web" } })),
  );
  await createService(
    h.api,
    "default",
    lbService("web", { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"] }),
  );
  const [vip, vip6] = await eventually("web gets both addresses", async () => {
    const ips = await ingress(h.api, "default", "web");
    return ips.length === 2 ? (ips as [string, string]) : undefined;
  });
  await h.answeringNode(vip);
  for (const kind of kinds) {
    const runs = [];
    for (let i = 0; i < trials; i++) runs.push(await trial(kind, vip, vip6));
    const stats = (values: number[]) => ({
      p50: percentile(values, 50),
      p99: percentile(values, 99),
      max: Math.max(...values),
    });
    const arpGap = stats(runs.map((r) => r.arp.gapMs));
    const httpGap = stats(runs.map((r) => r.http.gapMs));
    const ndpGap = stats(runs.map((r) => r.ndp.gapMs));
    const observed = runs.flatMap((r) => (r.ndp.naObservedMs === undefined ? [] : [r.ndp.naObservedMs]));
    const naObserved = observed.length > 0 ? stats(observed) : undefined;
    const naMissing = runs.length - observed.length;
    const lostArp = Math.max(...runs.map((r) => r.arp.lost));
    const lostHttp = Math.max(...runs.map((r) => r.http.lost));
    const lostHttpTotal = runs.reduce((n, r) => n + r.http.lost, 0);
    result[kind] = {
      arpGapMs: arpGap,
      httpGapMs: httpGap,
      ndpGapMs: ndpGap,
      naObservedMs: naObserved,
      naMissing,
      lostArpMax: lostArp,
      lostHttpMax: lostHttp,
      lostHttpTotal,
      runs,
    };
    summary.push(
      `${kind}: ARP gap p50 ${arpGap.p50} p99 ${arpGap.p99} ms, NDP gap p50 ${ndpGap.p50} p99 ${ndpGap.p99} ms, unsolicited NA after the event p50 ${naObserved?.p50} p99 ${naObserved?.p99} ms (none in ${naMissing} trials), HTTP gap p50 ${httpGap.p50} p99 ${httpGap.p99} ms (lost max ARP ${lostArp}, HTTP ${lostHttp}; HTTP lost in all trials ${lostHttpTotal})`,
    );
  }
} finally {
  await lab.stop();
  clearInterval(keepAlive);
}
console.log(JSON.stringify(result));
console.log(
  `failover in the lab (${runtime}, ${trials} trials each, probes every ${PROBE_MS} ms): ${summary.join("; ")}`,
);
process.exit(0);

// ARP reply latency in the lab as a LAN host sees it: three nodes with the controller and a
// speaker each, one LoadBalancer Service; the client asks "who has VIP?" every 10 ms and times
// each request until the owner's reply arrives. Times are taken in the probe's own event loop
// (the send and the receive callback), so they include its scheduling, not only the speaker's.
// Needs root and the lab binaries.
//   npm run bench:arp-latency [-- REQUESTS]
import { arpRun, startHeraldLab } from "../test/speaker/lab-speaker.js";
import { percentile } from "./percentile.js";

const requests = Number(process.argv[2] ?? 1000);
const INTERVAL_MS = 10;
const TIMEOUT_MS = 100;

// Lab processes do not hold the event loop open.
const keepAlive = setInterval(() => {}, 1000);
const h = await startHeraldLab(3);
const { lab } = h;
let result: Record<string, unknown> = {};
let summary = "";
try {
  await lab.createPod({ name: "web-1", node: "node-1", labels: { app: "web" } });
  const vip = await h.loadBalancer("web");
  const owner = await h.answeringNode(vip);
  const run = await arpRun(lab, vip, requests, INTERVAL_MS);
  // A reply names no request (same source each time): replies come in order, so each one
  // answers the oldest request still waiting, unless that one is older than TIMEOUT_MS (lost).
  // A stall of the probe's event loop thus shows as a longer latency, not as a lost request.
  const latencies: number[] = [];
  const unanswered: number[] = [];
  let next = 0;
  for (const [r] of run.replies) {
    while (next < run.sent.length && r - (run.sent[next] as number) >= TIMEOUT_MS)
      unanswered.push(run.sent[next++] as number);
    const t = run.sent[next];
    if (t === undefined || t > r) continue;
    latencies.push(r - t);
    next++;
  }
  unanswered.push(...run.sent.slice(next));
  const round = (ms: number) => Math.round(ms * 100) / 100;
  const stats = {
    p50: round(percentile(latencies, 50)),
    p90: round(percentile(latencies, 90)),
    p99: round(percentile(latencies, 99)),
    max: round(Math.max(...latencies)),
  };
  const lost = unanswered.length;
  const macs = [...new Set(run.replies.map(([, mac]) => mac.toLowerCase()))];
  result = {
    requests: run.sent.length,
    intervalMs: INTERVAL_MS,
    owner,
    macs,
    lost,
    unansweredAtMs: unanswered,
    replies: run.replies.length,
    latencyMs: stats,
  };
  summary =
    `ARP reply latency in the lab (${run.sent.length} requests every ${INTERVAL_MS} ms, owner ${owner}): ` +
    `p50 ${stats.p50} ms, p90 ${stats.p90} ms, p99 ${stats.p99} ms, max ${stats.max} ms, ` +
    `${lost} unanswered, ${macs.length} MAC(s)`;
} finally {
  await lab.stop();
  clearInterval(keepAlive);
}
console.log(JSON.stringify(result));
console.log(summary);
process.exit(0);

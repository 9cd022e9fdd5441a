// Heartbeat load per node at 3, 50 and 200 nodes: full mesh at 100 ms against the successor plan
// (fast to the next two candidates of each owned address, 1 s to the rest), from a simulated
// cluster with five single-stack Services per node. Then the measured CPU cost of one heartbeat
// (sign + encode on the sender; decode + verify + Membership.observe on the receiver), which
// turns packet rates into a CPU share. Kernel UDP costs are not included.
//   npm run bench:heartbeat
import { type ElectionService, electOwner } from "../src/domain/election.js";
import { decodeHeartbeat, encodeHeartbeat, ownedDigest } from "../src/speaker/l2/heartbeat.js";
import { planHeartbeats, planRate } from "../src/speaker/l2/heartbeat-plan.js";
import { Membership } from "../src/speaker/l2/membership.js";

const SERVICES_PER_NODE = 5;

function cluster(n: number) {
  const names = Array.from({ length: n }, (_, i) => `node-${String(i).padStart(3, "0")}`);
  const nodes = names.map((name) => ({ name, labels: {}, ready: true, networkUnavailable: false }));
  const services: ElectionService[] = Array.from({ length: n * SERVICES_PER_NODE }, (_, i) => ({
    key: `ns/svc-${i}`,
    addresses: [`2001:db8::${i.toString(16)}`],
    advertisements: [{}],
    trafficPolicy: "Cluster",
    endpointNodes: [],
  }));
  const elections = [...electOwner({ nodes, live: new Set(names), services }).values()];
  const sent = new Map<string, number>();
  const received = new Map<string, number>(names.map((x) => [x, 0]));
  for (const self of names) {
    const plan = planHeartbeats(self, names, elections);
    sent.set(self, planRate(plan));
    for (const [peer, interval] of plan) received.set(peer, (received.get(peer) ?? 0) + 1000 / interval);
  }
  const stats = (m: Map<string, number>) => {
    const v = [...m.values()];
    return { mean: Math.round(v.reduce((a, b) => a + b, 0) / v.length), max: Math.round(Math.max(...v)) };
  };
  return { nodes: n, fullMeshPerNode: 10 * (n - 1), planSent: stats(sent), planReceived: stats(received) };
}

function perSecond(fn: (i: number) => void, ms = 1000): number {
  for (let i = 0; i < 2000; i++) fn(i);
  const start = performance.now();
  let i = 0;
  while (performance.now() - start < ms) {
    for (let j = 0; j < 500; j++) fn(i++);
  }
  return Math.round(i / ((performance.now() - start) / 1000));
}

const key = Buffer.alloc(32, 7);
const digest = ownedDigest(["2001:db8::1", "192.0.2.10"]);
const beat = (node: string, sequence: number) => ({
  node,
  incarnation: 1_763_780_000_000,
  sequence,
  intervalMs: 100,
  leaving: false,
  ownedCount: 2,
  ownedDigest: digest,
});
const peers = Array.from({ length: 200 }, (_, i) => `node-${String(i).padStart(3, "0")}.example.internal`);
const encodePerSecond = perSecond((i) => encodeHeartbeat(beat(peers[i % 200] as string, i), key));
const packets = peers.map((p) => encodeHeartbeat(beat(p, 1), key));
const membership = new Membership({ self: "me" });
const receivePerSecond = perSecond((i) => {
  const d = decodeHeartbeat(packets[i % 200] as Buffer, key);
  if (d.ok) membership.observe({ ...d.value, sequence: i + 2 }, i);
});

const sizes = [3, 50, 200].map(cluster);
const cpu = (send: number, recv: number) =>
  Number(((send / encodePerSecond + recv / receivePerSecond) * 100).toFixed(2));
const result = {
  servicesPerNode: SERVICES_PER_NODE,
  heartbeatBytes: (packets[0] as Buffer).length,
  clusters: sizes.map((c) => ({
    ...c,
    cpuPercentFullMesh: cpu(c.fullMeshPerNode, c.fullMeshPerNode),
    cpuPercentPlanMax: cpu(c.planSent.max, c.planReceived.max),
  })),
  encodePerSecond,
  receivePerSecond,
};
console.log(JSON.stringify(result, null, 2));
const line = result.clusters
  .map(
    (c) =>
      `${c.nodes} nodes: mesh ${c.fullMeshPerNode} pkt/s, plan ${c.planSent.mean} (max ${c.planSent.max}) sent / max ${c.planReceived.max} received`,
  )
  .join("; ");
console.log(
  `heartbeat: ${line}; ${encodePerSecond} encodes/s, ${receivePerSecond} verified receives/s per core`,
);

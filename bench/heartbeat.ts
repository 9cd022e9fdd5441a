// Heartbeat load per node at 3, 50 and 200 nodes: full mesh at 100 ms against the successor plan
// (fast between each address's owner and its next two candidates, 1 s to the rest), from a simulated
// cluster with five single-stack Services per node. Then the measured CPU cost of one heartbeat
// (sign + encode on the sender; decode + verify + Membership.observe on the receiver), which
// turns packet rates into a CPU share. Kernel UDP costs are not included. For comparison, the
// cost an Ed25519 signature per heartbeat would add instead of the pair key's HMAC.
//   npm run bench:heartbeat

import { generateKeyPairSync, sign, verify } from "node:crypto";
import { type ElectionService, electOwner } from "../src/domain/election.js";
import { decodeHeartbeat, encodeHeartbeat, ownedDigest } from "../src/speaker/l2/heartbeat.js";
import { planHeartbeats, planRate } from "../src/speaker/l2/heartbeat-plan.js";
import { Membership } from "../src/speaker/l2/membership.js";
import { NodeIdentity, PeerKeys } from "../src/speaker/l2/node-identity.js";

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
const NOW = Date.now();
const beat = (node: string, sequence: number) => ({
  node,
  receiver: "me.example.internal",
  sentAt: NOW,
  incarnation: 1_763_780_000_000,
  sequence,
  intervalMs: 100,
  leaving: false,
  ownedCount: 2,
  ownedDigest: digest,
});
const peers = Array.from({ length: 200 }, (_, i) => `node-${String(i).padStart(3, "0")}.example.internal`);
const me = NodeIdentity.generate();
const identities = peers.map(() => NodeIdentity.generate());
const sendKeys = peers.map(
  (p, i) => identities[i]?.pairKey(p, "me.example.internal", me.publicKey) as Buffer,
);
const peerKeys = new PeerKeys("me.example.internal", me);
peerKeys.set(new Map(peers.map((p, i) => [p, identities[i]?.publicKey as string])));
const encodePerSecond = perSecond((i) =>
  encodeHeartbeat(beat(peers[i % 200] as string, i), key, sendKeys[i % 200] as Buffer),
);
const packets = peers.map((p, i) => encodeHeartbeat(beat(p, 1), key, sendKeys[i] as Buffer));
const membership = new Membership({ self: "me.example.internal" });
const receiver = {
  clusterKey: key,
  self: "me.example.internal",
  now: NOW,
  windowMs: membership.windowMs,
  pairKey: (sender: string) => peerKeys.get(sender)?.receive,
};
const receivePerSecond = perSecond((i) => {
  const d = decodeHeartbeat(packets[i % 200] as Buffer, receiver);
  if (d.ok) membership.observe({ ...d.value, sequence: i + 2 }, i, peerKeys.get(d.value.node)?.id);
});
if (!decodeHeartbeat(packets[0] as Buffer, receiver).ok) throw new Error("bench packets do not verify");
// The alternative: an Ed25519 signature per heartbeat, over the same bytes.
const ed = generateKeyPairSync("ed25519");
const signed = packets[0] as Buffer;
const signature = sign(null, signed, ed.privateKey);
const ed25519SignPerSecond = perSecond(() => sign(null, signed, ed.privateKey), 500);
const ed25519VerifyPerSecond = perSecond(() => verify(null, signed, ed.publicKey, signature), 500);

const sizes = [3, 50, 200].map(cluster);
const cpu = (send: number, recv: number) =>
  Number(((send / encodePerSecond + recv / receivePerSecond) * 100).toFixed(2));
const cpuEd25519 = (send: number, recv: number) =>
  Number(
    (
      (send / encodePerSecond +
        send / ed25519SignPerSecond +
        recv / receivePerSecond +
        recv / ed25519VerifyPerSecond) *
      100
    ).toFixed(2),
  );
const result = {
  servicesPerNode: SERVICES_PER_NODE,
  heartbeatBytes: (packets[0] as Buffer).length,
  clusters: sizes.map((c) => ({
    ...c,
    cpuPercentFullMesh: cpu(c.fullMeshPerNode, c.fullMeshPerNode),
    cpuPercentPlanMax: cpu(c.planSent.max, c.planReceived.max),
    cpuPercentPlanMaxWithEd25519: cpuEd25519(c.planSent.max, c.planReceived.max),
  })),
  encodePerSecond,
  receivePerSecond,
  ed25519SignPerSecond,
  ed25519VerifyPerSecond,
};
console.log(JSON.stringify(result, null, 2));
const line = result.clusters
  .map(
    (c) =>
      `${c.nodes} nodes: mesh ${c.fullMeshPerNode} pkt/s, plan ${c.planSent.mean} (max ${c.planSent.max}) sent / max ${c.planReceived.max} received, ${c.cpuPercentPlanMax}% CPU`,
  )
  .join("; ");
console.log(
  `heartbeat: ${line}; ${encodePerSecond} encodes/s, ${receivePerSecond} verified receives/s per core`,
);

// Forwarding cost in the lab: wrk from the client through the load-balancer address (ARP to
// the owner, Herald's nftables DNAT there) against wrk to the owner's NodePort directly (what
// kube-proxy alone gives, the physical limit here). Same Service, Pods on all three nodes;
// rounds alternate so that drift in the machine's load hits both alike.
//   npm run bench:forwarding [-- SECONDS ROUNDS]
import type { V1Service } from "@kubernetes/client-node";
import { getService } from "../test/controller/lab-controller.js";
import { startHeraldLab } from "../test/speaker/lab-speaker.js";

const seconds = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 4);
const CONNECTIONS = 16;

const keepAlive = setInterval(() => {}, 1000); // lab processes do not hold the event loop open
const h = await startHeraldLab(3);
const { lab } = h;

function parseWrk(out: string): { rps: number; p99Ms: number; errors: number } {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const m = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const scale = { us: 0.001, ms: 1, s: 1000 } as const;
  const p99Ms = m ? Number(m[1]) * scale[m[2] as keyof typeof scale] : Number.NaN;
  const errors = [...out.matchAll(/(connect|read|write|timeout) (\d+)/g)].reduce(
    (n, x) => n + Number(x[2]),
    0,
  );
  return { rps, p99Ms, errors };
}

async function wrk(url: string) {
  const out = await lab.exec(
    "client",
    ["wrk", "-t2", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", url],
    { timeoutMs: (seconds + 30) * 1000 },
  );
  return parseWrk(out);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

let result: Record<string, unknown> = {};
try {
  await Promise.all(
    h.nodes.map((n, i) => lab.createPod({ name: `web-${i + 1}`, node: n, labels: { app: "web" } })),
  );
  const vip = await h.loadBalancer("web");
  const owner = await h.answeringNode(vip);
  const svc: V1Service = await getService(h.api, "default", "web");
  const nodePort = svc.spec?.ports?.[0]?.nodePort;
  const ownerIp = lab.node(owner).v4;
  const viaVip: ReturnType<typeof parseWrk>[] = [];
  const direct: ReturnType<typeof parseWrk>[] = [];
  // The echo servers close every connection: tens of thousands per run, each kept by conntrack
  // in TIME_WAIT for 2 minutes by default, slow down whichever run comes later. Forget them fast.
  for (const place of [...h.nodes, "client"])
    await lab.exec(place, ["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_timeout_time_wait=1"]);
  // The client's own sockets wait in TIME_WAIT for 60 s: with ~28,000 ports that caps a run at a few
  // hundred new connections a second, whichever path it measures. Let wrk reuse them.
  await lab.exec("client", [
    "sysctl",
    "-qw",
    "net.ipv4.tcp_tw_reuse=1",
    "net.ipv4.ip_local_port_range=1024 65535",
  ]);
  await wrk(`http://${vip}/`); // warm-up: ARP, conntrack, JIT of the echo servers
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so that a trend in the machine's load hits both alike.
    const order = i % 2 === 0 ? ["vip", "direct"] : ["direct", "vip"];
    for (const which of order) {
      if (which === "vip") viaVip.push(await wrk(`http://${vip}/`));
      else direct.push(await wrk(`http://${ownerIp}:${nodePort}/`));
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  const vipRps = median(viaVip.map((r) => r.rps));
  const directRps = median(direct.map((r) => r.rps));
  const vipP99 = median(viaVip.map((r) => r.p99Ms));
  const directP99 = median(direct.map((r) => r.p99Ms));
  result = {
    seconds,
    rounds,
    connections: CONNECTIONS,
    owner,
    viaAddress: { rps: vipRps, p99Ms: vipP99, runs: viaVip },
    nodePortDirect: { rps: directRps, p99Ms: directP99, runs: direct },
    ratio: Math.round((vipRps / directRps) * 1000) / 1000,
    addedP99Ms: Math.round((vipP99 - directP99) * 100) / 100,
  };
} finally {
  await lab.stop();
  clearInterval(keepAlive);
}
console.log(JSON.stringify(result));
console.log(
  `forwarding: through the address ${result.viaAddress && (result.viaAddress as { rps: number }).rps} req/s vs NodePort direct ${(result.nodePortDirect as { rps: number } | undefined)?.rps} req/s, ratio ${result.ratio}, added p99 ${result.addedP99Ms} ms`,
);
process.exit(0);

// Controller benchmark against the lab's real API server (root; run with
// `npm run bench:controller`). Measures:
//   - time from Service creation to ingress written, p50/p99, at 20 and at 100
//     creations per second (client clock: POST sent -> watch shows the ingress);
//   - 10,000 LoadBalancer Services over 20 pools: time until all are assigned,
//     then a controller restart: time to ready as leader, status writes made
//     during the restart's warm start (should be 0), and the controller's RSS.
// The lab's Service range is widened for this (an IPv6 /108 from 2001:db8::/32):
// 10,000 ClusterIPs do not fit a documentation /24. No traffic is sent.
import { setTimeout as sleep } from "node:timers/promises";
import type { V1Service } from "@kubernetes/client-node";
import type { Rest } from "../src/k8s/rest.js";
import {
  apiOf,
  applyPool,
  createNamespace,
  eventually,
  installCrds,
  leading,
  type RunningController,
  startController,
} from "../test/controller/lab-controller.js";
import { Lab } from "../test/lab/lab.js";

const BULK = Number(process.env.BENCH_SERVICES ?? 10_000);
const POOLS = 20;

function lbService(name: string): object {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: {
      type: "LoadBalancer",
      ipFamilies: ["IPv6"],
      ports: [{ port: 80, protocol: "TCP" }],
      selector: { app: name },
    },
  };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

/** Watches Services in ns and resolves each name's first ingress time. */
function ingressWatcher(rest: Rest, ns: string, signal: AbortSignal) {
  const seen = new Map<string, number>();
  const loop = (async () => {
    while (!signal.aborted) {
      await rest
        .watch(
          `/api/v1/namespaces/${ns}/services?watch=1&allowWatchBookmarks=true`,
          (e) => {
            const svc = e.object as V1Service;
            const name = svc.metadata?.name ?? "";
            if (!seen.has(name) && (svc.status?.loadBalancer?.ingress?.length ?? 0) > 0)
              seen.set(name, performance.now());
          },
          signal,
        )
        .catch(() => undefined);
    }
  })();
  return { seen, loop };
}

async function latencyRun(rest: Rest, ns: string, perSecond: number, seconds: number) {
  await createNamespace(rest, ns);
  const stop = new AbortController();
  const w = ingressWatcher(rest, ns, stop.signal);
  await sleep(300);
  const sent = new Map<string, number>();
  const total = perSecond * seconds;
  const start = performance.now();
  const posts: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const name = `s${i}`;
    // The clock starts when the Service exists: the API server's own queueing is not Herald's latency.
    posts.push(
      rest
        .request("POST", `/api/v1/namespaces/${ns}/services`, lbService(name))
        .then(() => sent.set(name, performance.now())),
    );
  }
  await Promise.all(posts);
  const offeredSeconds = (performance.now() - start) / 1000;
  await eventually(`${ns}: all ${total} assigned`, async () => w.seen.size >= total, 120_000);
  stop.abort();
  const lat = [...sent].map(([name, t]) => (w.seen.get(name) ?? Number.NaN) - t);
  return {
    rate: perSecond,
    achievedRate: Math.round(total / offeredSeconds),
    services: total,
    p50Ms: Math.round(pct(lat, 50)),
    p99Ms: Math.round(pct(lat, 99)),
  };
}

async function metric(c: RunningController, name: string): Promise<number> {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, "m").exec(await c.metrics());
  return Number(m?.[1] ?? Number.NaN);
}

async function main(): Promise<void> {
  const lab = await Lab.start({
    nodes: 1,
    awaitKubeProxy: false,
    apiServerFlags: ["--service-cluster-ip-range=2001:db8:5::/108", "--service-node-port-range=20000-40000"],
  });
  // kube-proxy would spend the run programming 10,000 Services into iptables: not what is measured here.
  for (const n of lab.nodes) await n.kubeProxy.stop();
  try {
    const rest = apiOf(lab);
    await installCrds(lab);
    for (let i = 0; i < POOLS; i++) {
      await applyPool(rest, `pool-${i}`, { addresses: [`2001:db8:6:${i.toString(16)}::/112`] });
    }
    let ctl = startController(lab, "bench-controller", 7472);
    await eventually("controller leading", () => leading(ctl), 60_000);

    const at20 = await latencyRun(rest, "rate20", 20, Number(process.env.BENCH_SECONDS_20 ?? 30));
    const at100 = await latencyRun(rest, "rate100", 100, Number(process.env.BENCH_SECONDS_100 ?? 10));

    await createNamespace(rest, "bulk");
    const t0 = performance.now();
    const names = Array.from({ length: BULK }, (_, i) => `b${i}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names
          .slice(i, i + 50)
          .map((n) => rest.request("POST", "/api/v1/namespaces/bulk/services", lbService(n))),
      );
    }
    const created = performance.now();
    await eventually(
      `all ${BULK} assigned`,
      async () => {
        const l = await rest.request<{ items: V1Service[] }>("GET", "/api/v1/namespaces/bulk/services");
        return l.items.filter((s) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0).length >= BULK;
      },
      600_000,
    );
    const allAssignedMs = performance.now() - t0;
    const rssBeforeRestart = await metric(ctl, "process_resident_memory_bytes");
    if (process.env.HERALD_NODE_OPTIONS?.includes("heapsnapshot-signal")) {
      ctl.proc.signal("SIGUSR2");
      await sleep(20_000);
    }
    const heapBeforeRestart = await metric(ctl, "nodejs_heap_size_used_bytes");

    await ctl.proc.stop();
    const restartAt = performance.now();
    ctl = startController(lab, "bench-controller-2", 7473);
    await eventually("restarted controller leading and ready", () => leading(ctl), 120_000);
    const warmRestartMs = performance.now() - restartAt;
    await sleep(2000);
    const writesAfterRestart = await metric(ctl, 'herald_status_writes_total\\{kind="Service"\\}').catch(
      () => 0,
    );
    const rssAfterRestart = await metric(ctl, "process_resident_memory_bytes");

    const result = {
      benchmark: "controller",
      latency: [at20, at100],
      bulk: {
        services: BULK,
        pools: POOLS,
        createMs: Math.round(created - t0),
        allAssignedMs: Math.round(allAssignedMs),
        warmRestartToReadyMs: Math.round(warmRestartMs),
        serviceStatusWritesAfterRestart: Number.isNaN(writesAfterRestart) ? 0 : writesAfterRestart,
        rssMB: Math.round(Math.max(rssBeforeRestart, rssAfterRestart) / 2 ** 20),
        heapUsedMB: Math.round(heapBeforeRestart / 2 ** 20),
      },
      server: "kube-apiserver v1.20.2 (lab)",
      node: process.version,
    };
    console.log(JSON.stringify(result));
    console.log(
      `controller: ingress p50/p99 ${at20.p50Ms}/${at20.p99Ms} ms at 20/s, ${at100.p50Ms}/${at100.p99Ms} ms at 100/s offered ` +
        `(${at100.achievedRate}/s achieved); ` +
        `${BULK} Services assigned in ${(allAssignedMs / 1000).toFixed(1)} s, warm restart ${(warmRestartMs / 1000).toFixed(1)} s ` +
        `with ${result.bulk.serviceStatusWritesAfterRestart} status writes, RSS ${result.bulk.rssMB} MB`,
    );
  } finally {
    await lab.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);

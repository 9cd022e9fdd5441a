// Allocator benchmark: 100,000 Services over 20 pools (each an IPv4 /16 and an
// IPv6 /64), half of them dual-stack. Measures cold assignment rate, heap per
// 1,000 held addresses, and warm start (restore + one idempotent assign pass).
// In-memory only; the addresses never reach a network.
// Run: npm run bench:allocator   (prints JSON, then one summary line)
import { parsePool } from "../src/api/ipaddresspool.js";
import { Allocator } from "../src/domain/allocator.js";
import type { Pool } from "../src/domain/pool.js";
import type { ServiceRequest } from "../src/domain/service.js";

const SERVICES = Number(process.env.BENCH_SERVICES ?? 100_000);
const POOLS = 20;

function pools(): Pool[] {
  return Array.from({ length: POOLS }, (_, i) => {
    const p = parsePool({
      metadata: { name: `pool-${i}` },
      spec: {
        addresses: [`10.${i}.0.0/16`, `2001:db8:${i.toString(16)}::/64`],
        // Each pool serves its own 25 tenant namespaces.
        allocation: { namespaces: Array.from({ length: 25 }, (_, j) => `ns-${j * POOLS + i}`) },
      },
    });
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    return p.pool;
  });
}

function request(i: number): ServiceRequest {
  const dual = i % 2 === 0;
  const namespace = `ns-${i % 500}`;
  return {
    key: `${namespace}/svc-${i}`,
    namespace,
    namespaceLabels: {},
    labels: {},
    families: dual ? ["IPv4", "IPv6"] : i % 4 === 1 ? ["IPv4"] : ["IPv6"],
    familyPolicy: dual ? "RequireDualStack" : "SingleStack",
    requestedAddresses: [],
    requestedPool: undefined,
    sharingKey: undefined,
    ports: [{ protocol: "TCP", port: 80 }],
    backendKey: "",
  };
}

function heapUsed(): number {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function main(): void {
  if (globalThis.gc === undefined) throw new Error("run with node --expose-gc");
  const requests = Array.from({ length: SERVICES }, (_, i) => request(i));
  const poolSet = pools();

  const runs: { assignPerSec: number; warmStartMs: number; heapPer1000: number; heapMB: number }[] = [];
  for (let run = 0; run < 3; run++) {
    const base = heapUsed();
    const a = new Allocator();
    a.setPools(poolSet);
    let t = performance.now();
    for (const r of requests) {
      if (a.assign(r).assignment === undefined) throw new Error(`no address for ${r.key}`);
    }
    const assignMs = performance.now() - t;
    const held = a.addressCount;
    const heap = heapUsed() - base;

    const saved = requests.map((r) => a.assignmentOf(r.key));
    const b = new Allocator();
    t = performance.now();
    b.setPools(poolSet);
    requests.forEach((r, i) => {
      const s = saved[i];
      if (s) b.restore(r, s.addresses, s.pool);
    });
    for (const r of requests) if (b.assign(r).changed) throw new Error(`warm start moved ${r.key}`);
    const warmStartMs = performance.now() - t;
    runs.push({
      assignPerSec: (SERVICES / assignMs) * 1000,
      warmStartMs,
      heapPer1000: heap / (held / 1000),
      heapMB: heap / 2 ** 20,
    });
  }
  const result = {
    benchmark: "allocator",
    services: SERVICES,
    pools: POOLS,
    runs: runs.length,
    assignmentsPerSecond: Math.round(median(runs.map((r) => r.assignPerSec))),
    warmStartMs: Math.round(median(runs.map((r) => r.warmStartMs))),
    heapBytesPer1000Addresses: Math.round(median(runs.map((r) => r.heapPer1000))),
    heapMB: Number(median(runs.map((r) => r.heapMB)).toFixed(1)),
    node: process.version,
  };
  console.log(JSON.stringify(result));
  console.log(
    `allocator: ${result.assignmentsPerSecond} assignments/s, warm start ${result.warmStartMs} ms, ` +
      `${result.heapMB} MB heap (${result.heapBytesPer1000Addresses} B per 1,000 addresses) for ${SERVICES} Services (median of ${runs.length})`,
  );
}

main();

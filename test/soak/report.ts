// A soak's report: what was scheduled and what happened (faults per kind, ops sent and
// refused), the referees' verdicts, the worst unavailability charged to each fault kind, and
// one summary line. Pure.
import type { FaultKind, Outage, ProbeTarget, Schedule, SoakRecord, Verdict } from "./model.js";
import { chargeOutages } from "./referees/index.js";
import { describeSchedule } from "./schedule.js";

/**
 * A new address or port is served end to end only once the speaker announces it and nftables
 * and every node's kube-proxy program it: failures that end within this time of a target's
 * first probe are that latency, not an outage. Later ones, or longer ones, are outages.
 */
export const WARMUP_BUDGET_MS = 5000;
/** Violations listed per referee in the report (all are counted). */
const MAX_LISTED = 50;

/** Splits the warm-ups off the outages. */
export function warmUpOutages(
  outages: readonly Outage[],
  probes: readonly ProbeTarget[],
): { outages: Outage[]; warmUps: { count: number; worstMs: number } } {
  const kept: Outage[] = [];
  let count = 0;
  let worstMs = 0;
  for (const o of outages) {
    const warm = probes.some(
      (p) =>
        p.address === o.address &&
        p.port === o.port &&
        o.fromMs >= p.fromMs &&
        o.toMs - p.fromMs <= WARMUP_BUDGET_MS,
    );
    const ms = o.toMs - o.fromMs;
    if (warm) {
      count++;
      worstMs = Math.max(worstMs, ms);
    } else kept.push(o);
  }
  return { outages: kept, warmUps: { count, worstMs: Math.round(worstMs) } };
}

export interface SoakReport {
  seed: number;
  minutes: number;
  faultKinds?: FaultKind[];
  pass: boolean;
  scheduled: ReturnType<typeof describeSchedule>;
  faultsInjected: Partial<Record<FaultKind, number>>;
  faultsSkipped: { kind: FaultKind; why: string }[];
  ops: { sent: number; refused: number; refusals: Record<string, number> };
  probes: { targets: number; probes: number; ok: number };
  wireSightings: number;
  outages: number;
  warmUps: { count: number; worstMs: number };
  /** Longest unavailability charged to each fault kind (ms), and to ops. */
  worstUnavailabilityMs: Record<string, number>;
  unexplainedOutages: number;
  audit: { rows: number; files: number; unconvertedSegments: number };
  resources: SoakRecord["resources"];
  verdicts: (Verdict & { listed: number })[];
}

export function soakReport(o: {
  seed: number;
  minutes: number;
  only?: FaultKind[];
  schedule: Schedule;
  record: SoakRecord;
  verdicts: Verdict[];
  warmUps: { count: number; worstMs: number };
  auditFiles: { files: number; unconvertedSegments: number };
}): SoakReport {
  const { record } = o;
  const injected: Partial<Record<FaultKind, number>> = {};
  for (const f of record.faults) if (!f.skipped) injected[f.kind] = (injected[f.kind] ?? 0) + 1;
  const refusals: Record<string, number> = {};
  for (const r of record.ops) if (!r.ok) refusals[r.op.kind] = (refusals[r.op.kind] ?? 0) + 1;
  const worst: Record<string, number> = {};
  let unexplained = 0;
  for (const c of chargeOutages(record)) {
    const key = c.chargedTo?.kind ?? "unexplained";
    if (!c.chargedTo) unexplained++;
    worst[key] = Math.max(worst[key] ?? 0, Math.round(c.lengthMs));
  }
  return {
    seed: o.seed,
    minutes: o.minutes,
    ...(o.only ? { faultKinds: o.only } : {}),
    pass: o.verdicts.every((v) => v.pass),
    scheduled: describeSchedule(o.schedule),
    faultsInjected: injected,
    faultsSkipped: record.faults.flatMap((f) => (f.skipped ? [{ kind: f.kind, why: f.skipped }] : [])),
    ops: { sent: record.ops.length, refused: record.ops.filter((r) => !r.ok).length, refusals },
    probes: {
      targets: record.probes.length,
      probes: record.probes.reduce((n, p) => n + p.probes, 0),
      ok: record.probes.reduce((n, p) => n + p.ok, 0),
    },
    wireSightings: record.wire.length,
    outages: record.outages.length,
    warmUps: o.warmUps,
    worstUnavailabilityMs: worst,
    unexplainedOutages: unexplained,
    audit: { rows: record.audit.length, ...o.auditFiles },
    resources: record.resources,
    verdicts: o.verdicts.map((v) => ({
      ...v,
      violations: v.violations.slice(0, MAX_LISTED),
      listed: Math.min(MAX_LISTED, v.violations.length),
      checked: { ...v.checked, violations: v.violations.length },
    })),
  };
}

export function summaryLine(r: SoakReport, files: string): string {
  const verdicts = r.verdicts.map(
    (v) =>
      `${v.referee} ${v.pass ? "pass" : `FAIL (${v.violations.length}${v.listed < (v.checked.violations ?? 0) ? "+" : ""})`}`,
  );
  const injected = Object.entries(r.faultsInjected)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const worst = Object.entries(r.worstUnavailabilityMs)
    .map(([k, ms]) => `${k} ${ms}`)
    .join(", ");
  return `soak seed ${r.seed}, ${r.minutes} min: ${r.pass ? "PASS" : "FAIL"} (${verdicts.join(", ")}); faults ${injected}; ops ${r.ops.sent} (${r.ops.refused} refused); probes ${r.probes.probes} (${r.probes.ok} ok), ${r.outages} outages, worst unavailability ms: ${worst || "none"}; report ${files}.json, timeline ${files}.svg`;
}

// How a Service's forwarding on this node is reported on its ServiceAnnouncement (a condition)
// and as Warning events: derived from the applier's last word (refused Services, planner
// problems), never from edges, so a restart or a retried write reports the same thing once.
import type { Problem } from "./forward/state.js";

export interface ForwardingReport {
  /** Services whose rules the kernel refused, left out of the table, with nft's words. */
  refused: ReadonlyMap<string, { message: string }>;
  /** What the planner ignored or corrected, per Service. */
  problems: readonly Problem[];
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export const FORWARDING_CONDITION = "Forwarding";

/** Longest message put in a condition or an event (nft repeats the offending line). */
const maxMessage = 512;

function clip(text: string): string {
  const one = text.split("\n").find((l) => l.includes("Error:")) ?? text.split("\n")[0] ?? "";
  const t = one.trim();
  return t.length > maxMessage ? `${t.slice(0, maxMessage - 3)}...` : t;
}

/** What is wrong with a Service's forwarding, as Warning events: reason and message. */
export function forwardingWarnings(
  key: string,
  report: ForwardingReport,
): { reason: string; message: string }[] {
  const out: { reason: string; message: string }[] = [];
  const refused = report.refused.get(key);
  if (refused)
    out.push({
      reason: "ForwardingRefused",
      message: `nftables refused this Service's rules; it is not forwarded here, other Services are; retried with backoff: ${clip(refused.message)}`,
    });
  for (const p of report.problems)
    if (p.service === key)
      out.push({ reason: "ForwardingProblem", message: `${p.reason}: ${clip(p.message)}` });
  return out;
}

/**
 * The Forwarding condition of a Service this node announces. `previous` is the condition
 * the API holds now: its transition time stays while status and reason do.
 */
export function forwardingCondition(
  key: string,
  report: ForwardingReport,
  previous: Condition | undefined,
  now: string,
): Condition {
  const refused = report.refused.get(key);
  const problems = report.problems.filter((p) => p.service === key);
  const [status, reason, message]: [Condition["status"], string, string] = refused
    ? ["False", "RulesRefused", `nftables refused the rules: ${clip(refused.message)}`]
    : problems.length > 0
      ? ["True", "InputIgnored", clip(problems.map((p) => `${p.reason}: ${p.message}`).join("; "))]
      : ["True", "Applied", "forwarded by nftables"];
  const same = previous?.status === status && previous.reason === reason;
  return {
    type: FORWARDING_CONDITION,
    status,
    reason,
    message,
    lastTransitionTime: same && previous ? previous.lastTransitionTime : now,
  };
}

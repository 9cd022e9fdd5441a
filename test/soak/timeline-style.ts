// The vocabulary of the soak timeline: its colours (one per node, per fault kind, and the fixed
// ones a reader learns from the legend), time as text, and escaping for the SVG's text.
import type { FaultKind } from "./model.js";

export const COLOURS = {
  foreign: "#d62728",
  conflict: "#000000",
  ok: "#2ca02c",
  failed: "#d62728",
  notProbed: "#d9d9d9",
  violation: "#ff1a1a",
  opOk: "#4d4d4d",
  opFailed: "#d62728",
} as const;

const NODE_PALETTE = ["#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#393b79"];

export const FAULT_COLOURS: Record<FaultKind, string> = {
  speakerKill: "#e6550d",
  speakerTerm: "#fd8d3c",
  controllerKill: "#756bb1",
  controllerStop: "#9e9ac8",
  linkCut: "#3182bd",
  heartbeatBlock: "#6baed6",
  apiServerStop: "#636363",
  foreignClaim: "#e7298a",
  diskFull: "#8c6d31",
};

/** The colour of the i-th node (in record.nodes order): a fixed palette, then spread hues. */
export function nodeColour(i: number): string {
  return NODE_PALETTE[i] ?? `hsl(${Math.round((i * 137.5) % 360)},55%,40%)`;
}

/** Text made safe for XML content and attribute values; characters XML forbids become U+FFFD. */
export function escapeXml(text: string): string {
  return text
    .replace(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters XML 1.0 forbids
      /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
      "\ufffd",
    )
    .replace(/[&<>"']/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" }[c]};`);
}

const TICK_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200];

/** The tick step: the smallest sensible one that leaves room for each label. */
export function tickStepMs(durationMs: number, plotWidth: number): number {
  const maxTicks = Math.max(2, Math.floor(plotWidth / 45));
  for (const s of TICK_STEPS_S) if (durationMs / (s * 1000) <= maxTicks) return s * 1000;
  return Math.ceil(durationMs / maxTicks / 3_600_000) * 3_600_000;
}

/** m:ss (h:mm:ss past an hour), with milliseconds when `precise`. */
export function formatTime(ms: number, precise = false): string {
  const total = Math.max(0, ms);
  const s = Math.floor(total / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  const frac = precise ? `.${String(Math.floor(total % 1000)).padStart(3, "0")}` : "";
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}${frac}` : `${m}:${ss}${frac}`;
}

/** A coordinate with one decimal: enough for a screen, short in a file of thousands. */
export const num = (v: number): string => String(Math.round(v * 10) / 10);

// The picture of a soak run: one lane per address with who answered ARP/NDP and whether requests
// succeeded, the faults as bands across all lanes, the operations as ticks and the referees'
// violations as markers on the lane they concern. A self-contained SVG (text, no library): every
// text in it comes from the record and is escaped. Equal neighbouring buckets become one <rect>,
// so a 30-minute run stays a few hundred kilobytes rather than one element per sighting.
import type { FaultKind, FaultRecord, SoakRecord, Verdict, Violation } from "./model.js";
import { type ArpRun, buildLanes, describeMacs, type Lane, laneKey } from "./timeline-lanes.js";
import {
  COLOURS,
  escapeXml,
  FAULT_COLOURS,
  formatTime,
  nodeColour,
  num,
  tickStepMs,
} from "./timeline-style.js";

const WIDTH = 1600;
const RIGHT = 16;
/** Lane layout, from the lane's top: the violation markers, the ARP strip, the request strip. */
const MARK_H = 8;
const ARP_H = 12;
const REQ_GAP = 2;
const REQ_H = 8;
const LANE_H = MARK_H + ARP_H + REQ_GAP + REQ_H + 5;
const FAULT_ROWS = 3;
const FAULT_ROW_H = 12;
/** Below the label rows: the hollow markers of skipped faults. */
const SKIPPED_H = 10;
const STRIP_H = 14;
const CHAR_W = 6.2;

interface Frame {
  left: number;
  plotWidth: number;
  durationMs: number;
  x(t: number): number;
}

export function renderTimeline(record: SoakRecord, verdicts: Verdict[], title: string): string {
  const durationMs = Math.max(1000, Number.isFinite(record.durationMs) ? record.durationMs : 0);
  const { lanes, bucketMs, omitted, macOwner } = buildLanes(record, durationMs);
  const longest = Math.max(12, ...lanes.map((l) => l.address.length));
  const left = Math.ceil(Math.min(280, 16 + longest * 6.8));
  const plotWidth = WIDTH - left - RIGHT;
  const scale = plotWidth / durationMs;
  const frame: Frame = {
    left,
    plotWidth,
    durationMs,
    x: (t) => left + Math.min(durationMs, Math.max(0, t)) * scale,
  };

  const out: string[] = [];
  let y = 22;
  out.push(`<text x="8" y="${y}" font-size="16" font-weight="bold">${escapeXml(title)}</text>`);
  y += 20;
  out.push(headerLine(record, verdicts, lanes.length, omitted, bucketMs, y));
  y += 20;
  y = legend(record, macOwner, out, y);

  const laneIndex = new Map(lanes.map((l, i) => [l.address, i]));
  const violations = verdicts.flatMap((v) => v.violations.map((viol) => ({ referee: v.referee, viol })));
  const unplaced = violations.filter(
    (v) => v.viol.address === undefined || !laneIndex.has(laneKey(v.viol.address)),
  );

  const axisTop = y + 12;
  const faultTop = axisTop + 6;
  const opsTop = faultTop + FAULT_ROWS * FAULT_ROW_H + SKIPPED_H + 2;
  const runTop = opsTop + STRIP_H;
  const lanesTop = runTop + (unplaced.length > 0 ? STRIP_H : 0) + 4;
  const lanesBottom = lanesTop + lanes.length * LANE_H;
  const height = lanesBottom + 24;

  axis(frame, out, axisTop, lanesBottom);
  out.push(`<text x="8" y="${opsTop + 10}" font-size="10">operations</text>`);
  if (unplaced.length > 0)
    out.push(`<text x="8" y="${runTop + 10}" font-size="10">violations, no lane</text>`);
  lanes.forEach((lane, i) => {
    drawLane(
      frame,
      lane,
      lanesTop + i * LANE_H,
      i,
      bucketMs,
      (run) => arpStyle(record, macOwner, bucketMs, run),
      out,
    );
  });
  faults(frame, record.faults, out, faultTop, lanesBottom);
  ops(frame, record, out, opsTop);
  markers(
    frame,
    violations,
    (v) => {
      const i = v.address === undefined ? undefined : laneIndex.get(laneKey(v.address));
      return i === undefined ? runTop + 3 : lanesTop + i * LANE_H;
    },
    out,
  );
  out.push(
    `<g font-size="10" text-anchor="middle">${ticks(frame)
      .map((t) => `<text x="${num(frame.x(t))}" y="${lanesBottom + 14}">${formatTime(t)}</text>`)
      .join("")}</g>`,
  );

  return [
    `<?xml version="1.0" encoding="UTF-8"?>\n`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">\n`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>\n`,
    out.join("\n"),
    "\n</svg>\n",
  ].join("");
}

function headerLine(
  record: SoakRecord,
  verdicts: Verdict[],
  laneCount: number,
  omitted: number,
  bucketMs: number,
  y: number,
): string {
  const skipped = record.faults.filter((f) => f.skipped !== undefined).length;
  const failedOps = record.ops.filter((o) => !o.ok).length;
  const facts =
    `${formatTime(record.durationMs)} run, ${record.nodes.length} nodes, ${laneCount} addresses` +
    (omitted > 0 ? ` (${omitted} more not drawn)` : "") +
    `, ${record.faults.length} faults (${skipped} skipped), ${record.ops.length} ops (${failedOps} failed),` +
    ` ARP buckets of ${bucketMs} ms. Referees:`;
  const badges = verdicts.map((v) => {
    const checked = Object.entries(v.checked)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
    const text = v.pass ? `${v.referee} pass` : `${v.referee} FAIL (${v.violations.length})`;
    return `<tspan dx="8" fill="${v.pass ? "#1a7f1a" : "#c00000"}" font-weight="bold" data-referee="${escapeXml(v.referee)}" data-pass="${v.pass}">${escapeXml(text)}<title>${escapeXml(`${v.referee}: ${v.pass ? "pass" : "fail"}; checked ${checked}`)}</title></tspan>`;
  });
  return `<text x="8" y="${y}" font-size="12">${escapeXml(facts)}${badges.join("")}</text>`;
}

/** The keys a reader needs: node -> colour -> MAC, foreign, conflict, request shades, faults. */
function legend(record: SoakRecord, macOwner: Map<string, number>, out: string[], top: number): number {
  let x = 8;
  let y = top;
  const item = (swatch: string, label: string): void => {
    const w = 16 + label.length * CHAR_W + 14;
    if (x + w > WIDTH - RIGHT) {
      x = 8;
      y += 16;
    }
    out.push(
      `<g>${swatch.replaceAll("X", num(x)).replaceAll("Y", num(y - 9))}<text x="${num(x + 14)}" y="${y}" font-size="11">${escapeXml(label)}</text></g>`,
    );
    x += w;
  };
  const box = (fill: string): string => `<rect x="X" y="Y" width="10" height="10" fill="${fill}"/>`;
  const heading = (text: string): void => {
    if (x > 8) {
      x = 8;
      y += 16;
    }
    out.push(`<text x="8" y="${y}" font-size="11" font-weight="bold">${escapeXml(text)}</text>`);
    x = 8 + text.length * 6.8 + 10;
  };
  heading("ARP/NDP answered by:");
  record.nodes.forEach((node, i) => {
    const mac = record.macs[node] ?? "no MAC";
    item(box(nodeColour(macOwner.get(mac) ?? i)), `${node} ${mac}`);
  });
  const foreign = record.foreignMacs.slice(0, 3).join(", ") + (record.foreignMacs.length > 3 ? ", ..." : "");
  item(box(COLOURS.foreign), `foreign MAC${foreign === "" ? "" : ` (${foreign})`}`);
  item(box(COLOURS.conflict), "two or more MACs in one bucket");
  item("", "blank: silence");
  heading("Requests, per second:");
  item(box(COLOURS.ok), "all succeeded");
  item(
    `${box(COLOURS.ok)}<rect x="X" y="Y" width="10" height="5" fill="${COLOURS.failed}" transform="translate(0,5)"/>`,
    "some failed (red part: the share failed)",
  );
  item(box(COLOURS.failed), "all failed");
  item(box(COLOURS.notProbed), "not probed");
  heading("Faults:");
  for (const kind of Object.keys(FAULT_COLOURS) as FaultKind[]) {
    item(box(FAULT_COLOURS[kind]), kind);
  }
  item(
    `<circle cx="X" cy="Y" r="4" fill="none" stroke="#333" stroke-width="1.5" transform="translate(5,5)"/>`,
    "skipped",
  );
  item(box(COLOURS.opOk), "op ok");
  item(box(COLOURS.opFailed), "op failed");
  item(
    `<path d="M0 0h10l-5 8z" fill="${COLOURS.violation}" stroke="#000" stroke-width="0.8" transform="translate(X,Y)"/>`,
    "violation",
  );
  return y + 6;
}

function ticks(frame: Frame): number[] {
  const step = tickStepMs(frame.durationMs, frame.plotWidth);
  const out: number[] = [];
  for (let t = 0; t <= frame.durationMs; t += step) out.push(t);
  return out;
}

function axis(frame: Frame, out: string[], top: number, bottom: number): void {
  const ts = ticks(frame);
  out.push(
    `<g stroke="#e0e0e0" stroke-width="1">${ts.map((t) => `<line x1="${num(frame.x(t))}" x2="${num(frame.x(t))}" y1="${top + 2}" y2="${bottom}"/>`).join("")}</g>`,
  );
  out.push(
    `<g font-size="10" text-anchor="middle" class="axis">${ts.map((t) => `<text x="${num(frame.x(t))}" y="${top}" data-ms="${t}">${formatTime(t)}</text>`).join("")}</g>`,
  );
}

/** The fill of an ARP run, and a tooltip for the runs a reader will want to look into. */
function arpStyle(
  record: SoakRecord,
  macOwner: Map<string, number>,
  bucketMs: number,
  run: ArpRun,
): { fill: string; tip?: string } {
  if (typeof run.who === "object") return { fill: nodeColour(run.who.node) };
  const when = `${formatTime(run.from * bucketMs, true)} to ${formatTime(run.to * bucketMs, true)}`;
  const what = run.who === "conflict" ? "two or more MACs answered" : "a foreign MAC answered";
  return {
    fill: run.who === "conflict" ? COLOURS.conflict : COLOURS.foreign,
    tip: `${what}, ${when}: ${describeMacs(record, macOwner, run.macs)}`,
  };
}

function drawLane(
  frame: Frame,
  lane: Lane,
  top: number,
  index: number,
  bucketMs: number,
  style: (run: ArpRun) => { fill: string; tip?: string },
  out: string[],
): void {
  const arpY = top + MARK_H;
  const reqY = arpY + ARP_H + REQ_GAP;
  const scale = frame.plotWidth / frame.durationMs;
  const parts: string[] = [];
  if (index % 2 === 1) {
    parts.push(`<rect x="0" y="${top}" width="${WIDTH}" height="${LANE_H}" fill="#f6f6f6"/>`);
  }
  parts.push(
    `<text x="8" y="${arpY + ARP_H - 1}" font-size="11" font-family="monospace">${escapeXml(lane.address)}<title>${escapeXml(lane.summary)}</title></text>`,
  );
  parts.push(`<g class="arp" transform="translate(0,${arpY})">`);
  for (const run of lane.arp) {
    const x = frame.left + run.from * bucketMs * scale;
    const w = Math.max(1, (run.to - run.from) * bucketMs * scale);
    const { fill, tip } = style(run);
    const title = tip === undefined ? "/>" : `><title>${escapeXml(tip)}</title></rect>`;
    parts.push(`<rect x="${num(x)}" width="${num(w)}" height="${ARP_H}" fill="${fill}"${title}`);
  }
  parts.push("</g>");
  parts.push(`<g class="requests" transform="translate(0,${reqY})">`);
  parts.push(
    `<rect x="${frame.left}" width="${num(frame.plotWidth)}" height="${REQ_H}" fill="${COLOURS.notProbed}"/>`,
  );
  // Green under every probed stretch, red over it for the share failed: one green rect per
  // stretch rather than one per change of the share.
  const xs = (from: number, to: number): string =>
    `x="${num(frame.left + from * 1000 * scale)}" width="${num(Math.max(0.5, (Math.min(to * 1000, frame.durationMs) - from * 1000) * scale))}"`;
  const reqs = lane.requests;
  for (let i = 0; i < reqs.length; ) {
    let j = i + 1;
    while (j < reqs.length && reqs[j]?.from === reqs[j - 1]?.to) j++;
    parts.push(
      `<rect ${xs(reqs[i]?.from ?? 0, reqs[j - 1]?.to ?? 0)} height="${REQ_H}" fill="${COLOURS.ok}"/>`,
    );
    i = j;
  }
  for (const run of reqs) {
    if (run.eighthsFailed === 0) continue;
    const h = (REQ_H * run.eighthsFailed) / 8;
    parts.push(
      `<rect ${xs(run.from, run.to)} y="${num(REQ_H - h)}" height="${num(h)}" fill="${COLOURS.failed}"/>`,
    );
  }
  parts.push("</g>");
  out.push(
    `<g class="lane" data-address="${escapeXml(lane.address)}" data-top="${top}">${parts.join("")}</g>`,
  );
}

function faultLabel(f: FaultRecord): string {
  return [f.kind, f.node ?? f.address ?? f.controller].filter((s) => s !== undefined).join(" ");
}

function faults(frame: Frame, list: FaultRecord[], out: string[], top: number, bottom: number): void {
  const rowEnd = new Array<number>(FAULT_ROWS).fill(Number.NEGATIVE_INFINITY);
  const parts: string[] = [];
  for (const f of list) {
    const colour = FAULT_COLOURS[f.kind] ?? "#999999";
    const label = faultLabel(f);
    const x0 = frame.x(f.startMs);
    if (f.skipped !== undefined) {
      const tip = `${label}: skipped at ${formatTime(f.startMs, true)}: ${f.skipped}`;
      parts.push(
        `<circle class="skipped" cx="${num(x0)}" cy="${top + FAULT_ROWS * FAULT_ROW_H + SKIPPED_H / 2}" r="4" fill="none" stroke="${colour}" stroke-width="1.5"><title>${escapeXml(tip)}</title></circle>`,
      );
      continue;
    }
    const end = f.endMs ?? frame.durationMs;
    const x1 = frame.x(end);
    const tip = [
      `${label}`,
      `${formatTime(f.startMs, true)} to ${f.endMs === undefined ? "the end of the run (not taken back)" : formatTime(end, true)} (${((end - f.startMs) / 1000).toFixed(1)} s)`,
      ...(f.node !== undefined ? [`node ${f.node}`] : []),
      ...(f.address !== undefined ? [`address ${f.address}`] : []),
      ...(f.controller !== undefined ? [`controller ${f.controller}`] : []),
    ].join("\n");
    // Labels take the first row where they do not overlap the one before; with none free the
    // band keeps only its tooltip, rather than labels written over each other.
    const w = label.length * 6 + 2;
    const row = rowEnd.findIndex((e) => e < x0);
    let text = "";
    if (row >= 0) {
      rowEnd[row] = x0 + w + 4;
      text = `<text x="${num(x0 + 1)}" y="${top + (row + 1) * FAULT_ROW_H - 2}" font-size="10" fill="${colour}">${escapeXml(label)}</text>`;
    }
    parts.push(
      `<g class="fault" data-kind="${escapeXml(f.kind)}"><title>${escapeXml(tip)}</title><rect x="${num(x0)}" y="${top}" width="${num(Math.max(1, x1 - x0))}" height="${bottom - top}" fill="${colour}" fill-opacity="0.16" stroke="${colour}" stroke-opacity="0.5" stroke-width="0.5"/>${text}</g>`,
    );
  }
  out.push(`<g class="faults">${parts.join("")}</g>`);
}

/** One tick per op; ops on one pixel share a tick (red if any failed), so output stays bounded. */
function ops(frame: Frame, record: SoakRecord, out: string[], top: number): void {
  const ticks = new Map<number, { x: number; failed: boolean; lines: string[]; count: number }>();
  for (const o of record.ops) {
    const x = frame.x(o.startMs);
    let t = ticks.get(Math.round(x));
    if (t === undefined) {
      t = { x, failed: false, lines: [], count: 0 };
      ticks.set(Math.round(x), t);
    }
    t.failed ||= !o.ok;
    t.count++;
    if (t.lines.length < 5) {
      const { kind, ...rest } = o.op;
      const result = o.ok ? "ok" : `failed${o.error === undefined ? "" : `: ${o.error}`}`;
      t.lines.push(
        `${formatTime(o.startMs, true)} ${kind} ${JSON.stringify(rest)}: ${result} after ${Math.round(o.endMs - o.startMs)} ms`,
      );
    }
  }
  const parts = [...ticks.values()].map((t) => {
    const more = t.count > t.lines.length ? `\n... and ${t.count - t.lines.length} more` : "";
    return `<rect class="op" x="${num(t.x)}" y="${top + 2}" width="1.5" height="${STRIP_H - 4}" fill="${t.failed ? COLOURS.opFailed : COLOURS.opOk}"><title>${escapeXml(t.lines.join("\n") + more)}</title></rect>`;
  });
  out.push(`<g class="ops">${parts.join("")}</g>`);
}

/** Violations as triangles; those on one pixel of one lane share a marker (bounded output). */
function markers(
  frame: Frame,
  violations: { referee: string; viol: Violation }[],
  topOf: (v: Violation) => number,
  out: string[],
): void {
  const groups = new Map<string, { x: number; top: number; lines: string[]; count: number }>();
  for (const { referee, viol } of violations) {
    const x = frame.x(viol.t);
    const top = topOf(viol);
    const key = `${top}/${Math.round(x)}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { x, top, lines: [], count: 0 };
      groups.set(key, g);
    }
    g.count++;
    if (g.lines.length < 10) {
      const where = viol.address === undefined ? "" : ` ${viol.address}`;
      g.lines.push(`${referee} at ${formatTime(viol.t, true)}${where}: ${viol.message}`);
    }
  }
  const parts = [...groups.values()].map((g) => {
    const more = g.count > g.lines.length ? `\n... and ${g.count - g.lines.length} more` : "";
    return `<path class="violation" d="M${num(g.x - 4)} ${g.top}h8l-4 ${MARK_H - 1}z" fill="${COLOURS.violation}" stroke="#000" stroke-width="0.8"><title>${escapeXml(g.lines.join("\n") + more)}</title></path>`;
  });
  out.push(`<g class="violations">${parts.join("")}</g>`);
}

// `herald audit query|tail`: read an audit directory written by the controller or a speaker.
import { parseArgs } from "node:util";
import { AuditError, describe } from "../audit/errors.js";
import { type AuditFilter, parseFilter } from "../audit/filter.js";
import { FORMATS, type Format, formatter } from "../audit/format.js";
import { emptyStats, queryEvents } from "../audit/query.js";
import { followEvents, lastSeq } from "../audit/tail.js";
import { type Clock, systemClock } from "../clock.js";
import type { CliIo, Command } from "./command.js";
import { helpRequested } from "./flags.js";

const USAGE = `usage:
  herald audit query --dir DIR [filters] [--format table|json|csv] [--limit N]
  herald audit tail  --dir DIR [filters] [--format table|json|csv]
  herald audit [query|tail] --help

filters:
  --address IP          events naming this address
  --service NS/NAME     events of this Service
  --node NODE           events decided on, or moving from or to, this node
  --kind K[,K...]       allocated, released, moved, request-refused, shared, pool-invalid,
                        announce, withdraw, takeover, handover, conflict-detected
  --since T --until T   T is a duration ago (30s, 15m, 2h, 7d) or RFC 3339 (2026-11-22T14:00:00Z)
`;

const OPTIONS = {
  dir: { type: "string" },
  address: { type: "string" },
  service: { type: "string" },
  node: { type: "string" },
  kind: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  format: { type: "string", default: "table" },
  limit: { type: "string" },
  "interval-ms": { type: "string", default: "250" },
} as const;

interface Parsed {
  dir: string;
  filter: AuditFilter;
  format: Format;
  limit: number | undefined;
  intervalMs: number;
}

function parse(argv: string[], nowNs: bigint): Parsed {
  const { values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true });
  if (!values.dir) throw new AuditError("HERALD_AUDIT_BAD_QUERY", "--dir is required");
  const format = values.format as Format;
  if (!FORMATS.includes(format)) {
    throw new AuditError(
      "HERALD_AUDIT_BAD_QUERY",
      `--format: "${values.format}" is not one of ${FORMATS.join(", ")}`,
    );
  }
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1) {
      throw new AuditError("HERALD_AUDIT_BAD_QUERY", `--limit: "${values.limit}" is not a positive number`);
    }
  }
  const intervalMs = Number(values["interval-ms"]);
  const filter = parseFilter(values, nowNs);
  return { dir: values.dir, filter, format, limit, intervalMs };
}

async function query(p: Parsed, io: CliIo): Promise<number> {
  const f = formatter(p.format);
  if (f.header) io.out(f.header);
  let n = 0;
  const stats = emptyStats();
  for await (const e of queryEvents(p.dir, p.filter, stats)) {
    io.out(f.line(e));
    if (++n === p.limit) break;
  }
  // The events above are complete except for these files.
  for (const w of stats.warnings) io.err(`herald audit query: warning: ${w.file}: ${w.message} (${w.code})`);
  const unlisted = stats.filesUnreadable - stats.warnings.length;
  if (unlisted > 0) io.err(`herald audit query: warning: ${unlisted} more unreadable files skipped`);
  return 0;
}

async function tail(p: Parsed, io: CliIo, signal: AbortSignal): Promise<number> {
  const f = formatter(p.format);
  if (f.header) io.out(f.header);
  // With --since, show the recent past first; otherwise only what comes next.
  const after = p.filter.sinceNs === undefined ? await lastSeq(p.dir) : 0;
  await followEvents(p.dir, p.filter, after, (e) => io.out(f.line(e)), signal, p.intervalMs);
  return 0;
}

/** `clock` gives the time that --since and --until durations count back from. */
export function auditCommand(signal: AbortSignal, clock: Clock = systemClock): Command {
  return async (argv, io) => {
    const [sub, ...rest] = argv;
    // Help comes before any other check, so `query --help` never asks for --dir.
    if (sub === "help" || helpRequested(argv)) {
      io.out(USAGE);
      return 0;
    }
    if (sub !== "query" && sub !== "tail") {
      io.err(sub === undefined ? USAGE : `herald audit: unknown subcommand "${sub}"\n\n${USAGE}`);
      return 2;
    }
    let parsed: Parsed;
    try {
      parsed = parse(rest, BigInt(Math.trunc(clock.wall())) * 1_000_000n);
    } catch (error) {
      io.err(`herald audit ${sub}: ${describe(error)}\n\n${USAGE}`);
      return 2;
    }
    try {
      return sub === "query" ? await query(parsed, io) : await tail(parsed, io, signal);
    } catch (error) {
      io.err(`herald audit ${sub}: ${describe(error)}`);
      return 1;
    }
  };
}

/** Stops `tail` on SIGINT/SIGTERM. */
export const audit: Command = (argv, io) => {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return auditCommand(controller.signal)(argv, io).finally(() => {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  });
};

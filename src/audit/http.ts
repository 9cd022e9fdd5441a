// GET /audit for the controller's and the speaker's HTTP servers: the same
// filters as `herald audit query`, paged with `limit` and `after`. The query runs
// on a worker thread (query-pool.ts) with a deadline; files that cannot be read are
// left out and named in `warnings`.
import type { FastifyPluginAsync } from "fastify";
import { Counter, type Registry } from "prom-client";
import { type Clock, nanoseconds, systemClock } from "../clock.js";
import { AuditError, describe } from "./errors.js";
import { type FilterParams, parseFilter } from "./filter.js";
import { eventJson } from "./format.js";
import { type AuditQueryRunner, queryPool } from "./query-pool.js";

export interface AuditRoutesOptions {
  dir: string;
  /** What relative times ("since=2h") count back from (default the system clock). */
  clock?: Clock;
  /** Where queries run (default: a queryPool() of this plugin's own, closed with the server). */
  runner?: AuditQueryRunner;
  /** Counts files left out of answers (herald_audit_query_unreadable_files_total) when given. */
  registry?: Registry;
  /** Page size when the request names none (default 100); requests may ask for up to maxLimit (1000). */
  defaultLimit?: number;
  maxLimit?: number;
}

const PARAMS = ["address", "service", "node", "kind", "since", "until", "after", "limit"];

/** Seconds a refused caller is told to wait: about one ordinary query. */
const RETRY_AFTER_S = "1";

export const auditRoutes: FastifyPluginAsync<AuditRoutesOptions> = async (app, options) => {
  const nowNs = nanoseconds(options.clock ?? systemClock);
  const defaultLimit = options.defaultLimit ?? 100;
  const maxLimit = options.maxLimit ?? 1000;
  let runner = options.runner;
  if (runner === undefined) {
    const own = queryPool();
    runner = own;
    app.addHook("onClose", () => own.close());
  }
  const run = runner;
  const unreadable =
    options.registry === undefined
      ? undefined
      : new Counter({
          name: "herald_audit_query_unreadable_files_total",
          help: "Audit files left out of GET /audit answers because they could not be read (corrupt, truncated)",
          registers: [options.registry],
        });
  app.get("/audit", async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    try {
      const params: Record<string, string> = {};
      for (const [key, value] of Object.entries(query)) {
        if (!PARAMS.includes(key))
          throw new AuditError("HERALD_AUDIT_BAD_QUERY", `unknown parameter "${key}"`);
        if (typeof value !== "string") throw new AuditError("HERALD_AUDIT_BAD_QUERY", `${key}: give it once`);
        params[key] = value;
      }
      const filter = parseFilter(params as FilterParams, nowNs());
      let limit = defaultLimit;
      if (params.limit !== undefined) {
        limit = Number(params.limit);
        if (!/^\d+$/.test(params.limit) || limit < 1 || limit > maxLimit) {
          throw new AuditError(
            "HERALD_AUDIT_BAD_QUERY",
            `limit: "${params.limit}" is not a number from 1 to ${maxLimit}`,
          );
        }
      }
      const page = await run.run(options.dir, filter, limit);
      if (page.filesUnreadable > 0) {
        unreadable?.inc(page.filesUnreadable);
        request.log.warn({ files: page.warnings.map((w) => w.file) }, "audit query skipped unreadable files");
      }
      return { events: page.events.map(eventJson), next: page.next ?? null, warnings: page.warnings };
    } catch (error) {
      const code = error instanceof AuditError ? error.code : "HERALD_AUDIT_QUERY_FAILED";
      const body = { code, message: describe(error) };
      switch (code) {
        case "HERALD_AUDIT_BAD_QUERY":
          return reply.code(400).send(body);
        case "HERALD_AUDIT_QUERY_BUSY":
          return reply.code(429).header("retry-after", RETRY_AFTER_S).send(body);
        case "HERALD_AUDIT_QUERY_TIMEOUT":
          request.log.warn({ code }, body.message);
          return reply.code(504).send(body);
        default:
          request.log.error({ err: error }, "audit query failed");
          return reply.code(500).send(body);
      }
    }
  });
};

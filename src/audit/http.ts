// GET /audit for the controller's and the speaker's HTTP servers: the same
// filters as `herald audit query`, paged with `limit` and `after`.
import type { FastifyPluginAsync } from "fastify";
import { type Disk, nodeDisk } from "./disk.js";
import { AuditError, describe } from "./errors.js";
import { type FilterParams, parseFilter } from "./filter.js";
import { eventJson } from "./format.js";
import { queryPage } from "./query.js";

export interface AuditRoutesOptions {
  dir: string;
  nowNs?: () => bigint;
  disk?: Disk;
  /** Page size when the request names none (default 100); requests may ask for up to maxLimit (1000). */
  defaultLimit?: number;
  maxLimit?: number;
}

const PARAMS = ["address", "service", "node", "kind", "since", "until", "after", "limit"];

export const auditRoutes: FastifyPluginAsync<AuditRoutesOptions> = async (app, options) => {
  const nowNs = options.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n);
  const defaultLimit = options.defaultLimit ?? 100;
  const maxLimit = options.maxLimit ?? 1000;
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
      const page = await queryPage(options.dir, filter, limit, options.disk ?? nodeDisk);
      return { events: page.events.map(eventJson), next: page.next ?? null };
    } catch (error) {
      if (error instanceof AuditError && error.code === "HERALD_AUDIT_BAD_QUERY") {
        return reply.code(400).send({ code: error.code, message: error.message });
      }
      request.log.error({ err: error }, "audit query failed");
      const code = error instanceof AuditError ? error.code : "HERALD_AUDIT_BAD_FILE";
      return reply.code(500).send({ code, message: describe(error) });
    }
  });
};

// The HTTP face of a Herald component: health, readiness, Prometheus metrics
// and a JSON view of its state. build() only assembles routes, so tests use
// inject() without a socket; the caller decides when to listen().
//
// /healthz, /readyz and /metrics answer anyone: the kubelet and Prometheus reach
// them on the node's (or Pod's) address. /debug/state and /audit show every
// tenant's Services, peers and MACs: they need a token that a SubjectAccessReview
// allows (access.ts), or, with authentication off, a caller on loopback.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { auditRoutes } from "../audit/http.js";
import type { AuditQueryRunner } from "../audit/query-pool.js";
import { type AccessReviewer, debugAttributes, deny, isLoopback } from "./access.js";

/** How /debug/state and /audit are guarded. */
export type DebugAccess =
  | {
      mode: "kubernetes";
      reviewer: AccessReviewer;
      component: "speaker" | "controller";
      /** The component's namespace: where the SubjectAccessReview asks. */
      namespace: string;
    }
  /** Authentication off: only callers on loopback (127.0.0.1, ::1). */
  | { mode: "localhost" };

/** A probe's answer: true, or why not (the body of the 503 says it). */
export type ProbeResult = boolean | { ok: boolean; detail: string };

export interface HttpDeps {
  registry: Registry;
  /** Alive: the process can do its job at all (event loop turning, loops running). */
  healthy(): ProbeResult;
  /** Ready: caches synced and the first full pass done. */
  ready(): ProbeResult;
  state(): object;
  /** Serves GET /audit from this directory when set. */
  auditDir?: string | undefined;
  /** Where audit queries run (default: the audit routes' own worker pool). */
  auditRunner?: AuditQueryRunner | undefined;
  /** Default: localhost. */
  access?: DebugAccess | undefined;
  /** The component's logger: errors fastify meets are logged, not lost. Requests themselves are not logged. */
  logger?: Logger | undefined;
}

/** Seconds a caller refused for load is told to wait. */
const RETRY_AFTER_S = "1";

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const app = (
    deps.logger
      ? Fastify({ loggerInstance: deps.logger.child({ part: "http" }), disableRequestLogging: true })
      : Fastify({ logger: false })
  ) as FastifyInstance;
  const probe = (path: string, check: () => ProbeResult, good: string, bad: string) =>
    app.get(path, async (_req, reply) => {
      const result = check();
      const ok = typeof result === "boolean" ? result : result.ok;
      const detail = typeof result === "boolean" || result.ok ? "" : `: ${result.detail}`;
      return reply
        .code(ok ? 200 : 503)
        .type("text/plain")
        .send(ok ? good : `${bad}${detail}\n`);
    });
  probe("/healthz", deps.healthy, "ok\n", "unhealthy");
  probe("/readyz", deps.ready, "ready\n", "not ready");
  app.get("/metrics", async (_req, reply) => {
    return reply.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  const guard = accessGuard(deps.access ?? { mode: "localhost" });
  app.register(async (guarded) => {
    guarded.addHook("onRequest", guard);
    guarded.get("/debug/state", async () => deps.state());
    if (deps.auditDir !== undefined) {
      await guarded.register(auditRoutes, {
        dir: deps.auditDir,
        registry: deps.registry,
        ...(deps.auditRunner ? { runner: deps.auditRunner } : {}),
      });
    }
  });
  return app;
}

function accessGuard(access: DebugAccess) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (access.mode === "localhost") {
      if (isLoopback(request.socket.remoteAddress)) return;
      const denied = deny(
        "HERALD_HTTP_LOCAL_ONLY",
        "with authentication off this path answers callers on loopback only",
      );
      return reply.code(denied.status).send({ code: denied.code, message: denied.message });
    }
    const what = request.routeOptions.url === "/audit" ? "audit" : "debug";
    const decision = await access.reviewer.check(
      request.headers.authorization,
      debugAttributes(access.component, access.namespace, what),
    );
    if (decision.status === 200) return;
    if (decision.status === 401) reply.header("www-authenticate", 'Bearer realm="herald"');
    if (decision.status === 429) reply.header("retry-after", RETRY_AFTER_S);
    if (decision.status === 503) request.log.warn({ code: decision.code }, decision.message);
    return reply.code(decision.status).send({ code: decision.code, message: decision.message });
  };
}

// The HTTP face of a Herald component: health, readiness, Prometheus metrics
// and a JSON view of its state. build() only assembles routes, so tests use
// inject() without a socket; the caller decides when to listen().
import Fastify, { type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { auditRoutes } from "../audit/http.js";

export interface HttpDeps {
  registry: Registry;
  /** Alive: the process can do its job at all (event loop turning, loops running). */
  healthy(): boolean;
  /** Ready: caches synced and the first full pass done. */
  ready(): boolean;
  state(): object;
  /** Serves GET /audit from this directory when set. */
  auditDir?: string | undefined;
}

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const app = Fastify({ logger: false });
  const probe = (path: string, check: () => boolean, good: string, bad: string) =>
    app.get(path, async (_req, reply) => {
      const ok = check();
      return reply
        .code(ok ? 200 : 503)
        .type("text/plain")
        .send(ok ? good : bad);
    });
  probe("/healthz", deps.healthy, "ok\n", "unhealthy\n");
  probe("/readyz", deps.ready, "ready\n", "not ready\n");
  app.get("/metrics", async (_req, reply) => {
    return reply.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  app.get("/debug/state", async () => deps.state());
  if (deps.auditDir !== undefined) app.register(auditRoutes, { dir: deps.auditDir });
  return app;
}

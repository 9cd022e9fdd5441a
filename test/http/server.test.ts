import { Counter, Registry } from "prom-client";
import { buildHttp } from "../../src/http/server.js";

test("health, readiness, metrics and state answer without a socket", async () => {
  const registry = new Registry();
  new Counter({ name: "herald_test_total", help: "test", registers: [registry] }).inc(3);
  let ready = false;
  const app = buildHttp({ registry, healthy: () => true, ready: () => ready, state: () => ({ pools: 2 }) });
  expect((await app.inject("/healthz")).statusCode).toBe(200);
  expect((await app.inject("/readyz")).statusCode).toBe(503);
  ready = true;
  expect((await app.inject("/readyz")).body).toBe("ready\n");
  const metrics = await app.inject("/metrics");
  expect(metrics.headers["content-type"]).toContain("text/plain");
  expect(metrics.body).toContain("herald_test_total 3");
  expect((await app.inject("/debug/state")).json()).toEqual({ pools: 2 });
  expect((await app.inject("/nope")).statusCode).toBe(404);
});

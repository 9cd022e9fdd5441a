// GET /audit runs its queries on worker threads with a deadline and a bound: a query
// that never ends answers 504 while the main thread goes on answering, and more
// queries than workers answer 429 at once.
import Fastify from "fastify";
import { auditRoutes } from "../../src/audit/http.js";
import { queryPool } from "../../src/audit/query-pool.js";
import { FakeClock } from "../clock.js";
import { tempDir } from "./helpers.js";

const STUCK = new URL("./stuck-query-worker.ts", import.meta.url);

/** Turns the event loop until the check holds (at most 5 s). */
async function until(check: () => boolean) {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in 5 s");
    await new Promise((r) => setImmediate(r));
  }
}

async function server(workers: number) {
  const { dir, cleanup } = await tempDir();
  const clock = new FakeClock();
  const runner = queryPool({ workers, timeoutMs: 5000, entry: STUCK, clock });
  const app = Fastify();
  app.get("/healthz", async () => "ok\n");
  await app.register(auditRoutes, { dir, runner });
  return {
    app,
    clock,
    async close() {
      await app.close();
      await runner.close();
      await cleanup();
    },
  };
}

test("a query past its deadline answers 504, and the main thread answers meanwhile", async () => {
  const s = await server(1);
  const order: string[] = [];
  const audit = s.app.inject("/audit").then((r) => {
    order.push("audit");
    return r;
  });
  await until(() => s.clock.pending() === 1); // the query is on its worker, spinning
  const health = await s.app.inject("/healthz");
  order.push("healthz");
  expect(health.statusCode).toBe(200);
  s.clock.advance(5000);
  const res = await audit;
  expect(res.statusCode).toBe(504);
  expect(res.json().code).toBe("HERALD_AUDIT_QUERY_TIMEOUT");
  expect(order).toEqual(["healthz", "audit"]);
  await s.close();
});

test("more queries than workers are refused at once with 429 and Retry-After", async () => {
  const s = await server(2);
  const first = s.app.inject("/audit?kind=announce").then((r) => r);
  const second = s.app.inject("/audit?kind=allocated").then((r) => r);
  await until(() => s.clock.pending() === 2);
  const third = await s.app.inject("/audit");
  expect(third.statusCode).toBe(429);
  expect(third.headers["retry-after"]).toBe("1");
  expect(third.json().code).toBe("HERALD_AUDIT_QUERY_BUSY");
  s.clock.advance(5000);
  expect((await first).statusCode).toBe(504);
  expect((await second).statusCode).toBe(504);
  await s.close();
});

// A write the API server refuses for good (a 4xx other than 409 and 429) is a Warning event
// and a condition on the object, not a retry every 30 s for ever: it is tried again when the
// object changes, and every ten minutes (what refused it may be fixed without touching it).
import { KubeError } from "../../src/k8s/rest.js";
import { lbService, poolObject, startedWorld, world } from "./harness.js";

type Cond = { type: string; status: string; reason: string; message: string };

async function started() {
  const w = await startedWorld(["192.0.2.0/30"]);
  w.requests.length = 0;
  return w;
}

const invalid = () =>
  new KubeError(422, "Invalid", 'PATCH: 422 Invalid Service "web" is invalid: status.loadBalancer.ingress');

test("a Service status write answered 422: one Warning event, the condition, and no retries for ten minutes", async () => {
  const w = await started();
  // The API refuses the ingress, not the conditions.
  w.refuse.svc = (patch) =>
    "loadBalancer" in ((patch as { status?: object }).status ?? {}) ? invalid() : undefined;
  await w.addService(lbService("shop", "web"));
  await w.advance(10 * 60_000 - 1);
  expect(w.ingress("shop/web")).toEqual([]);
  expect(w.events.filter((e) => e.includes("StatusWriteRejected"))).toEqual([
    expect.stringMatching(
      /^Service shop\/web Warning StatusWriteRejected: the API server refused the Service's status write \(PATCH: 422 Invalid/,
    ),
  ]);
  expect(w.events.filter((e) => e.includes("IPAllocated"))).toEqual([]);
  const conditions = (w.services.get("shop/web")?.status?.conditions ?? []) as Cond[];
  expect(conditions).toEqual([
    expect.objectContaining({ type: "herald.dev/StatusWritten", status: "False", reason: "Invalid" }),
  ]);
  // The status write once and the condition once, for ten minutes.
  expect(w.requests.filter((r) => r.startsWith("svc"))).toEqual(["svc shop/web", "svc shop/web"]);
  expect(w.controller.queue.failing).toBe(0);
  // Then the status write once more, refused the same way: no second event.
  await w.advance(1);
  expect(w.requests.filter((r) => r.startsWith("svc"))).toHaveLength(3);
  expect(w.events.filter((e) => e.includes("StatusWriteRejected"))).toHaveLength(1);

  // Once the API takes it (and the Service changed), the address is written and reported, and the condition clears.
  w.refuse.svc = undefined;
  const svc = w.services.get("shop/web");
  if (!svc) throw new Error("missing");
  await w.addService({ ...svc, metadata: { ...svc.metadata, resourceVersion: "2" } });
  expect(w.ingress("shop/web")).toEqual(["192.0.2.0"]);
  expect(w.events.filter((e) => e.includes("IPAllocated"))).toHaveLength(1);
  expect((w.services.get("shop/web")?.status?.conditions ?? []) as Cond[]).toEqual([
    expect.objectContaining({ type: "herald.dev/StatusWritten", status: "True", reason: "Written" }),
  ]);
});

test("a pool status write answered 403: one Warning event on the pool, and no retry storm", async () => {
  const w = world();
  w.refuse.pool = () => new KubeError(403, "Forbidden", "PATCH: 403 Forbidden ipaddresspools/status");
  w.pools.put(poolObject("lan", { addresses: ["192.0.2.0/30"] }));
  w.controller.start();
  await w.controller.warmStart();
  await w.advance(10 * 60_000 - 1);
  expect(w.events).toEqual([
    expect.stringMatching(
      /^IPAddressPool lan Warning StatusWriteRejected: the API server refused the pool's status write \(PATCH: 403/,
    ),
  ]);
  // The status, then the condition (refused too), and nothing more for ten minutes.
  expect(w.requests).toEqual(["pool lan", "pool lan"]);
  expect(w.controller.queue.failing).toBe(0);
});

test("a pool status write answered 422 leaves the reason in the pool's conditions", async () => {
  const w = world();
  w.refuse.pool = (patch) =>
    "assigned" in ((patch as { status?: object }).status ?? {})
      ? new KubeError(422, "Invalid", "PATCH: 422 Invalid status.assigned")
      : undefined;
  w.pools.put(poolObject("lan", { addresses: ["192.0.2.0/30"] }));
  w.controller.start();
  await w.controller.warmStart();
  await w.advance(10 * 60_000 - 1);
  const conditions = (w.pools.get("lan")?.status as { conditions?: Cond[] } | undefined)?.conditions ?? [];
  expect(conditions.find((c) => c.type === "StatusWritten")).toMatchObject({
    status: "False",
    reason: "Invalid",
  });
  expect(conditions.find((c) => c.type === "Valid")).toMatchObject({ status: "True" });
  expect(w.requests).toEqual(["pool lan", "pool lan"]);
});

test("a refused write heals on its own once the API takes it (RBAC fixed), without the object changing", async () => {
  const w = world();
  const forbidden = () => new KubeError(403, "Forbidden", "PATCH: 403 Forbidden");
  w.refuse.pool = forbidden;
  w.refuse.svc = forbidden;
  w.pools.put(poolObject("lan", { addresses: ["192.0.2.0/30"] }));
  w.controller.start();
  await w.controller.warmStart();
  await w.addService(lbService("shop", "web"));
  await w.advance(60_000);
  expect(w.ingress("shop/web")).toEqual([]);

  w.refuse.pool = undefined;
  w.refuse.svc = undefined;
  await w.advance(10 * 60_000);
  expect(w.ingress("shop/web")).toEqual(["192.0.2.0"]);
  expect(w.events.filter((e) => e.includes("IPAllocated"))).toHaveLength(1);
  const pool = (w.pools.get("lan")?.status as { assigned?: unknown; conditions?: Cond[] } | undefined) ?? {};
  expect(pool.conditions?.find((c) => c.type === "StatusWritten")).toBeUndefined();
  expect(pool.assigned).toBeDefined();
  // The 403 refused the condition too, so none says False now.
  const conditions = (w.services.get("shop/web")?.status?.conditions ?? []) as Cond[];
  expect(conditions.filter((c) => c.status === "False")).toEqual([]);
});

test.each([
  ["409 Conflict", new KubeError(409, "Conflict", "PATCH: 409 Conflict")],
  ["429 TooManyRequests", new KubeError(429, "TooManyRequests", "PATCH: 429")],
  ["500 InternalError", new KubeError(500, "InternalError", "PATCH: 500")],
  ["a reset connection", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })],
])("%s on a status write is retried with backoff until it succeeds", async (_what, error) => {
  const w = await started();
  w.faults.svc.push(error, error);
  await w.addService(lbService("shop", "web"));
  expect(w.ingress("shop/web")).toEqual([]);
  await w.advance(200);
  await w.advance(400);
  expect(w.ingress("shop/web")).toEqual(["192.0.2.0"]);
  expect(w.events.filter((e) => e.includes("StatusWriteRejected"))).toEqual([]);
  expect(w.requests.filter((r) => r.startsWith("svc"))).toHaveLength(3);
});

test("a status write answered 404 (the Service went away meanwhile) is neither retried nor reported", async () => {
  const w = await started();
  w.faults.svc.push(new KubeError(404, "NotFound", 'PATCH: 404 NotFound services "web" not found'));
  await w.addService(lbService("shop", "web"));
  await w.advance(10 * 60_000);
  expect(w.requests.filter((r) => r.startsWith("svc"))).toEqual(["svc shop/web"]);
  expect(w.events).toEqual([]);
  expect(w.decisions).toEqual([]);
  // Its deletion arrives as usual and frees the address.
  await w.deleteService("shop/web");
  await w.addService(lbService("shop", "other"));
  expect(w.ingress("shop/other")).toEqual(["192.0.2.0"]);
});

test("a refused status write and a speaker's address conflict show side by side in the conditions", async () => {
  const w = await started();
  w.announcements.put({
    metadata: { name: "web", namespace: "shop" },
    status: {
      conditions: [{ type: "AddressConflict", status: "True", reason: "AddressInUse", message: "m" }],
    },
  });
  w.refuse.svc = (patch) =>
    "loadBalancer" in ((patch as { status?: object }).status ?? {}) ? invalid() : undefined;
  await w.addService(lbService("shop", "web"));
  await w.advance(60_000);
  expect(
    ((w.services.get("shop/web")?.status?.conditions ?? []) as Cond[]).map((c) => [c.type, c.status]),
  ).toEqual([
    ["herald.dev/AddressConflict", "True"],
    ["herald.dev/StatusWritten", "False"],
  ]);
});

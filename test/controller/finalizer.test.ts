// Herald's finalizer: a Service that holds addresses leaves the API only after a leading
// controller released them and recorded it, so a Service deleted while no controller led still
// gets its `released` row, and its address goes to no one else before that row.
import type { V1Service } from "@kubernetes/client-node";
import { FINALIZER, finalizersPatch, statusPatch } from "../../src/api/service.js";
import { KubeError } from "../../src/k8s/rest.js";
import { lbService, poolObject, startedWorld, world } from "./harness.js";

const started = () => startedWorld(["192.0.2.0/31"]);

const finalizers = (svc: V1Service | undefined) => svc?.metadata?.finalizers ?? [];
const rows = (w: Awaited<ReturnType<typeof started>>) =>
  w.decisions.map((d) => `${d.kind} ${d.service?.name} ${d.addresses.join(",")}`);

test("the finalizer goes on with the first address, in the same write", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a"));
  expect(w.ingress("ns/a")).toEqual(["192.0.2.0"]);
  expect(finalizers(w.services.get("ns/a"))).toEqual([FINALIZER]);
  expect(w.writes.filter((x) => x.startsWith("svc"))).toEqual(["svc ns/a"]);
});

test("a deleted Service is released, recorded, and only then gone from the API", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a"));
  await w.deleteService("ns/a");
  expect(w.services.get("ns/a")).toBeUndefined();
  expect(rows(w)).toEqual(["allocated a 192.0.2.0", "released a 192.0.2.0"]);
  expect(w.decisions[1]?.message).toBe("the Service was deleted");
  expect(w.events).toContain("Service ns/a Normal IPReleased: Released 192.0.2.0: the Service was deleted");
});

test("a Service deleted while no controller leads gets its released row from the next leader", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a"));
  w.setLeader(false);
  await w.deleteService("ns/a");
  // Still in the API, still holding its address: nobody released it yet.
  expect(w.services.get("ns/a")?.metadata?.deletionTimestamp).toBeDefined();
  expect(rows(w)).toEqual(["allocated a 192.0.2.0"]);
  // A Service created meanwhile asks for the same address.
  await w.addService(lbService("ns", "b", { loadBalancerIP: "192.0.2.0" }));
  w.setLeader(true);
  await w.controller.warmStart();
  await w.settle();
  expect(w.services.get("ns/a")).toBeUndefined();
  // The release is recorded once, and before anyone else gets the address (b, reconciled first,
  // is refused while a still holds it).
  expect(rows(w).filter((r) => !r.startsWith("request-refused"))).toEqual([
    "allocated a 192.0.2.0",
    "released a 192.0.2.0",
    "allocated b 192.0.2.0",
  ]);
  expect(w.ingress("ns/b")).toEqual(["192.0.2.0"]);
});

test("the finalizer comes off with the last address, and another controller's finalizer stays", async () => {
  const w = await started();
  const svc = lbService("ns", "a");
  svc.metadata = { ...svc.metadata, finalizers: ["example.com/keep"], resourceVersion: "7" };
  await w.addService(svc);
  expect(finalizers(w.services.get("ns/a"))).toEqual(["example.com/keep", FINALIZER]);
  const held = w.services.get("ns/a");
  if (!held?.spec) throw new Error("missing");
  await w.addService({ ...held, spec: { ...held.spec, type: "ClusterIP" } });
  expect(w.ingress("ns/a")).toEqual([]);
  expect(finalizers(w.services.get("ns/a"))).toEqual(["example.com/keep"]);
  expect(rows(w)).toEqual(["allocated a 192.0.2.0", "released a 192.0.2.0"]);
});

test("a deleted Service another finalizer keeps shows no address once Herald released it", async () => {
  const w = await started();
  const svc = lbService("ns", "a");
  svc.metadata = { ...svc.metadata, finalizers: ["example.com/keep"] };
  await w.addService(svc);
  await w.deleteService("ns/a");
  const left = w.services.get("ns/a");
  expect(left?.metadata?.finalizers).toEqual(["example.com/keep"]);
  expect(w.ingress("ns/a")).toEqual([]);
  expect(left?.metadata?.annotations?.["herald.dev/allocated-from-pool"]).toBeUndefined();
  expect(rows(w)).toEqual(["allocated a 192.0.2.0", "released a 192.0.2.0"]);
});

test("a Service that gets no address gets no finalizer", async () => {
  const w = await started();
  await w.addService(lbService("ns", "far", { loadBalancerIP: "198.51.100.7" }));
  expect(finalizers(w.services.get("ns/far"))).toEqual([]);
  await w.deleteService("ns/far");
  expect(w.services.get("ns/far")).toBeUndefined();
});

test("a Service that held its address before the finalizer existed gets it on the next pass", async () => {
  const w = world();
  w.pools.put(poolObject("lan", { addresses: ["192.0.2.0/31"] }));
  const old = lbService("ns", "a", {}, { "herald.dev/allocated-from-pool": "lan" });
  old.status = { loadBalancer: { ingress: [{ ip: "192.0.2.1" }] } };
  w.services.put(old);
  w.controller.start();
  await w.controller.warmStart();
  await w.settle();
  expect(w.ingress("ns/a")).toEqual(["192.0.2.1"]);
  expect(finalizers(w.services.get("ns/a"))).toEqual([FINALIZER]);
  expect(rows(w)).toEqual([]);
});

test("removing the finalizer is retried when the API server is away, and the release is recorded once", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a"));
  w.faults.svc.push(new KubeError(503, "ServiceUnavailable", "PATCH: 503"));
  await w.deleteService("ns/a");
  expect(w.services.get("ns/a")).toBeDefined();
  expect(rows(w)).toEqual(["allocated a 192.0.2.0"]);
  await w.advance(1000);
  expect(w.services.get("ns/a")).toBeUndefined();
  expect(rows(w)).toEqual(["allocated a 192.0.2.0", "released a 192.0.2.0"]);
});

test("a finalizer removal the API server refuses for good is a Warning event and is tried again later", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a"));
  w.refuse.svc = () => new KubeError(403, "Forbidden", "PATCH: 403 Forbidden");
  await w.deleteService("ns/a");
  expect(w.services.get("ns/a")).toBeDefined();
  expect(w.events.filter((e) => e.includes("StatusWriteRejected"))).toHaveLength(1);
  // Not released while the Service is still there: its address is not free yet.
  expect(rows(w)).toEqual(["allocated a 192.0.2.0"]);
  w.refuse.svc = undefined;
  await w.advance(10 * 60_000);
  expect(w.services.get("ns/a")).toBeUndefined();
  expect(rows(w)).toEqual(["allocated a 192.0.2.0", "released a 192.0.2.0"]);
});

test("the finalizer patch carries the resourceVersion it was computed from", () => {
  const svc = lbService("ns", "a");
  svc.metadata = { ...svc.metadata, resourceVersion: "42", finalizers: ["x/y"] };
  expect(finalizersPatch(svc, true)).toEqual({ resourceVersion: "42", finalizers: ["x/y", FINALIZER] });
  expect(
    finalizersPatch({ ...svc, metadata: { ...svc.metadata, finalizers: ["x/y", FINALIZER] } }, false),
  ).toEqual({
    resourceVersion: "42",
    finalizers: ["x/y"],
  });
  // In steady state the status patch has nothing to say.
  const held: V1Service = {
    ...svc,
    metadata: {
      ...svc.metadata,
      finalizers: [FINALIZER],
      annotations: { "herald.dev/allocated-from-pool": "lan" },
    },
    status: { loadBalancer: { ingress: [{ ip: "192.0.2.0" }] } },
  };
  expect(statusPatch(held, { pool: "lan", addresses: ["192.0.2.0"] }, undefined).status).toBeUndefined();
});

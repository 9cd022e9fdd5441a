// Reports (events, audit rows, metrics) follow from what the API shows against what was
// decided, so a status write that fails and is retried still reports once.
import { KubeError } from "../../src/k8s/rest.js";
import { lbService, startedWorld } from "./harness.js";

const started = () => startedWorld(["192.0.2.0/30"]);

const unavailable = () => new KubeError(503, "ServiceUnavailable", "PATCH: 503 ServiceUnavailable");

test("an allocation whose status write failed once is reported once, after the retry wrote it", async () => {
  const w = await started();
  w.faults.svc.push(unavailable());
  await w.addService(lbService("shop", "web"));
  expect(w.ingress("shop/web")).toEqual([]);
  expect(w.events.filter((e) => e.includes("IPAllocated"))).toEqual([]);
  await w.advance(1000);
  expect(w.ingress("shop/web")).toEqual(["192.0.2.0"]);
  expect(w.events.filter((e) => e.includes("IPAllocated"))).toEqual([
    "Service shop/web Normal IPAllocated: Assigned 192.0.2.0 from pool lan",
  ]);
  expect(w.decisions.filter((d) => d.kind === "allocated").map((d) => d.addresses)).toEqual([["192.0.2.0"]]);
  expect(await w.counter("herald_allocations_total", { result: "allocated" })).toBe(1);
  // Nothing more to say on later passes.
  w.controller.serviceChanged(w.services.get("shop/web") ?? lbService("x", "y"));
  await w.advance(60_000);
  expect(w.events.filter((e) => e.includes("IPAllocated"))).toHaveLength(1);
  expect(w.decisions.filter((d) => d.kind === "allocated")).toHaveLength(1);
});

test("a release whose status write failed once is reported once, after the retry cleared it", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a"));
  const svc = w.services.get("ns/a");
  if (!svc?.spec) throw new Error("missing");
  w.faults.svc.push(unavailable());
  await w.addService({ ...svc, spec: { ...svc.spec, type: "ClusterIP" } });
  await w.advance(1000);
  expect(w.ingress("ns/a")).toEqual([]);
  expect(w.events.filter((e) => e.includes("IPReleased"))).toEqual([
    "Service ns/a Normal IPReleased: Released 192.0.2.0: the Service is no longer a LoadBalancer Herald handles",
  ]);
  expect(w.decisions.filter((d) => d.kind === "released")).toHaveLength(1);
  expect(await w.counter("herald_allocations_total", { result: "released" })).toBe(1);
});

test("a refusal that takes the address away is reported once, also when clearing the status failed once", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a", { loadBalancerIP: "192.0.2.1" }));
  expect(w.ingress("ns/a")).toEqual(["192.0.2.1"]);
  const svc = w.services.get("ns/a");
  if (!svc?.spec) throw new Error("missing");
  w.faults.svc.push(unavailable());
  await w.addService({ ...svc, spec: { ...svc.spec, loadBalancerIP: "198.51.100.7" } });
  await w.advance(1000);
  await w.advance(60_000);
  expect(w.ingress("ns/a")).toEqual([]);
  expect(w.events.filter((e) => e.includes("NotInAnyPool"))).toEqual([
    "Service ns/a Warning NotInAnyPool: 198.51.100.7 is in no pool",
  ]);
  expect(w.decisions.filter((d) => d.kind === "released").map((d) => [d.reason, d.addresses])).toEqual([
    ["NotInAnyPool", ["192.0.2.1"]],
  ]);
  expect(w.decisions.filter((d) => d.kind === "request-refused")).toHaveLength(1);
  expect(await w.counter("herald_allocations_total", { result: "released" })).toBe(1);
  expect(await w.counter("herald_allocation_failures_total", { reason: "NotInAnyPool" })).toBe(1);
});

test("a Service deleted and created again under its name is a release and a new allocation", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a"));
  const again = lbService("ns", "a");
  again.metadata = { ...again.metadata, uid: "uid-second" };
  await w.addService(again);
  expect(w.ingress("ns/a")).toEqual(["192.0.2.0"]);
  expect(w.decisions.map((d) => [d.kind, d.service?.uid])).toEqual([
    ["allocated", "uid-ns-a"],
    ["released", "uid-ns-a"],
    ["allocated", "uid-second"],
  ]);
});

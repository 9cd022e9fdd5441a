import type { ConditionSource } from "../../src/controller/service-conditions.js";
import { lbService, poolObject, world } from "./harness.js";

async function started(opts: Parameters<typeof world>[0] = {}) {
  const w = world(opts);
  w.pools.put(poolObject("lan", { addresses: ["192.0.2.0/30"] }));
  w.controller.start();
  await w.controller.warmStart();
  await w.settle();
  w.writes.length = 0;
  return w;
}

test("a LoadBalancer Service gets an address, an event, an audit record, and then no more writes", async () => {
  const w = await started();
  await w.addService(lbService("shop", "web"));
  expect(w.ingress("shop/web")).toEqual(["192.0.2.0"]);
  expect(w.services.get("shop/web")?.metadata?.annotations?.["herald.dev/allocated-from-pool"]).toBe("lan");
  expect(w.events).toContain("Service shop/web Normal IPAllocated: Assigned 192.0.2.0 from pool lan");
  expect(w.decisions.map((d) => [d.kind, d.addresses.join()])).toContainEqual(["allocated", "192.0.2.0"]);
  expect(w.writes.filter((x) => x.startsWith("svc"))).toEqual(["svc shop/web"]);
  // Level-triggered: reconciling again, for any reason, writes nothing.
  const before = w.writes.length;
  w.controller.serviceChanged(w.services.get("shop/web") ?? lbService("x", "y"));
  w.controller.poolsChanged();
  await w.settle();
  expect(w.writes.length).toBe(before);
});

test("pool status counts what is held; exhaustion, then a release retries the pending Service", async () => {
  const w = await started();
  for (const n of ["a", "b", "c", "d", "e"]) await w.addService(lbService("ns", n));
  expect(w.ingress("ns/e")).toEqual([]);
  expect(w.events).toContain("Service ns/e Warning PoolExhausted: no free IPv4 address in pool lan");
  const status = w.pools.get("lan")?.status as {
    assigned: string;
    available: string;
    conditions: { type: string; status: string }[];
  };
  expect(status.assigned).toBe("4");
  expect(status.available).toBe("0");
  expect(status.conditions.find((c) => c.type === "Exhausted")?.status).toBe("True");

  await w.deleteService("ns/b");
  expect(w.ingress("ns/e")).toEqual(["192.0.2.1"]);
  expect(w.decisions.some((d) => d.kind === "released" && d.service?.name === "b")).toBe(true);
});

test("a Service that stops being a LoadBalancer is released and its status cleared", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a"));
  const svc = w.services.get("ns/a");
  if (!svc?.spec) throw new Error("missing");
  await w.addService({ ...svc, spec: { ...svc.spec, type: "ClusterIP" } });
  expect(w.ingress("ns/a")).toEqual([]);
  expect(w.services.get("ns/a")?.metadata?.annotations?.["herald.dev/allocated-from-pool"]).toBeUndefined();
  expect(w.events.some((e) => e.includes("IPReleased"))).toBe(true);
});

test("Services of another loadBalancerClass are left alone", async () => {
  const w = await started();
  await w.addService(lbService("ns", "other", { loadBalancerClass: "example.com/other" }));
  expect(w.ingress("ns/other")).toEqual([]);
  expect(w.writes).toEqual([]);
  const classed = await started({ lbClass: "example.com/other" });
  await classed.addService(lbService("ns", "other", { loadBalancerClass: "example.com/other" }));
  await classed.addService(lbService("ns", "plain"));
  expect(classed.ingress("ns/other")).toEqual(["192.0.2.0"]);
  expect(classed.ingress("ns/plain")).toEqual([]);
});

test("a standby writes nothing; on becoming leader it warm-starts from status without rewriting it", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a"));
  await w.addService(lbService("ns", "b", {}, { "herald.dev/loadBalancerIPs": "192.0.2.3" }));
  w.writes.length = 0;
  w.events.length = 0;

  const standby = world({ leader: false });
  for (const p of w.pools.list()) standby.pools.put(p);
  for (const s of w.services.list()) standby.services.put(s);
  standby.controller.start();
  await standby.controller.warmStart();
  standby.controller.serviceChanged(lbService("ns", "a"));
  await standby.settle();
  expect(standby.writes).toEqual([]);

  standby.setLeader(true);
  const r = await standby.controller.warmStart();
  await standby.settle();
  expect(r).toEqual({ restored: 2, conflicts: 0 });
  expect(standby.writes.filter((x) => x.startsWith("svc"))).toEqual([]);
  expect(standby.events).toEqual([]);
  // New work after takeover avoids the restored addresses.
  await standby.addService(lbService("ns", "c"));
  expect(standby.ingress("ns/c")).toEqual(["192.0.2.1"]);
});

test("warm start reports a Service whose status collides with an older one's, and moves the younger", async () => {
  const w = world();
  w.pools.put(poolObject("lan", { addresses: ["192.0.2.0/30"] }));
  const old = lbService("ns", "old");
  old.metadata = { ...old.metadata, creationTimestamp: new Date("2025-01-01T00:00:00Z") };
  old.status = { loadBalancer: { ingress: [{ ip: "192.0.2.2" }] } };
  const young = lbService("ns", "young");
  young.metadata = { ...young.metadata, creationTimestamp: new Date("2025-06-01T00:00:00Z") };
  young.status = { loadBalancer: { ingress: [{ ip: "192.0.2.2" }] } };
  w.services.put(young);
  w.services.put(old);
  w.controller.start();
  expect(await w.controller.warmStart()).toEqual({ restored: 1, conflicts: 1 });
  await w.settle();
  expect(w.ingress("ns/old")).toEqual(["192.0.2.2"]);
  expect(w.ingress("ns/young")).toEqual(["192.0.2.0"]);
  expect(w.decisions.find((d) => d.kind === "conflict-detected")?.service?.name).toBe("young");
  // The address its status showed is recorded as lost: moved, not a fresh allocation.
  expect(w.decisions.filter((d) => d.service?.name === "young").map((d) => [d.kind, d.message])).toEqual([
    ["conflict-detected", expect.stringContaining("at start")],
    ["moved", "Moved from 192.0.2.2 to 192.0.2.0 (pool lan)"],
  ]);
});

test("warm start: a Service that stopped being a LoadBalancer while nobody led is released, and audited so", async () => {
  const w = world();
  w.pools.put(poolObject("lan", { addresses: ["192.0.2.0/30"] }));
  const svc = lbService("ns", "was", { type: "ClusterIP" });
  svc.metadata = { ...svc.metadata, annotations: { "herald.dev/allocated-from-pool": "lan" } };
  svc.status = { loadBalancer: { ingress: [{ ip: "192.0.2.1" }] } };
  w.services.put(svc);
  w.controller.start();
  await w.controller.warmStart();
  await w.settle();
  expect(w.ingress("ns/was")).toEqual([]);
  expect(w.decisions.map((d) => [d.kind, d.service?.name, d.addresses])).toEqual([
    ["released", "was", ["192.0.2.1"]],
  ]);
});

test("warm start: an address outside every pool now (shrunk while nobody led) is recorded as moved or released", async () => {
  const w = world();
  w.pools.put(poolObject("lan", { addresses: ["192.0.2.0/31"] }));
  const shown = (name: string, ip: string) => {
    const svc = lbService("ns", name, {}, {});
    svc.metadata = { ...svc.metadata, annotations: { "herald.dev/allocated-from-pool": "lan" } };
    svc.status = { loadBalancer: { ingress: [{ ip }] } };
    return svc;
  };
  w.services.put(shown("a", "192.0.2.0"));
  w.services.put(shown("b", "192.0.2.8"));
  w.services.put(shown("c", "192.0.2.9"));
  w.controller.start();
  expect(await w.controller.warmStart()).toEqual({ restored: 1, conflicts: 2 });
  await w.settle();
  const rows = (name: string) =>
    w.decisions
      .filter((d) => d.service?.name === name && ["allocated", "moved", "released"].includes(d.kind))
      .map((d) => d.kind);
  expect([rows("a"), [...rows("b"), ...rows("c")].sort()]).toEqual([[], ["moved", "released"]]);
  expect(w.decisions.find((d) => d.kind === "released")?.addresses).toEqual([
    expect.stringMatching(/^192\.0\.2\.[89]$/),
  ]);
});

test("an invalid pool is marked Valid=False with the reason, gives nothing new, and does not crash", async () => {
  const w = await started();
  await w.addService(lbService("ns", "a"));
  await w.addPool(poolObject("overlap", { addresses: ["192.0.2.2/31"] }));
  await w.addPool(poolObject("junk", { addresses: ["not-an-address"] }));
  type Cond = { type: string; status: string; reason: string; message: string };
  const cond = (name: string) =>
    (w.pools.get(name)?.status as { conditions?: Cond[] } | undefined)?.conditions?.find(
      (c) => c.type === "Valid",
    );
  expect(cond("overlap")).toMatchObject({ status: "False", reason: "Overlap" });
  expect(cond("lan")).toMatchObject({ status: "False", reason: "Overlap" });
  expect(cond("junk")).toMatchObject({ status: "False", reason: "InvalidSpec" });
  expect(cond("junk")?.message).toContain("spec.addresses[0]");
  expect(w.events.some((e) => e.startsWith("IPAddressPool junk Warning InvalidPool"))).toBe(true);
  // The existing Service keeps its address; new ones get none while the pools overlap.
  expect(w.ingress("ns/a")).toEqual(["192.0.2.0"]);
  await w.addService(lbService("ns", "b"));
  expect(w.ingress("ns/b")).toEqual([]);
  // Fixing the overlap lets the pending Service through at once.
  await w.deletePool("overlap");
  expect(w.ingress("ns/b")).toEqual(["192.0.2.1"]);
});

test("shrinking a pool moves the Services outside it, with an event", async () => {
  const w = await started();
  for (const n of ["a", "b", "c"]) await w.addService(lbService("ns", n));
  await w.addPool(poolObject("spare", { addresses: ["198.51.100.0/30"] }));
  await w.addPool(poolObject("lan", { addresses: ["192.0.2.0/31"] }));
  expect(w.ingress("ns/a")).toEqual(["192.0.2.0"]);
  expect(w.ingress("ns/c")).toEqual(["198.51.100.0"]);
  expect(w.events).toContain(
    "Service ns/c Normal IPMoved: Moved from 192.0.2.2 to 198.51.100.0 (pool spare)",
  );
});

describe("a tenant copies another namespace's sharing key", () => {
  const key = { "herald.dev/allow-shared-ip": "shop-key" };
  const https = { ports: [{ port: 443, protocol: "TCP" }] };

  test("refused with a Warning event and an address of its own; the holder keeps its address alone", async () => {
    const w = await started();
    await w.addService(lbService("shop", "web", {}, key));
    await w.addService(
      lbService("evil", "copy", https, {
        ...key,
        "herald.dev/loadBalancerIPs": w.ingress("shop/web")[0] ?? "",
      }),
    );
    expect(w.ingress("evil/copy")).toEqual([]);
    expect(w.events).toContainEqual(
      expect.stringMatching(
        /^Service evil\/copy Warning SharingNamespaceConflict: 192\.0\.2\.0 is held by shop\/web/,
      ),
    );
    await w.addService(lbService("evil", "copy", https, key));
    expect(w.ingress("evil/copy")).toEqual(["192.0.2.1"]);
    // The holder adding the port the other took changes nothing for it.
    await w.addService(lbService("shop", "web", { ports: [{ port: 80 }, { port: 443 }] }, key));
    expect(w.ingress("shop/web")).toEqual(["192.0.2.0"]);
  });

  test("a pool that allows it lets them share; the later Service moves when the first one needs its port", async () => {
    const w = world();
    w.pools.put(
      poolObject("lan", { addresses: ["192.0.2.0/30"], allocation: { allowSharingAcrossNamespaces: true } }),
    );
    w.controller.start();
    await w.controller.warmStart();
    await w.addService(lbService("shop", "web", {}, key));
    await w.addService(lbService("blog", "web", https, key));
    expect(w.ingress("blog/web")).toEqual(["192.0.2.0"]);
    await w.addService(lbService("shop", "web", { ports: [{ port: 80 }, { port: 443 }] }, key));
    expect(w.ingress("shop/web")).toEqual(["192.0.2.0"]);
    expect(w.ingress("blog/web")).toEqual(["192.0.2.1"]);
    expect(w.events).toContain(
      "Service blog/web Normal IPMoved: Moved from 192.0.2.0 to 192.0.2.1 (pool lan)",
    );
  });
});

test("warm start: an address two namespaces shared before stays with the older Service; the other moves", async () => {
  const w = world();
  w.pools.put(poolObject("lan", { addresses: ["192.0.2.0/30"] }));
  const key = { "herald.dev/allow-shared-ip": "k" };
  const holder = lbService("shop", "web", {}, key);
  holder.metadata = { ...holder.metadata, creationTimestamp: new Date("2025-01-01T00:00:00Z") };
  holder.status = { loadBalancer: { ingress: [{ ip: "192.0.2.2" }] } };
  // Named to come first and written first: neither may win it the address.
  const copier = lbService("aaa", "copy", { ports: [{ port: 443, protocol: "TCP" }] }, key);
  copier.metadata = { ...copier.metadata, creationTimestamp: new Date("2025-06-01T00:00:00Z") };
  copier.status = { loadBalancer: { ingress: [{ ip: "192.0.2.2" }] } };
  w.services.put(copier);
  w.services.put(holder);
  w.controller.start();
  expect(await w.controller.warmStart()).toEqual({ restored: 1, conflicts: 1 });
  await w.settle();
  expect(w.ingress("shop/web")).toEqual(["192.0.2.2"]);
  expect(w.ingress("aaa/copy")).toEqual(["192.0.2.0"]);
  expect(w.decisions.find((d) => d.kind === "conflict-detected")).toMatchObject({
    service: { name: "copy" },
    reason: "SharingNamespaceConflict",
  });
});

test("a speaker's AddressConflict is mirrored on the Service's conditions, then set False when it clears", async () => {
  const w = await started();
  await w.addService(lbService("shop", "web"));
  const conditions = () => (w.services.get("shop/web")?.status?.conditions ?? []) as unknown[];
  const announce = async (status: ConditionSource["status"]) => {
    w.announcements.put({ metadata: { name: "web", namespace: "shop" }, status });
    w.controller.announcementChanged("shop", "web");
    await w.settle();
  };
  await announce({ conditions: [] });
  expect(conditions()).toEqual([]);
  const message = "192.0.2.0 is in use by a host with MAC 02:00:00:00:00:99; node n1 does not announce it";
  await announce({
    conditions: [{ type: "AddressConflict", status: "True", reason: "AddressInUse", message }],
  });
  expect(conditions()).toEqual([
    {
      type: "herald.dev/AddressConflict",
      status: "True",
      reason: "AddressInUse",
      message,
      lastTransitionTime: "2026-01-01T00:00:00Z",
    },
  ]);
  // Steady: nothing more to write.
  const writes = w.writes.length;
  await announce({
    conditions: [{ type: "AddressConflict", status: "True", reason: "AddressInUse", message }],
  });
  expect(w.writes).toHaveLength(writes);
  await announce({});
  expect(conditions()).toEqual([
    expect.objectContaining({ type: "herald.dev/AddressConflict", status: "False", reason: "NoConflict" }),
  ]);
});

test("another controller's conditions on the Service are kept", async () => {
  const w = await started();
  const other = {
    type: "example.com/Ready",
    status: "True",
    reason: "Fine",
    message: "",
    lastTransitionTime: "2025-01-01T00:00:00Z",
  };
  await w.addService({ ...lbService("shop", "web"), status: { conditions: [other] } as never });
  w.announcements.put({
    metadata: { name: "web", namespace: "shop" },
    status: {
      conditions: [{ type: "AddressConflict", status: "True", reason: "AddressInUse", message: "m" }],
    },
  });
  w.controller.announcementChanged("shop", "web");
  await w.settle();
  expect((w.services.get("shop/web")?.status?.conditions ?? []).map((c) => c.type)).toEqual([
    "example.com/Ready",
    "herald.dev/AddressConflict",
  ]);
});

test("a misspelt ignore-address-conflicts annotation is a Warning event, said once", async () => {
  const w = await started();
  await w.addService(lbService("shop", "web", {}, { "herald.dev/ignore-address-conflicts": "yes" }));
  w.controller.serviceChanged(w.services.get("shop/web") ?? lbService("x", "y"));
  await w.settle();
  expect(w.events.filter((e) => e.includes("InvalidAnnotation"))).toEqual([
    'Service shop/web Warning InvalidAnnotation: annotation herald.dev/ignore-address-conflicts must be "true" or "false", not "yes"',
  ]);
});

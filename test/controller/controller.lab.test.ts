// `herald controller` against the lab's real API server: what a user sees with
// kubectl (status, annotations, events, pool status), and what survives
// crashes, leader changes, API server restarts and expired watches.
import { FINALIZER } from "../../src/api/service.js";
import { isStatus, MERGE_PATCH } from "../../src/k8s/rest.js";
import { Lab } from "../lab/lab.js";
import {
  apiOf,
  applyPool,
  createNamespace,
  createService,
  deletePool,
  deleteService,
  eventsOf,
  eventually,
  getService,
  ingress,
  ingressOf,
  installCrds,
  lbService,
  leading,
  patchService,
  type RunningController,
  startController,
} from "./lab-controller.js";

let lab: Lab;
let api: ReturnType<typeof apiOf>;
let ctl: RunningController;

beforeAll(async () => {
  lab = await Lab.start({ nodes: 1 });
  api = apiOf(lab);
  await installCrds(lab);
  await applyPool(api, "lan", { addresses: ["192.0.2.200-192.0.2.203"] });
  await applyPool(api, "requests", { addresses: ["192.0.2.210-192.0.2.219"], autoAssign: false });
  await applyPool(api, "team-a", { addresses: ["192.0.2.240/30"], allocation: { namespaces: ["team-a"] } });
  for (const ns of ["shop", "team-a", "team-b"]) await createNamespace(api, ns);
  ctl = startController(lab, "controller-0", 7472);
  await eventually("controller leading", () => leading(ctl));
}, 180_000);

afterAll(async () => {
  // HERALD_KEEP_LOGS=DIR keeps the controllers' logs of this run for a look afterwards.
  const keep = process.env.HERALD_KEEP_LOGS;
  if (keep && lab)
    await lab.exec("lab", ["sh", "-c", `mkdir -p ${keep} && cp ${lab.dir}/logs/* ${keep}/`]).catch(() => {});
  await lab?.stop();
});

const has = (ns: string, name: string, want: string[]) =>
  eventually(`${ns}/${name} ingress ${want.join(",")}`, async () => {
    const got = await ingress(api, ns, name);
    return JSON.stringify(got) === JSON.stringify(want) ? got : undefined;
  });

const eventWith = (ns: string, name: string, text: string) =>
  eventually(`event "${text}" on ${ns}/${name}`, async () =>
    (await eventsOf(api, ns, name)).find((e) => e.includes(text)),
  );

test("a LoadBalancer Service gets an EXTERNAL-IP, the pool annotation and an event", async () => {
  await createService(api, "shop", lbService("web"));
  await has("shop", "web", ["192.0.2.200"]);
  const svc = await getService(api, "shop", "web");
  expect(svc.metadata?.annotations?.["herald.dev/allocated-from-pool"]).toBe("lan");
  await eventWith("shop", "web", "Normal IPAllocated: Assigned 192.0.2.200 from pool lan");
  // The decision is in the audit log, queryable over HTTP.
  const audit = await eventually("audit event", async () => {
    const page = JSON.parse(await ctl.get("/audit?address=192.0.2.200&kind=allocated")) as {
      events: {
        kind: string;
        service: { namespace: string; name: string };
        pool: string;
        component: string;
      }[];
    };
    return page.events[0];
  });
  expect(audit).toMatchObject({
    kind: "allocated",
    component: "controller",
    pool: "lan",
    service: { namespace: "shop", name: "web" },
  });
  const table = await lab.kubectlRun(["get", "svc", "-n", "shop", "web"]);
  expect(table).toMatch(/web\s+LoadBalancer\s+\S+\s+192\.0\.2\.200\s+80:\d+\/TCP/);
});

/** Service status writes the controller made (its own counter). */
const statusWrites = async (c: RunningController) =>
  Number(/herald_status_writes_total\{kind="Service"\} (\d+)/.exec(await c.metrics())?.[1] ?? 0);

/** Service reconciles the controller finished, leader or not (its reconcile-duration histogram). */
async function serviceReconciles(c: RunningController): Promise<number> {
  let n = 0;
  for (const m of (await c.metrics()).matchAll(/herald_reconcile_duration_seconds_count\{([^}]*)\} (\d+)/g))
    if ((m[1] ?? "").includes('kind="svc"')) n += Number(m[2]);
  return n;
}

/** Waits until the controller has finished at least `more` Service reconciles since `since`, and has nothing queued. */
const reconciled = (c: RunningController, since: number, more: number) =>
  eventually(`${more} more Service reconciles, queue empty`, async () => {
    const done = await serviceReconciles(c);
    return done >= since + more && (await c.state()).queueDepth === 0 ? done : undefined;
  });

test("steady state: no status writes while nothing changes", async () => {
  const before = await statusWrites(ctl);
  const reconciles = await serviceReconciles(ctl);
  // A namespace change has every Service in it reconciled again; none of them needs a write.
  await api.request(
    "PATCH",
    "/api/v1/namespaces/shop",
    { metadata: { labels: { touched: "1" } } },
    MERGE_PATCH,
  );
  await reconciled(ctl, reconciles, 1);
  expect(await statusWrites(ctl)).toBe(before);
});

test("exhaustion, then a release hands the address to the waiting Service", async () => {
  for (const n of ["a", "b", "c", "d"]) await createService(api, "shop", lbService(n));
  await has("shop", "c", ["192.0.2.203"]);
  await eventWith("shop", "d", "Warning PoolExhausted");
  expect(await ingress(api, "shop", "d")).toEqual([]);
  // A fresh discovery cache: the one from before the CRDs existed knows no "ipp". The pool's
  // status follows within a second or so (it is written at most once a second).
  await eventually("kubectl get ipp to show the pool full", async () => {
    const ipp = await lab.kubectlRun(["--cache-dir", `${lab.dir}/kubectl-cache`, "get", "ipp", "lan"]);
    return /lan\s+\["192\.0\.2\.200-192\.0\.2\.203"\]\s+4\s+0\s+True/.test(ipp);
  });
  await deleteService(api, "shop", "b");
  await has("shop", "d", ["192.0.2.202"]);
});

describe("requested addresses: exactly that one or none, with a reason", () => {
  test.each([
    ["in-pool", { loadBalancerIP: "192.0.2.212" }, {}, ["192.0.2.212"], "IPAllocated"],
    ["out-of-pool", { loadBalancerIP: "198.51.100.77" }, {}, [], "NotInAnyPool"],
    ["taken", {}, { "herald.dev/loadBalancerIPs": "192.0.2.200" }, [], "AddressInUse"],
    ["wrong-family", {}, { "herald.dev/loadBalancerIPs": "2001:db8::201" }, [], "WrongFamily"],
    ["forbidden", {}, { "herald.dev/loadBalancerIPs": "192.0.2.241" }, [], "PoolNotAllowed"],
    ["forbidden-pool", {}, { "herald.dev/address-pool": "team-a" }, [], "PoolNotAllowed"],
  ])("%s", async (name, spec, annotations, want, reason) => {
    await createService(api, "team-b", lbService(name, spec, annotations));
    await eventWith("team-b", name, reason);
    await has("team-b", name, want);
  });

  test("the tenant's own namespace may use its pool", async () => {
    await createService(api, "team-a", lbService("mine", {}, { "herald.dev/address-pool": "team-a" }));
    await has("team-a", "mine", ["192.0.2.240"]);
  });
});

test("sharing: same key and other ports share; a clashing port is refused", async () => {
  const key = { "herald.dev/allow-shared-ip": "dns", "herald.dev/address-pool": "team-a" };
  await createService(api, "team-a", lbService("dns-tcp", { ports: [{ port: 53, protocol: "TCP" }] }, key));
  const ip = await eventually("dns-tcp address", async () => (await ingress(api, "team-a", "dns-tcp"))[0]);
  const shared = { ...key, "herald.dev/loadBalancerIPs": ip };
  await createService(
    api,
    "team-a",
    lbService("dns-udp", { ports: [{ port: 53, protocol: "UDP" }] }, shared),
  );
  await has("team-a", "dns-udp", [ip]);
  await createService(
    api,
    "team-a",
    lbService("dns-clash", { ports: [{ port: 53, protocol: "TCP" }] }, shared),
  );
  await eventWith("team-a", "dns-clash", "SharingPortConflict");
});

test("pool shrink moves the Services outside it; deleting a pool releases its addresses", async () => {
  await applyPool(api, "spare", { addresses: ["192.0.2.244/30"], allocation: { priority: 50 } });
  await applyPool(api, "lan", { addresses: ["192.0.2.200-192.0.2.201"] });
  // c (192.0.2.203) and d (192.0.2.202) left the pool: they move to spare, with an event.
  await has("shop", "c", ["192.0.2.244"]);
  await has("shop", "d", ["192.0.2.245"]);
  await eventWith("shop", "c", "IPMoved");
  expect(await ingress(api, "shop", "web")).toEqual(["192.0.2.200"]);
  await deletePool(api, "spare");
  await has("shop", "c", []);
  await eventWith("shop", "c", "PoolExhausted");
  await applyPool(api, "lan", { addresses: ["192.0.2.200-192.0.2.203"] });
  await has("shop", "c", ["192.0.2.202"]);
});

test("a Service changed to ClusterIP gives its address back", async () => {
  await patchService(api, "shop", "a", { spec: { type: "ClusterIP" } });
  await has("shop", "a", []);
  const svc = await getService(api, "shop", "a");
  expect(svc.metadata?.annotations?.["herald.dev/allocated-from-pool"]).toBeUndefined();
});

test("API server stopped until the controller steps down, and back: it catches up, relisting where the watch expired", async () => {
  const seen = ctl.proc.output().length;
  await lab.stopApiServer();
  // Down long enough that the controller noticed: its watches failed and its Lease ran out.
  await eventually(
    "controller sees the API server gone",
    async () =>
      ctl.proc.output().slice(seen).includes("list/watch failed") && (await ctl.state()).leader === false,
    30_000,
  );
  await lab.startApiServer();
  await createService(api, "shop", lbService("after-restart"));
  await eventually(
    "after-restart address",
    async () => (await ingress(api, "shop", "after-restart")).length === 1,
  );
  const state = await ctl.state();
  expect(state.leader).toBe(true);
  // The restarted server's watch cache starts after the controller's last resourceVersion.
  expect(ctl.proc.output()).toContain("watch expired (410), relisting");
}, 180_000);

test("SIGKILL in the middle of 200 creations: every Service ends with one address, none moved, none shared", async () => {
  await applyPool(api, "bulk", {
    addresses: ["198.51.100.128/25", "192.0.2.128/26", "192.0.2.220-192.0.2.239"],
    allocation: { namespaces: ["bulk"] },
  });
  await createNamespace(api, "bulk");
  const names = Array.from({ length: 200 }, (_, i) => `s${i}`);
  const creating = (async () => {
    for (const n of names)
      await createService(api, "bulk", lbService(n, {}, { "herald.dev/address-pool": "bulk" }));
  })();
  await eventually(
    "some bulk Services assigned",
    async () => (await ingress(api, "bulk", "s20")).length === 1,
  );
  const before = new Map<string, string>();
  for (const n of names.slice(0, 20)) before.set(n, (await ingress(api, "bulk", n)).join());
  await ctl.proc.kill();
  await creating;
  ctl = startController(lab, "controller-0b", 7473);
  await eventually("restarted controller leading", () => leading(ctl), 30_000);
  const list = await eventually(
    "all 200 assigned",
    async () => {
      const l = await api.request<{ items: Parameters<typeof ingressOf>[0][] }>(
        "GET",
        "/api/v1/namespaces/bulk/services",
      );
      return l.items.every((s) => ingressOf(s).length === 1) ? l.items : undefined;
    },
    60_000,
  );
  const all = list.map((s) => ingressOf(s)[0]);
  expect(new Set(all).size).toBe(200);
  for (const [n, ip] of before)
    expect(list.find((s) => s.metadata?.name === n)?.status?.loadBalancer?.ingress?.[0]?.ip).toBe(ip);
}, 180_000);

test("two replicas: only the leader writes; killing it hands over within the lease duration", async () => {
  const standby = startController(lab, "controller-1", 7474);
  await eventually("standby ready", async () => (await standby.state()).ready === true);
  expect((await standby.state()).leader).toBe(false);
  await ctl.proc.kill();
  const killedAt = Date.now();
  // The Lease lasts 6 s; the standby takes over once it has seen it unrenewed that long.
  await eventually("standby takes over", () => leading(standby), 20_000);
  console.info(`standby took over ${Date.now() - killedAt} ms after the leader was killed`);
  await createService(api, "team-a", lbService("after-failover"));
  await has("team-a", "after-failover", ["192.0.2.242"]);
  ctl = standby;
}, 60_000);

test("a leader paused past its Lease writes nothing when it wakes up", async () => {
  const other = startController(lab, "controller-2", 7475);
  await eventually("second replica ready", async () => (await other.state()).ready === true);
  const before = await statusWrites(ctl);
  const reconciles = await serviceReconciles(ctl);
  ctl.proc.signal("SIGSTOP");
  try {
    await eventually("second replica takes over", () => leading(other), 20_000);
    await createService(api, "team-a", lbService("while-paused"));
    await has("team-a", "while-paused", ["192.0.2.243"]);
  } finally {
    ctl.proc.signal("SIGCONT");
  }
  // Woken up, it sees at once that its last renewal is too old, then that someone else holds the Lease.
  await eventually("woken replica knows it is not leading", async () => (await ctl.state()).leader === false);
  // It has caught up with what happened while it slept (the new Service, created and then written).
  await reconciled(ctl, reconciles, 2);
  expect(await statusWrites(ctl)).toBe(before);
  expect(await ingress(api, "team-a", "while-paused")).toEqual(["192.0.2.243"]);
  await ctl.proc.stop();
  ctl = other;
}, 60_000);

test("a Service deleted while no controller runs keeps its address until the next leader released and recorded it", async () => {
  await createService(api, "team-b", lbService("leaves", { loadBalancerIP: "192.0.2.219" }));
  await has("team-b", "leaves", ["192.0.2.219"]);
  expect((await getService(api, "team-b", "leaves")).metadata?.finalizers).toEqual([FINALIZER]);
  await ctl.proc.kill();
  await deleteService(api, "team-b", "leaves");
  // The finalizer holds it: still listed, with its address, marked for deletion.
  const held = await getService(api, "team-b", "leaves");
  expect(held.metadata?.deletionTimestamp).toBeDefined();
  expect(ingressOf(held)).toEqual(["192.0.2.219"]);
  const next = startController(lab, "controller-3", 7476);
  await eventually("next controller leading", () => leading(next), 30_000);
  await eventually("the Service gone", async () =>
    getService(api, "team-b", "leaves").then(
      () => false,
      (e: unknown) => isStatus(e, 404),
    ),
  );
  const released = await eventually("released row", async () => {
    const page = JSON.parse(await next.get("/audit?address=192.0.2.219&kind=released")) as {
      events: { service: { name: string }; message: string }[];
    };
    return page.events.length > 0 ? page.events : undefined;
  });
  expect(released.map((e) => [e.service.name, e.message])).toEqual([["leaves", "the Service was deleted"]]);
  ctl = next;
}, 90_000);

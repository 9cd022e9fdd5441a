// `herald controller` against a dual-stack API server (Kubernetes 1.20 with IPv6DualStack):
// PreferDualStack and RequireDualStack Services get one address per family from a mixed pool,
// in the order of ipFamilies; RequireDualStack is refused with a reason when the pool lacks a
// family, and PreferDualStack settles for the family there is.

import { LAB_START_TIMEOUT_MS, startLab } from "../lab/fixture.js";
import type { Lab } from "../lab/lab.js";
import {
  apiOf,
  applyPool,
  createService,
  eventsOf,
  eventually,
  getService,
  ingress,
  installCrds,
  lbService,
  leading,
  type RunningController,
  startController,
} from "./lab-controller.js";

let lab: Lab;
let api: ReturnType<typeof apiOf>;
let ctl: RunningController;

const V4 = ["192.0.2.200", "192.0.2.201", "192.0.2.202", "192.0.2.203"];
const V6 = ["2001:db8::200", "2001:db8::201", "2001:db8::202", "2001:db8::203"];

beforeAll(async () => {
  lab = await startLab({ nodes: 1, dualStack: true });
  api = apiOf(lab);
  await installCrds(lab);
  await applyPool(api, "mixed", { addresses: ["192.0.2.200-192.0.2.203", "2001:db8::200-2001:db8::203"] });
  await applyPool(api, "v4only", { addresses: ["192.0.2.210-192.0.2.213"], autoAssign: false });
  ctl = startController(lab, "controller-0", 7472);
  await eventually("controller leading", () => leading(ctl), 60_000);
}, LAB_START_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await lab?.stop();
});

const settled = (name: string, check: (ips: string[]) => boolean) =>
  eventually(
    `default/${name} ingress`,
    async () => {
      const got = await ingress(api, "default", name);
      return check(got) ? got : undefined;
    },
    30_000,
  );

const family = (ip: string) => (ip.includes(":") ? "IPv6" : "IPv4");

test("PreferDualStack and RequireDualStack Services get both families from a mixed pool, in ipFamilies order; kubectl shows both", async () => {
  const prefer = await createService(
    api,
    "default",
    lbService("prefer6", { ipFamilyPolicy: "PreferDualStack", ipFamilies: ["IPv6", "IPv4"] }),
  );
  // The real API server gave it a ClusterIP per family, IPv6 first.
  expect(prefer.spec?.clusterIPs?.map(family)).toEqual(["IPv6", "IPv4"]);
  const p = await settled("prefer6", (ips) => ips.length === 2);
  expect(p.map(family)).toEqual(["IPv6", "IPv4"]);
  expect(V6).toContain(p[0]);
  expect(V4).toContain(p[1]);

  await createService(
    api,
    "default",
    lbService("require4", { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"] }),
  );
  const r = await settled("require4", (ips) => ips.length === 2);
  expect(r.map(family)).toEqual(["IPv4", "IPv6"]);
  expect(V4).toContain(r[0]);
  expect(V6).toContain(r[1]);
  expect(new Set([...p, ...r]).size).toBe(4);
  const svc = await getService(api, "default", "require4");
  expect(svc.metadata?.annotations?.["herald.dev/allocated-from-pool"]).toBe("mixed");

  // `kubectl get svc`: EXTERNAL-IP lists both addresses (the 1.20 API server's table sorts
  // them as text, whatever the order in status); CLUSTER-IP shows the primary family's.
  const table = await lab.kubectlRun(["get", "svc", "prefer6", "require4", "--no-headers"]);
  const row = (name: string, clusterIp: string, ips: string[]) =>
    new RegExp(`^${name}\\s+LoadBalancer\\s+${clusterIp}\\s+${[...ips].sort().join(",")}\\s`, "m");
  expect(table).toMatch(row("prefer6", prefer.spec?.clusterIP ?? "", p));
  expect(table).toMatch(row("require4", svc.spec?.clusterIP ?? "", r));
  expect(svc.spec?.clusterIP).toMatch(/^203\.0\.113\./);
});

test("RequireDualStack from an IPv4-only pool is refused with DualStackUnavailable; PreferDualStack takes the IPv4 address", async () => {
  const pool = { "herald.dev/address-pool": "v4only" };
  await createService(
    api,
    "default",
    lbService("strict", { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"] }, pool),
  );
  await createService(
    api,
    "default",
    lbService("lenient", { ipFamilyPolicy: "PreferDualStack", ipFamilies: ["IPv4", "IPv6"] }, pool),
  );
  const lenient = await settled("lenient", (ips) => ips.length === 1);
  expect(lenient[0]).toMatch(/^192\.0\.2\.21[0-3]$/);
  const event = await eventually(
    "DualStackUnavailable on default/strict",
    async () => (await eventsOf(api, "default", "strict")).find((e) => e.includes("DualStackUnavailable")),
    30_000,
  );
  expect(event).toMatch(/^Warning DualStackUnavailable: .*v4only/);
  expect(await ingress(api, "default", "strict")).toEqual([]);

  // Once the pool has IPv6 too, the waiting Service gets both.
  await applyPool(api, "v4only", {
    addresses: ["192.0.2.210-192.0.2.213", "2001:db8::210-2001:db8::213"],
    autoAssign: false,
  });
  const strict = await settled("strict", (ips) => ips.length === 2);
  expect(strict.map(family)).toEqual(["IPv4", "IPv6"]);
  expect(strict[1]).toMatch(/^2001:db8::21[0-3]$/);
});

// Stopping the API server for a while and starting it again: etcd keeps every object,
// so what a controller wrote before the outage is there after it.
import { CoreV1Api } from "@kubernetes/client-node";
import { holdsFor } from "./exec.js";
import { LAB_START_TIMEOUT_MS, startLab } from "./fixture.js";
import type { Lab } from "./lab.js";

let lab: Lab;
let core: CoreV1Api;

beforeAll(async () => {
  lab = await startLab({ nodes: 1 });
  core = lab.kc.makeApiClient(CoreV1Api);
}, LAB_START_TIMEOUT_MS);

afterAll(async () => {
  await lab?.stop();
});

test("objects survive 10 s without an API server", async () => {
  await core.createNamespace({ body: { metadata: { name: "keep" } } });
  const cm = await core.createNamespacedConfigMap({
    namespace: "keep",
    body: { metadata: { name: "settings" }, data: { pool: "192.0.2.200-192.0.2.250" } },
  });
  const svc = await core.createNamespacedService({
    namespace: "keep",
    body: { metadata: { name: "web" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] } },
  });

  await lab.stopApiServer();
  expect(lab.apiServer).toBeUndefined();
  // The outage: for 10 s every request fails (nothing answers in the API server's place).
  const rounds = await holdsFor(
    10_000,
    async () => {
      await expect(core.readNamespacedConfigMap({ name: "settings", namespace: "keep" })).rejects.toThrow();
    },
    1000,
  );
  expect(rounds).toBeGreaterThanOrEqual(5);
  await lab.startApiServer();

  const cmAfter = await core.readNamespacedConfigMap({ name: "settings", namespace: "keep" });
  expect(cmAfter.metadata?.uid).toBe(cm.metadata?.uid);
  expect(cmAfter.data).toEqual({ pool: "192.0.2.200-192.0.2.250" });
  const svcAfter = await core.readNamespacedService({ name: "web", namespace: "keep" });
  expect(svcAfter.metadata?.uid).toBe(svc.metadata?.uid);
  expect(svcAfter.spec?.clusterIP).toBe(svc.spec?.clusterIP);
  expect(svcAfter.spec?.ports?.[0]?.nodePort).toBe(svc.spec?.ports?.[0]?.nodePort);
  const nodes = await core.listNode();
  expect(nodes.items.map((n) => n.metadata?.name)).toEqual(["node-1"]);
}, 180_000);

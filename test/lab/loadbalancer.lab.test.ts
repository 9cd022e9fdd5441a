// A LoadBalancer Service in the real API server: what Herald's controller relies on
// (ClusterIP and NodePort allocation, the status subresource, optimistic concurrency)
// and what kube-proxy does with the address written to its status.
import { BlockList } from "node:net";
import { CoreV1Api, type V1Service } from "@kubernetes/client-node";
import { waitFor } from "./exec.js";
import { LAB_START_TIMEOUT_MS, startLab } from "./fixture.js";
import type { Lab } from "./lab.js";
import { SERVICE_CIDR } from "./plan.js";
import { httpEcho } from "./probe.js";

let lab: Lab;
let core: CoreV1Api;

beforeAll(async () => {
  lab = await startLab({ nodes: 2 });
  core = lab.kc.makeApiClient(CoreV1Api);
}, LAB_START_TIMEOUT_MS);

afterAll(async () => {
  await lab?.stop();
});

function inServiceRange(ip: string): boolean {
  const [net = "", prefix = "32"] = SERVICE_CIDR.split("/");
  const range = new BlockList();
  range.addSubnet(net, Number(prefix));
  return range.check(ip);
}

test("a LoadBalancer Service gets a ClusterIP and NodePort; its status is written, read back, and guarded by resourceVersion", async () => {
  await lab.createPod({ name: "api-1", namespace: "shop", node: "node-2", labels: { app: "api" } });
  const svc: V1Service = {
    metadata: { name: "api", namespace: "shop" },
    spec: { type: "LoadBalancer", selector: { app: "api" }, ports: [{ port: 80, targetPort: 8080 }] },
  };
  const created = await core.createNamespacedService({ namespace: "shop", body: svc });
  expect(inServiceRange(created.spec?.clusterIP ?? "")).toBe(true);
  const nodePort = created.spec?.ports?.[0]?.nodePort ?? 0;
  expect(nodePort).toBeGreaterThanOrEqual(30000);
  expect(nodePort).toBeLessThanOrEqual(32767);
  expect(created.status?.loadBalancer?.ingress ?? []).toEqual([]);

  const written = await core.replaceNamespacedServiceStatus({
    name: "api",
    namespace: "shop",
    body: { ...created, status: { loadBalancer: { ingress: [{ ip: "192.0.2.200" }] } } },
  });
  const read = await core.readNamespacedService({ name: "api", namespace: "shop" });
  expect(read.status?.loadBalancer?.ingress).toEqual([{ ip: "192.0.2.200" }]);
  expect(read.metadata?.resourceVersion).toBe(written.metadata?.resourceVersion);

  // The old resourceVersion is stale now: the write is refused with 409 Conflict.
  const stale = core.replaceNamespacedServiceStatus({
    name: "api",
    namespace: "shop",
    body: { ...created, status: { loadBalancer: { ingress: [{ ip: "192.0.2.201" }] } } },
  });
  await expect(stale).rejects.toMatchObject({ code: 409 });
  const after = await core.readNamespacedService({ name: "api", namespace: "shop" });
  expect(after.status?.loadBalancer?.ingress).toEqual([{ ip: "192.0.2.200" }]);

  // kube-proxy programs the status address: from node-1 it leads to the Pod on node-2.
  const reply = await waitFor(
    "the load-balancer address from node-1",
    () => httpEcho(lab, "node-1", "http://192.0.2.200/"),
    30_000,
  );
  expect(reply.pod).toBe("api-1");
});

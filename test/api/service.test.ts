import type { V1Service } from "@kubernetes/client-node";
import { toServiceRequest } from "../../src/api/service.js";

const local = (namespace: string, selector: Record<string, string>): V1Service => ({
  metadata: { namespace, name: "web" },
  spec: { type: "LoadBalancer", externalTrafficPolicy: "Local", selector, ports: [{ port: 80 }] },
});

test("the backend key of a Local Service holds its namespace: the same selector elsewhere selects other Pods", () => {
  const a = toServiceRequest(local("shop", { app: "web" }), {});
  const b = toServiceRequest(local("evil", { app: "web" }), {});
  expect(a.backendKey).not.toBe(b.backendKey);
  expect(toServiceRequest(local("shop", { app: "web" }), {}).backendKey).toBe(a.backendKey);
  const cluster = toServiceRequest({ ...local("shop", {}), spec: { type: "LoadBalancer" } }, {});
  expect(cluster.backendKey).toBe("");
});

// Cluster objects the speaker tests share: a ready node with an InternalIP, and one
// LoadBalancer Service the controller assigned from pool "lan".
import type { V1Node, V1Service } from "@kubernetes/client-node";

export const node = (name: string, ip: string): V1Node => ({
  metadata: { name, labels: {} },
  status: {
    addresses: [{ type: "InternalIP", address: ip }],
    conditions: [{ type: "Ready", status: "True" }],
  },
});

export const web: V1Service = {
  metadata: {
    name: "web",
    namespace: "shop",
    uid: "u1",
    annotations: { "herald.dev/allocated-from-pool": "lan" },
  },
  spec: { type: "LoadBalancer", ports: [{ protocol: "TCP", port: 80, nodePort: 30080 }] },
  status: { loadBalancer: { ingress: [{ ip: "192.0.2.200" }] } },
};

// Builders for allocator tests: pools and Service requests with sensible defaults.
import { parsePool } from "../../src/api/ipaddresspool.js";
import type { Pool } from "../../src/domain/pool.js";
import type { ServiceRequest } from "../../src/domain/service.js";

export function pool(name: string, addresses: string[], extra: Record<string, unknown> = {}): Pool {
  const p = parsePool({ metadata: { name }, spec: { addresses, ...extra } });
  if (!p.ok) throw new Error(`bad test pool ${name}: ${JSON.stringify(p.errors)}`);
  return p.pool;
}

export function svc(key: string, extra: Partial<ServiceRequest> = {}): ServiceRequest {
  const [namespace = "default"] = key.split("/");
  return {
    key,
    namespace,
    namespaceLabels: { "kubernetes.io/metadata.name": namespace },
    labels: {},
    families: ["IPv4"],
    familyPolicy: "SingleStack",
    requestedAddresses: [],
    requestedPool: undefined,
    sharingKey: undefined,
    ports: [{ protocol: "TCP", port: 80 }],
    backendKey: "",
    ...extra,
  };
}

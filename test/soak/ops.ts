// A soak's operations, as a user or a tenant would send them: Services, Pods, the pool and the
// L2Advertisement changed through the API server. Each op is recorded with its answer; a refusal
// (the API server down, a change it rejects) is an outcome, not a crash of the run.
import { MERGE_PATCH, type Rest } from "../../src/k8s/rest.js";
import type { Lab } from "../lab/lab.js";
import type { Op, OpRecord, ServiceShape, ServiceType } from "./model.js";
import { L2ADVERTISEMENT, POOL } from "./soak-lab.js";

export const SOAK_NAMESPACE = "default";
/** How long a Pod is not Ready before it is deleted: endpoints go first, as with a kubelet. */
const POD_DRAIN_MS = 2000;
const REQUEST = "herald.dev/loadBalancerIPs";
const SHARING = "herald.dev/allow-shared-ip";

const services = `/api/v1/namespaces/${SOAK_NAMESPACE}/services`;
const pool = `/apis/herald.dev/v1alpha1/ipaddresspools/${POOL}`;
const l2 = `/apis/herald.dev/v1alpha1/l2advertisements/${L2ADVERTISEMENT}`;

export function servicePorts(ports: number[]) {
  return ports.map((port) => ({ name: `p${port}`, port, targetPort: 8080, protocol: "TCP" }));
}

export function serviceBody(name: string, shape: ServiceShape) {
  const annotations: Record<string, string> = {};
  if (shape.request?.length) annotations[REQUEST] = shape.request.join(",");
  if (shape.sharingKey) annotations[SHARING] = shape.sharingKey;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, annotations },
    spec: {
      type: "LoadBalancer",
      selector: { app: shape.app },
      ports: servicePorts(shape.ports),
      externalTrafficPolicy: shape.policy,
      ipFamilyPolicy: shape.dualStack ? "RequireDualStack" : "SingleStack",
      ipFamilies: shape.dualStack ? ["IPv4", "IPv6"] : ["IPv4"],
    },
  };
}

/**
 * Sends one op. `shapes` is what the run has asked of every Service so far (kept up to date
 * here): a Service turned back into a LoadBalancer gets its traffic policy again.
 */
export async function applyOp(
  o: { lab: Lab; api: Rest; shapes: Map<string, ServiceShape & { type: ServiceType }> },
  op: Op,
): Promise<void> {
  const { api, lab, shapes } = o;
  const patch = (name: string, body: object) =>
    api.request("PATCH", `${services}/${name}`, body, MERGE_PATCH);
  const shape = "name" in op ? shapes.get(op.name) : undefined;
  switch (op.kind) {
    case "createService":
      shapes.set(op.name, { ...op.shape, type: "LoadBalancer" });
      await api.request("POST", services, serviceBody(op.name, op.shape));
      return;
    case "deleteService":
      shapes.delete(op.name);
      await api.request("DELETE", `${services}/${op.name}`);
      return;
    case "changePorts":
      if (shape) shape.ports = op.ports;
      await patch(op.name, { spec: { ports: servicePorts(op.ports) } });
      return;
    case "changeType":
      if (shape) shape.type = op.type;
      // Away from LoadBalancer the API server wants the node ports and the policy gone.
      await patch(
        op.name,
        op.type === "ClusterIP"
          ? {
              spec: {
                type: "ClusterIP",
                externalTrafficPolicy: null,
                healthCheckNodePort: null,
                ports: servicePorts(shape?.ports ?? [80]),
              },
            }
          : { spec: { type: "LoadBalancer", externalTrafficPolicy: shape?.policy ?? "Cluster" } },
      );
      return;
    case "changePolicy":
      if (shape) shape.policy = op.policy;
      await patch(op.name, { spec: { externalTrafficPolicy: op.policy, healthCheckNodePort: null } });
      return;
    case "changeRequest":
      if (shape) shape.request = op.request ?? undefined;
      await patch(op.name, { metadata: { annotations: { [REQUEST]: op.request?.join(",") ?? null } } });
      return;
    case "changeSharing":
      if (shape) shape.sharingKey = op.sharingKey ?? undefined;
      await patch(op.name, { metadata: { annotations: { [SHARING]: op.sharingKey } } });
      return;
    case "createPod":
      await lab.createPod({ name: op.name, node: op.node, labels: { app: op.app } });
      return;
    case "deletePod":
      await lab.setPodReady(op.name, false);
      await new Promise((r) => setTimeout(r, POD_DRAIN_MS));
      await lab.deletePod(op.name);
      return;
    case "setPoolRanges":
      await api.request("PATCH", pool, { spec: { addresses: op.ranges } }, MERGE_PATCH);
      return;
    case "setPoolDisabled":
      await api.request("PATCH", pool, { spec: { disabled: op.disabled } }, MERGE_PATCH);
      return;
    case "setL2Exclusion":
      await api.request(
        "PATCH",
        l2,
        {
          spec: {
            nodeSelector:
              op.node === null
                ? null
                : {
                    matchExpressions: [
                      { key: "kubernetes.io/hostname", operator: "NotIn", values: [op.node] },
                    ],
                  },
          },
        },
        MERGE_PATCH,
      );
      return;
  }
}

/** Runs `applyOp` and records the outcome; never throws. */
export async function recordedOp(
  o: Parameters<typeof applyOp>[0],
  op: Op,
  now: () => number,
): Promise<OpRecord> {
  const startMs = now();
  try {
    await applyOp(o, op);
    return { op, startMs, endMs: now(), ok: true };
  } catch (error) {
    return {
      op,
      startMs,
      endMs: now(),
      ok: false,
      error: String((error as Error).message ?? error).slice(0, 300),
    };
  }
}

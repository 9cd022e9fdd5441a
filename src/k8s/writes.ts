// The controller's writes against the real API: merge patches on the status
// subresources, and core/v1 Events (what `kubectl describe` shows).
import type { ControllerWrites, EventTarget } from "../controller/ports.js";
import { MERGE_PATCH, type Rest } from "./rest.js";

export function controllerWrites(
  rest: Rest,
  component: string,
  instance: string,
  now: () => Date,
): ControllerWrites {
  return {
    async patchServiceStatus(namespace, name, patch) {
      await rest.request(
        "PATCH",
        `/api/v1/namespaces/${namespace}/services/${name}/status`,
        patch,
        MERGE_PATCH,
      );
    },
    async patchPoolStatus(name, patch) {
      await rest.request(
        "PATCH",
        `/apis/herald.dev/v1alpha1/ipaddresspools/${name}/status`,
        patch,
        MERGE_PATCH,
      );
    },
    event: (target, type, reason, message) =>
      postEvent(rest, component, instance, now(), target, type, reason, message),
  };
}

export async function postEvent(
  rest: Rest,
  component: string,
  instance: string,
  at: Date,
  target: EventTarget,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
): Promise<void> {
  // Events of cluster-scoped objects live in "default", as node events do.
  const namespace = target.namespace || "default";
  const time = at.toISOString().replace(/\.\d+Z$/, "Z");
  await rest.request("POST", `/api/v1/namespaces/${namespace}/events`, {
    apiVersion: "v1",
    kind: "Event",
    metadata: { generateName: `${target.name}.`, namespace },
    involvedObject: {
      kind: target.kind,
      apiVersion: target.apiVersion,
      name: target.name,
      ...(target.namespace ? { namespace: target.namespace } : {}),
      ...(target.uid ? { uid: target.uid } : {}),
    },
    type,
    reason,
    message: message.slice(0, 1024),
    source: { component },
    reportingComponent: `herald.dev/${component}`,
    reportingInstance: instance,
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  });
}

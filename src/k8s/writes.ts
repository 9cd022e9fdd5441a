// The controller's writes against the real API: merge patches on the status
// subresources, and Events through the one event recorder (events.ts).
import type { ControllerWrites } from "../controller/ports.js";
import type { EventRecorder } from "./events.js";
import { MERGE_PATCH, type Rest } from "./rest.js";

export function controllerWrites(rest: Rest, events: EventRecorder): ControllerWrites {
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
    event: (target, type, reason, message) => events.event(target, type, reason, message),
  };
}

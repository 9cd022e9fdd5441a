// The Events part of an API server, in memory: POST with generateName, merge PATCH, 404 for an
// Event that is gone. Every request answers on a later microtask, as a real one would.
import { KubeError, type Rest } from "../../src/k8s/rest.js";

export interface StoredEvent {
  metadata: { name: string; namespace: string };
  involvedObject: { kind: string; name: string; namespace?: string; uid?: string };
  type: string;
  reason: string;
  message: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string };
  reportingInstance: string;
}

export class FakeEventsApi implements Pick<Rest, "request"> {
  readonly events = new Map<string, StoredEvent>();
  readonly requests: string[] = [];
  private seq = 0;

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    await Promise.resolve();
    this.requests.push(`${method} ${path}`);
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/events(?:\/([^/]+))?$/.exec(path);
    if (!m) throw new KubeError(404, "NotFound", `${method} ${path}`);
    const [, namespace, name] = m as unknown as [string, string, string | undefined];
    if (method === "POST") {
      const b = body as StoredEvent & { metadata: { generateName: string } };
      const created = { ...b, metadata: { name: `${b.metadata.generateName}${++this.seq}`, namespace } };
      this.events.set(`${namespace}/${created.metadata.name}`, created);
      return created as T;
    }
    const existing = this.events.get(`${namespace}/${name}`);
    if (method === "PATCH" && existing) {
      Object.assign(existing, body);
      return existing as T;
    }
    throw new KubeError(404, "NotFound", `${method} ${path}`);
  }

  list(): StoredEvent[] {
    return [...this.events.values()];
  }
}

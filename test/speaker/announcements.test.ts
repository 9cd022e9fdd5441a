import { expect, test } from "@jest/globals";
import type { V1Service } from "@kubernetes/client-node";
import pino from "pino";
import { KubeError, type Rest } from "../../src/k8s/rest.js";
import {
  type AnnouncementStatus,
  AnnouncementWriter,
  announcementFor,
  type Desired,
  type ServiceAnnouncement,
  writeAction,
} from "../../src/speaker/announcements.js";
import { FakeClock } from "../clock.js";

const svc: V1Service = { metadata: { name: "web", namespace: "shop", uid: "u1" } };
const status: AnnouncementStatus = {
  node: "n1",
  interfaces: ["eth0"],
  addresses: ["192.0.2.200"],
  since: "2026-01-01T00:00:00Z",
};
const stored = (s: Partial<AnnouncementStatus>, rv = "5", uid = "u1"): ServiceAnnouncement => ({
  ...announcementFor({ metadata: { ...svc.metadata, uid } }, { ...status, ...s }),
  metadata: {
    ...announcementFor(svc, status).metadata,
    resourceVersion: rv,
    ownerReferences: [{ apiVersion: "v1", kind: "Service", name: "web", uid }],
  },
});

test("the object: same name and namespace as the Service, owner reference to it, the whole status", () => {
  expect(announcementFor(svc, status)).toEqual({
    apiVersion: "herald.dev/v1alpha1",
    kind: "ServiceAnnouncement",
    metadata: {
      name: "web",
      namespace: "shop",
      ownerReferences: [{ apiVersion: "v1", kind: "Service", name: "web", uid: "u1" }],
    },
    status,
  });
});

const conflict = {
  type: "AddressConflict" as const,
  status: "True" as const,
  reason: "AddressInUse",
  message: "192.0.2.200 is in use by a host with MAC 02:00:00:00:00:99",
  lastTransitionTime: "2026-01-01T00:00:00Z",
};
const withConflict: AnnouncementStatus = { ...status, conditions: [conflict] };
// As the API server answers: JSON objects with their keys sorted.
const sortedKeys = Object.fromEntries(Object.entries(conflict).sort()) as typeof conflict;

test.each<[string, Desired, ServiceAnnouncement | undefined, string]>([
  ["claim, none stored", { svc, status }, undefined, "create"],
  ["claim, same stored", { svc, status }, stored({}), "none"],
  ["claim, another node stored", { svc, status }, stored({ node: "n2" }), "update"],
  ["claim, other addresses stored", { svc, status }, stored({ addresses: ["192.0.2.201"] }), "update"],
  ["claim, stored for an older Service of the same name", { svc, status }, stored({}, "5", "u0"), "update"],
  ["claim with a conflict, none stored", { svc, status: withConflict }, stored({}), "update"],
  [
    "claim with a conflict, stored with its keys in another order",
    { svc, status: withConflict },
    stored({ conditions: [sortedKeys] }),
    "none",
  ],
  ["claim without a conflict, one stored", { svc, status }, stored({ conditions: [sortedKeys] }), "update"],
  ["remove, this node's claim stored", { remove: true }, stored({}), "delete"],
  ["remove, another node's claim stored", { remove: true }, stored({ node: "n2" }), "none"],
  ["remove, none stored", { remove: true }, undefined, "none"],
])("%s", (_what, desired, current, want) => {
  expect(writeAction("n1", desired, current)).toBe(want);
});

/** An API holding ServiceAnnouncements in a map, that can be switched off. */
function fakeApi() {
  const objects = new Map<string, ServiceAnnouncement>();
  let version = 10;
  const calls: string[] = [];
  const state = { down: false };
  const rest: Rest = {
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      calls.push(`${method} ${path}`);
      if (state.down) throw new Error("connect ECONNREFUSED");
      const name = path.split("/").pop() ?? "";
      const key = method === "POST" ? (body as ServiceAnnouncement).metadata.name : name;
      const existing = objects.get(key);
      if (method === "GET") {
        if (!existing) throw new KubeError(404, "NotFound", "not found");
        return existing as T;
      }
      if (method === "DELETE") {
        // As the API server does: a precondition on the version refuses a delete of a newer object.
        const wanted = (body as { preconditions?: { resourceVersion?: string } } | undefined)?.preconditions
          ?.resourceVersion;
        if (!existing) throw new KubeError(404, "NotFound", "not found");
        if (wanted !== undefined && existing.metadata.resourceVersion !== wanted)
          throw new KubeError(409, "Conflict", "the object has been modified");
        objects.delete(key);
        return {} as T;
      }
      const obj = structuredClone(body as ServiceAnnouncement);
      if (method === "POST" && existing) throw new KubeError(409, "AlreadyExists", "exists");
      if (method === "PUT" && existing?.metadata.resourceVersion !== obj.metadata.resourceVersion)
        throw new KubeError(409, "Conflict", "conflict");
      obj.metadata.resourceVersion = String(++version);
      objects.set(key, obj);
      return obj as T;
    },
    watch: async () => {},
  };
  return { rest, objects, calls, state };
}

/** The writer's timers on a fake clock. */
function manualTimers() {
  const clock = new FakeClock();
  // The fake API answers through promises only, so one turn of the event loop finishes a write.
  const writesDone = () => new Promise((r) => setImmediate(r));
  return {
    timers: clock,
    clock,
    /** Runs due timers step by step, letting each write finish, until none is left or `until` holds. */
    async run(until: () => boolean = () => false, stepMs = 1000, maxSteps = 200) {
      for (let i = 0; i < maxSteps && clock.pending() > 0 && !until(); i++) {
        clock.advance(stepMs);
        await writesDone();
      }
    },
  };
}

test("writer: creates, updates without rewriting what is already there, deletes its own claim", async () => {
  const api = fakeApi();
  const t = manualTimers();
  const w = new AnnouncementWriter({
    self: "n1",
    rest: api.rest,
    cache: { get: () => undefined },
    log: pino({ level: "silent" }),
    timers: t.timers,
  });
  w.set(new Map([["shop/web", { svc, status }]]));
  await t.run();
  expect(api.objects.get("web")?.status?.node).toBe("n1");
  w.set(new Map([["shop/web", { svc, status }]]));
  await t.run();
  expect(api.calls.filter((c) => !c.startsWith("GET"))).toHaveLength(1);
  w.set(new Map([["shop/web", { svc, status: { ...status, interfaces: ["eth0", "eth1"] } }]]));
  await t.run();
  expect(api.objects.get("web")?.status?.interfaces).toEqual(["eth0", "eth1"]);
  w.set(new Map([["shop/web", { remove: true }]]));
  await t.run();
  expect(api.objects.has("web")).toBe(false);
});

test("writer: another node's claim is overwritten on takeover; an outage is retried until the API answers", async () => {
  const api = fakeApi();
  api.objects.set("web", stored({ node: "n2" }, "7"));
  const t = manualTimers();
  const w = new AnnouncementWriter({
    self: "n1",
    rest: api.rest,
    cache: { get: (k) => (k === "shop/web" ? api.objects.get("web") : undefined) },
    log: pino({ level: "silent" }),
    timers: t.timers,
  });
  api.state.down = true;
  w.set(new Map([["shop/web", { svc, status }]]));
  await t.run(() => w.failures >= 3);
  expect(w.failures).toBe(3);
  expect(api.objects.get("web")?.status?.node).toBe("n2");
  api.state.down = false;
  await t.run();
  expect(api.objects.get("web")?.status?.node).toBe("n1");
  expect(t.clock.pending()).toBe(0);
});

test("writer: removing its stale claim never deletes the claim a new owner wrote meanwhile", async () => {
  // n1 owned web (version 7, still what n1's cache shows); n3 took over and wrote version 8.
  const api = fakeApi();
  const mine = stored({ node: "n1" }, "7");
  api.objects.set("web", stored({ node: "n3" }, "8"));
  const t = manualTimers();
  const w = new AnnouncementWriter({
    self: "n1",
    rest: api.rest,
    cache: { get: (k) => (k === "shop/web" ? mine : undefined) },
    log: pino({ level: "silent" }),
    timers: t.timers,
  });
  w.set(new Map([["shop/web", { remove: true }]]));
  await t.run();
  expect(api.calls).toContain("DELETE /apis/herald.dev/v1alpha1/namespaces/shop/serviceannouncements/web");
  expect(api.objects.get("web")?.status?.node).toBe("n3");
  expect(w.failures).toBe(0);
  expect(t.clock.pending()).toBe(0);
});

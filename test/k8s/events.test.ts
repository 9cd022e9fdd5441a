import { expect, test } from "@jest/globals";
import { EventRecorder, type EventRecorderOptions } from "../../src/k8s/events.js";
import { FakeClock } from "../clock.js";
import { FakeEventsApi } from "./fake-events-api.js";

const BASE = Date.parse("2026-03-01T10:00:00Z");
const web = { kind: "Service", apiVersion: "v1", namespace: "shop", name: "web", uid: "u1" };
const pool = { kind: "IPAddressPool", apiVersion: "herald.dev/v1alpha1", name: "lan" };

function setup(extra: Partial<EventRecorderOptions> = {}) {
  const api = new FakeEventsApi();
  const clock = new FakeClock();
  const recorder = new EventRecorder({
    rest: api,
    component: "speaker",
    instance: "node-1",
    now: () => new Date(BASE + clock.now()),
    timers: clock,
    ...extra,
  });
  return { api, clock, recorder };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

test("an event is one core/v1 Event on its object, as kubectl describe shows it", async () => {
  const { api, recorder } = setup();
  await recorder.event(web, "Normal", "nodeAssigned", "announcing 192.0.2.200 from node node-1");
  await recorder.event(pool, "Warning", "InvalidPool", "spec.addresses[0]: bad");
  expect(api.list()).toEqual([
    expect.objectContaining({
      metadata: { name: "web.1", namespace: "shop" },
      involvedObject: { kind: "Service", apiVersion: "v1", name: "web", namespace: "shop", uid: "u1" },
      type: "Normal",
      reason: "nodeAssigned",
      message: "announcing 192.0.2.200 from node node-1",
      count: 1,
      firstTimestamp: "2026-03-01T10:00:00Z",
      lastTimestamp: "2026-03-01T10:00:00Z",
      source: { component: "speaker" },
      reportingInstance: "node-1",
    }),
    // Cluster-scoped objects' events live in "default".
    expect.objectContaining({ metadata: { name: "lan.2", namespace: "default" }, reason: "InvalidPool" }),
  ]);
});

test("N identical events at once are one Event with count N, written twice", async () => {
  const { api, recorder, clock } = setup();
  const done: Promise<void>[] = [];
  for (let i = 0; i < 500; i++) {
    clock.advance(10);
    done.push(recorder.event(web, "Warning", "AddressConflict", "address 192.0.2.200 is in use"));
  }
  await Promise.all(done);
  await settle();
  expect(api.list()).toHaveLength(1);
  expect(api.list()[0]).toMatchObject({
    count: 500,
    firstTimestamp: "2026-03-01T10:00:00Z",
    lastTimestamp: "2026-03-01T10:00:05Z",
  });
  expect(api.requests).toEqual([
    "POST /api/v1/namespaces/shop/events",
    "PATCH /api/v1/namespaces/shop/events/web.1",
  ]);
});

test("repeats one by one: 25 writes per object, then the count waits for the bucket's next token", async () => {
  const { api, recorder, clock } = setup();
  for (let i = 0; i < 40; i++) await recorder.event(web, "Warning", "AddressConflict", "in use");
  expect(api.requests).toHaveLength(25);
  expect(api.list()[0]?.count).toBe(25);
  expect(recorder.stats()).toMatchObject({ recorded: 40, created: 1, patched: 24 });
  clock.advance(300_000);
  await settle();
  expect(api.requests).toHaveLength(26);
  expect(api.list()).toHaveLength(1);
  expect(api.list()[0]?.count).toBe(40);
});

test("more than ten different messages for one reason combine into one Event", async () => {
  const { api, recorder } = setup();
  for (let i = 0; i < 30; i++)
    await recorder.event(
      web,
      "Warning",
      "AddressConflict",
      `in use by 02:00:00:00:00:${String(i).padStart(2, "0")}`,
    );
  expect(api.list()).toHaveLength(11);
  const combined = api.list().at(-1);
  expect(combined?.message).toMatch(/^\(combined from similar events\): in use by 02:00:00:00:00:/);
  // 25 writes per object: 10 single Events, then the combined one created and patched 14 times.
  expect(combined?.count).toBe(15);
});

test("a repeat of an Event that expired creates it again with the full count", async () => {
  const { api, recorder } = setup();
  await recorder.event(web, "Warning", "AddressConflict", "in use");
  api.events.clear();
  await recorder.event(web, "Warning", "AddressConflict", "in use");
  expect(api.list()).toEqual([expect.objectContaining({ count: 2 })]);
});

test("a failed write is counted and reported, never thrown", async () => {
  const errors: string[] = [];
  const { recorder } = setup({
    rest: { request: () => Promise.reject(new Error("connection refused")) },
    onError: (reason, err) => errors.push(`${reason}: ${String(err)}`),
  });
  await expect(recorder.event(web, "Warning", "AddressConflict", "in use")).resolves.toBeUndefined();
  expect(errors).toEqual(["AddressConflict: Error: connection refused"]);
  expect(recorder.stats().failed).toBe(1);
});

test("its caches stay bounded whatever the number of objects", async () => {
  const { recorder } = setup({ maxKeys: 50 });
  for (let i = 0; i < 1000; i++) await recorder.event({ ...web, name: `s${i}` }, "Normal", "x", "y");
  const sizes = recorder as unknown as Record<"entries" | "buckets" | "similar", Map<string, unknown>>;
  expect([sizes.entries.size, sizes.buckets.size, sizes.similar.size]).toEqual([50, 50, 50]);
});

import { expect, test } from "@jest/globals";
import { KubeError, type Rest, retryAfterSeconds } from "../../src/k8s/rest.js";
import { throttle } from "../../src/k8s/throttle.js";
import { FakeClock } from "../clock.js";

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** An API server whose answers the test releases by hand. */
function server() {
  const pending: { path: string; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  const sent: string[] = [];
  const rest: Rest = {
    request: <T>(_method: string, path: string) =>
      new Promise<T>((resolve, reject) => {
        sent.push(path);
        pending.push({ path, resolve: resolve as (v: unknown) => void, reject });
      }),
    watch: () => Promise.resolve(),
  };
  return { rest, pending, sent };
}

test("a 429 is sent again after Retry-After, not before", async () => {
  const s = server();
  const clock = new FakeClock();
  const rest = throttle(s.rest, { timers: clock });
  const result = rest.request("PATCH", "/x");
  s.pending.shift()?.reject(new KubeError(429, "TooManyRequests", "slow down", 3));
  await settle();
  clock.advance(2999);
  await settle();
  expect(s.sent).toEqual(["/x"]);
  clock.advance(1);
  await settle();
  expect(s.sent).toEqual(["/x", "/x"]);
  s.pending.shift()?.resolve({ ok: true });
  await expect(result).resolves.toEqual({ ok: true });
  expect(rest.stats().retried).toBe(1);
});

test("a 429 without Retry-After waits a second; other errors and the last retry fail at once", async () => {
  const s = server();
  const clock = new FakeClock();
  const rest = throttle(s.rest, { timers: clock, maxRetries: 1 });
  const conflict = rest.request("PUT", "/a");
  s.pending.shift()?.reject(new KubeError(409, "Conflict", "conflict"));
  await expect(conflict).rejects.toMatchObject({ status: 409 });
  const busy = rest.request("PUT", "/b");
  s.pending.shift()?.reject(new KubeError(429, "TooManyRequests", "slow down"));
  await settle();
  clock.advance(1000);
  await settle();
  s.pending.shift()?.reject(new KubeError(429, "TooManyRequests", "slow down"));
  await expect(busy).rejects.toMatchObject({ status: 429 });
});

test("a few requests in flight, a bounded queue, and the rest refused and counted", async () => {
  const s = server();
  const rest = throttle(s.rest, { timers: new FakeClock(), maxInFlight: 2, maxQueued: 3 });
  const results = Array.from({ length: 10 }, (_, i) =>
    rest.request("POST", `/e${i}`).then(
      () => "ok",
      (e: { code?: string }) => e.code,
    ),
  );
  await settle();
  expect(s.sent).toEqual(["/e0", "/e1"]);
  expect(rest.stats()).toMatchObject({ inFlight: 2, queued: 3, dropped: 5 });
  // As answers come back, the queued ones go out, in order, never more than two at once.
  while (s.pending.length > 0) {
    expect(s.pending.length).toBeLessThanOrEqual(2);
    s.pending.shift()?.resolve({});
    await settle();
  }
  expect(s.sent).toEqual(["/e0", "/e1", "/e2", "/e3", "/e4"]);
  expect(await Promise.all(results)).toEqual([
    ...Array(5).fill("ok"),
    ...Array(5).fill("HERALD_KUBE_OVERLOADED"),
  ]);
});

test("Retry-After is read as whole seconds", () => {
  expect(retryAfterSeconds("7")).toBe(7);
  expect(retryAfterSeconds(" 0 ")).toBe(0);
  expect(retryAfterSeconds("Wed, 21 Oct 2026 07:28:00 GMT")).toBeUndefined();
  expect(retryAfterSeconds(undefined)).toBeUndefined();
});

import { jest } from "@jest/globals";
import { done, type Outcome, WorkQueue } from "../../src/controller/workqueue.js";

// Jest's fake timers drive Date.now and setTimeout alike.
const clock = {
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
};

function deferred(): { promise: Promise<Outcome>; resolve: (o: Outcome) => void } {
  let resolve: (o: Outcome) => void = () => {};
  const promise = new Promise<Outcome>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test("duplicates collapse while queued", async () => {
  const seen: string[] = [];
  const q = new WorkQueue(
    async (k) => {
      seen.push(k);
      return done;
    },
    { workers: 1, baseBackoffMs: 10, maxBackoffMs: 1000, clock },
  );
  q.add("a");
  q.add("a");
  q.add("b");
  q.add("a");
  q.start();
  await q.idle();
  expect(seen).toEqual(["a", "b"]);
});

test("one reconcile per key at a time; a change while running runs it once more", async () => {
  const gates: ReturnType<typeof deferred>[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const q = new WorkQueue(
    async () => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      const g = deferred();
      gates.push(g);
      const out = await g.promise;
      concurrent--;
      return out;
    },
    { workers: 4, baseBackoffMs: 10, maxBackoffMs: 1000, clock },
  );
  q.start();
  q.add("a");
  q.add("a"); // already queued... and immediately active
  expect(gates).toHaveLength(1);
  q.add("a"); // changed while running
  q.add("a");
  gates[0]?.resolve(done);
  await Promise.resolve();
  await Promise.resolve();
  expect(gates).toHaveLength(2);
  gates[1]?.resolve(done);
  await q.idle();
  expect(gates).toHaveLength(2);
  expect(maxConcurrent).toBe(1);
});

test("failures back off exponentially per key, success forgets", async () => {
  const times: number[] = [];
  let fail = 3;
  const q = new WorkQueue(
    async () => {
      times.push(Date.now());
      if (fail-- > 0) return { kind: "retry", error: new Error("api down") };
      return done;
    },
    { workers: 1, baseBackoffMs: 100, maxBackoffMs: 1000, clock },
  );
  const start = Date.now();
  q.start();
  q.add("a");
  await jest.advanceTimersByTimeAsync(5000);
  expect(times.map((t) => t - start)).toEqual([0, 100, 300, 700]);
  expect(q.failing).toBe(0);
});

test("a thrown error is a retry, not a crash", async () => {
  let calls = 0;
  const q = new WorkQueue(
    async () => {
      calls++;
      if (calls === 1) throw new Error("boom");
      return done;
    },
    { workers: 1, baseBackoffMs: 50, maxBackoffMs: 1000, clock },
  );
  q.start();
  q.add("a");
  await jest.advanceTimersByTimeAsync(60);
  expect(calls).toBe(2);
});

test("requeueAfter comes back later; an add in between wins and the timer is dropped", async () => {
  let calls = 0;
  const q = new WorkQueue(
    async () => {
      calls++;
      return calls === 1 ? { kind: "requeueAfter", ms: 1000 } : done;
    },
    { workers: 1, baseBackoffMs: 50, maxBackoffMs: 1000, clock },
  );
  q.start();
  q.add("a");
  await jest.advanceTimersByTimeAsync(10);
  expect(calls).toBe(1);
  q.add("a");
  await jest.advanceTimersByTimeAsync(10);
  expect(calls).toBe(2);
  await jest.advanceTimersByTimeAsync(2000);
  expect(calls).toBe(2);
});

test("stop cancels delayed keys", async () => {
  let calls = 0;
  const q = new WorkQueue(
    async () => {
      calls++;
      return { kind: "retry", error: "x" };
    },
    { workers: 1, baseBackoffMs: 50, maxBackoffMs: 1000, clock },
  );
  q.start();
  q.add("a");
  await jest.advanceTimersByTimeAsync(10);
  q.stop();
  await jest.advanceTimersByTimeAsync(5000);
  expect(calls).toBe(1);
});

test("typed keys: equal ids collapse, and the handler gets the key itself", async () => {
  type Key = { kind: "service"; namespace: string; name: string } | { kind: "pools" };
  const seen: Key[] = [];
  const q = new WorkQueue<Key>(
    async (k) => {
      seen.push(k);
      return done;
    },
    {
      workers: 1,
      baseBackoffMs: 10,
      maxBackoffMs: 1000,
      clock,
      id: (k) => (k.kind === "pools" ? "pools" : `svc/${k.namespace}/${k.name}`),
    },
  );
  q.add({ kind: "service", namespace: "ns", name: "a" });
  q.add({ kind: "pools" });
  q.add({ kind: "service", namespace: "ns", name: "a" });
  q.start();
  await q.idle();
  expect(seen).toEqual([{ kind: "service", namespace: "ns", name: "a" }, { kind: "pools" }]);
});

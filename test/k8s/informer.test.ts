// The informer against a scripted API: paged lists, watch events, a 410 that
// forces a relist (reporting what vanished meanwhile as deleted), and failures
// that back off instead of giving up.
import pino from "pino";
import { AnswerSignal } from "../../src/k8s/answers.js";
import { Informer } from "../../src/k8s/informer.js";
import { KubeError, type KubeObject, type Rest, type WatchEvent } from "../../src/k8s/rest.js";

const obj = (name: string, rv: string): KubeObject => ({
  metadata: {
    name,
    namespace: "ns",
    resourceVersion: rv,
    managedFields: [{ manager: "kubectl" }],
  } as KubeObject["metadata"],
});

type Step =
  | { list: { items: KubeObject[]; rv: string; pages?: number } }
  | { watch: WatchEvent[]; end: "close" | "gone" | "error" | "hang" };

/**
 * A Rest that answers list and watch calls from a script, then blocks until aborted; `played`
 * resolves once the informer has reached that point (every step consumed).
 */
function scripted(steps: Step[]): Rest & { calls: string[]; played: Promise<void> } {
  const calls: string[] = [];
  let donePlaying = () => {};
  const played = new Promise<void>((resolve) => {
    donePlaying = resolve;
  });
  let pageQueue: { items: KubeObject[]; rv: string; cont: string }[] = [];
  const next = () => steps.shift();
  return {
    calls,
    played,
    async request<T>(_method: string, path: string): Promise<T> {
      calls.push(path);
      if (pageQueue.length === 0) {
        const s = next();
        if (!s || !("list" in s)) throw new Error(`unexpected list ${path}`);
        const pages = s.list.pages ?? 1;
        const per = Math.ceil(s.list.items.length / pages);
        pageQueue = Array.from({ length: pages }, (_, i) => ({
          items: s.list.items.slice(i * per, (i + 1) * per),
          rv: s.list.rv,
          cont: i < pages - 1 ? `c${i + 1}` : "",
        }));
      }
      const page = pageQueue.shift() as { items: KubeObject[]; rv: string; cont: string };
      return { items: page.items, metadata: { resourceVersion: page.rv, continue: page.cont } } as T;
    },
    async watch(path, onEvent, signal) {
      calls.push(path);
      const s = next();
      if (!s || !("watch" in s)) {
        donePlaying();
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
        return;
      }
      for (const e of s.watch) onEvent(e);
      if (s.end === "hang")
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
      if (s.end === "gone") throw new KubeError(410, "Expired", "too old resource version");
      if (s.end === "error") throw new Error("connection refused");
    },
  };
}

test("lists in pages, follows watch events, relists on 410 and reports what vanished", async () => {
  const rest = scripted([
    { list: { items: [obj("a", "1"), obj("b", "2"), obj("c", "3")], rv: "3", pages: 2 } },
    {
      watch: [
        { type: "MODIFIED", object: obj("a", "4") },
        { type: "ADDED", object: obj("d", "5") },
      ],
      end: "gone",
    },
    { list: { items: [obj("a", "4"), obj("d", "6")], rv: "9" } },
  ]);
  const changes: string[] = [];
  const deletes: string[] = [];
  const inf = new Informer<KubeObject>(
    rest,
    "/api/v1/services",
    {
      onChange: (o) => changes.push(`${o.metadata?.name}@${o.metadata?.resourceVersion}`),
      onDelete: (o) => deletes.push(o.metadata?.name ?? ""),
    },
    { log: pino({ level: "silent" }), sleep: async () => {} },
  );
  const stop = new AbortController();
  const running = inf.run(stop.signal);
  await inf.synced;
  await rest.played;
  stop.abort();
  await running;

  expect(rest.calls[0]).toBe("/api/v1/services?limit=500");
  expect(rest.calls[1]).toBe("/api/v1/services?limit=500&continue=c1");
  expect(rest.calls[2]).toContain("watch=1");
  expect(rest.calls[2]).toContain("resourceVersion=3");
  expect(changes).toEqual(["a@1", "b@2", "c@3", "a@4", "d@5", "d@6"]);
  expect(deletes.sort()).toEqual(["b", "c"]);
  expect(
    inf
      .list()
      .map((o) => o.metadata?.name)
      .sort(),
  ).toEqual(["a", "d"]);
  expect(inf.relists).toBe(2);
  // Nobody reads managedFields; the cache does not keep them.
  expect(inf.get("ns/a")?.metadata).not.toHaveProperty("managedFields");
});

test("a failing watch backs off and resumes from the last resourceVersion", async () => {
  const rest = scripted([
    { list: { items: [obj("a", "1")], rv: "1" } },
    { watch: [{ type: "MODIFIED", object: obj("a", "7") }], end: "error" },
    { watch: [{ type: "DELETED", object: obj("a", "8") }], end: "close" },
  ]);
  const slept: number[] = [];
  const deletes: string[] = [];
  const inf = new Informer<KubeObject>(
    rest,
    "/api/v1/services",
    { onChange: () => {}, onDelete: (o) => deletes.push(o.metadata?.name ?? "") },
    {
      log: pino({ level: "silent" }),
      sleep: async (ms) => {
        slept.push(ms);
      },
      minBackoffMs: 100,
      random: () => 1,
    },
  );
  const stop = new AbortController();
  const running = inf.run(stop.signal);
  await rest.played;
  stop.abort();
  await running;
  expect(slept).toEqual([100]);
  expect(rest.calls[2]).toContain("resourceVersion=7");
  expect(deletes).toEqual(["a"]);
  expect(inf.relists).toBe(1);
});

test("refresh ends a quiet watch and lists again: what went meanwhile is reported deleted", async () => {
  // The node's links were down: its watch saw nothing of b's deletion, and would not for seconds.
  const rest = scripted([
    { list: { items: [obj("a", "1"), obj("b", "2")], rv: "2" } },
    { watch: [], end: "hang" },
    { list: { items: [obj("a", "1")], rv: "5" } },
  ]);
  const deletes: string[] = [];
  const slept: number[] = [];
  const inf = new Informer<KubeObject>(
    rest,
    "/api/v1/services",
    { onChange: () => {}, onDelete: (o) => deletes.push(o.metadata?.name ?? "") },
    { log: pino({ level: "silent" }), sleep: async (ms) => void slept.push(ms) },
  );
  const stop = new AbortController();
  const running = inf.run(stop.signal);
  while (rest.calls.length < 2) await new Promise((r) => setImmediate(r));
  await inf.refresh();
  expect(deletes).toEqual(["b"]);
  expect(inf.relists).toBe(2);
  await rest.played;
  stop.abort();
  await running;
  expect(rest.calls[3]).toContain("resourceVersion=5");
  expect(slept).toEqual([]); // ending the watch on purpose is no failure to back off from
});

test("refresh asked while listing lists once more: that list may have begun before the links were back", async () => {
  let release = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const rest = scripted([{ list: { items: [obj("a", "1")], rv: "1" } }, { list: { items: [], rv: "4" } }]);
  const request = rest.request.bind(rest);
  let lists = 0;
  rest.request = async <T>(method: string, path: string): Promise<T> => {
    if (lists++ === 0) await gate;
    return request<T>(method, path);
  };
  const deletes: string[] = [];
  const inf = new Informer<KubeObject>(
    rest,
    "/api/v1/services",
    { onChange: () => {}, onDelete: (o) => deletes.push(o.metadata?.name ?? "") },
    { log: pino({ level: "silent" }), sleep: async () => {} },
  );
  const stop = new AbortController();
  const running = inf.run(stop.signal);
  const refreshed = inf.refresh();
  release();
  await refreshed;
  expect(inf.relists).toBe(2);
  expect(deletes).toEqual(["a"]);
  await rest.played;
  stop.abort();
  await running;
});

/** A watch (or a sleep) that lasts until it is called off, also when that happened already. */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve());
  });
}

test("a long backoff ends once another request of the process is answered: the API server is back", async () => {
  // Down for five lists: the backoff has grown to 1600 ms when a Lease renewal gets through.
  let failures = 5;
  const lists: string[] = [];
  const rest: Rest = {
    async request<T>(_method: string, path: string): Promise<T> {
      lists.push(path);
      if (failures-- > 0) throw new Error("connect ECONNREFUSED");
      return { items: [obj("a", "3")], metadata: { resourceVersion: "3" } } as T;
    },
    watch: (_path, _onEvent, signal) => untilAborted(signal),
  };
  const answers = new AnswerSignal();
  const slept: number[] = [];
  let longSleep = () => {};
  const sleepingLong = new Promise<void>((resolve) => {
    longSleep = resolve;
  });
  const inf = new Informer<KubeObject>(
    rest,
    "/api/v1/services",
    { onChange: () => {}, onDelete: () => {} },
    {
      log: pino({ level: "silent" }),
      // Short sleeps pass at once; a long one lasts until it is called off.
      sleep: (ms, signal) => {
        slept.push(ms);
        if (ms < 1000) return Promise.resolve();
        longSleep();
        return untilAborted(signal);
      },
      minBackoffMs: 100,
      maxBackoffMs: 10_000,
      random: () => 1,
      answers,
    },
  );
  const stop = new AbortController();
  const running = inf.run(stop.signal);
  await sleepingLong;
  expect(lists).toHaveLength(5);
  answers.answered();
  await inf.synced;
  expect(inf.get("ns/a")?.metadata?.resourceVersion).toBe("3");
  // Never sooner than the shortest backoff: the floor was slept before the wake counted.
  expect(slept.slice(-2)).toEqual([100, 1500]);
  stop.abort();
  await running;
  expect(answers.waiting).toBe(0);
});

test("backoffs are drawn from their upper half: a process's informers do not retry in step", async () => {
  let failures = 4;
  const rest: Rest = {
    async request<T>(): Promise<T> {
      if (failures-- > 0) throw new Error("connect ECONNREFUSED");
      return { items: [], metadata: { resourceVersion: "1" } } as T;
    },
    watch: (_path, _onEvent, signal) => untilAborted(signal),
  };
  const slept: number[] = [];
  const draws = [0, 0.5, 0.999, 0];
  const inf = new Informer<KubeObject>(
    rest,
    "/api/v1/services",
    { onChange: () => {}, onDelete: () => {} },
    {
      log: pino({ level: "silent" }),
      sleep: async (ms) => {
        slept.push(ms);
      },
      minBackoffMs: 1000,
      maxBackoffMs: 4000,
      random: () => draws.shift() ?? 0,
    },
  );
  const stop = new AbortController();
  const running = inf.run(stop.signal);
  await inf.synced;
  stop.abort();
  await running;
  // Backoffs 1000, 2000, 4000, 4000 (the most): half of each, three quarters, all but a bit, half.
  expect(slept).toEqual([500, 1500, 3998, 2000]);
});

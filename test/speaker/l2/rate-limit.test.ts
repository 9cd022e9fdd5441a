import { SourceLimiter } from "../../../src/speaker/l2/rate-limit.js";

const limits = {
  perSource: { perSecond: 10, burst: 20 },
  global: { perSecond: 100, burst: 100 },
  maxSources: 50,
};

test("one source gets its burst, then its rate", () => {
  const l = new SourceLimiter<string>(limits);
  const allowed = (n: number, at: number) =>
    Array.from({ length: n }, () => l.take("x", at)).filter((r) => r === undefined).length;
  expect(allowed(30, 0)).toBe(20);
  expect(l.take("x", 0)).toBe("source");
  expect(allowed(30, 1000)).toBe(10);
});

test("many sources together are held at the global bound; trusted ones are not counted against it", () => {
  const l = new SourceLimiter<number>(limits);
  let allowed = 0;
  for (let i = 0; i < 1000; i++) if (l.take(i, 0) === undefined) allowed++;
  expect(allowed).toBe(100);
  expect(l.take(5000, 0)).toBe("global");
  expect(l.take(5001, 0, true)).toBeUndefined();
});

test("the source table stays bounded; a forgotten source only starts again with a full bucket", () => {
  const l = new SourceLimiter<number>({ ...limits, global: { perSecond: 1e9, burst: 1e9 } });
  for (let i = 0; i < 20; i++) l.take(-1, 0);
  expect(l.take(-1, 0)).toBe("source");
  for (let i = 0; i < 10_000; i++) l.take(i, 0);
  expect(l.size).toBe(50);
  expect(l.take(-1, 0)).toBeUndefined();
});

import { FD_SLACK, RSS_FACTOR, RSS_SLACK_BYTES } from "./index.js";
import { record } from "./record-builder.js";
import { judgeResources } from "./resources.js";

const MiB = 1024 * 1024;
const sample = (component: string, rssBytes: number, fds: number) => ({ component, pid: 1, rssBytes, fds });
const judge = (start: ReturnType<typeof sample>[], end: ReturnType<typeof sample>[]) =>
  judgeResources(record({ resources: { start, end } }));

test.each([
  [RSS_FACTOR * 100 * MiB + RSS_SLACK_BYTES, true],
  [RSS_FACTOR * 100 * MiB + RSS_SLACK_BYTES + 1, false],
])("RSS of %i bytes at the end against 100 MiB at the start: pass=%s", (rss, pass) => {
  const v = judge([sample("speaker-node-1", 100 * MiB, 40)], [sample("speaker-node-1", rss, 40)]);
  expect(v.pass).toBe(pass);
  if (!pass)
    expect(v.violations[0]?.message).toContain(
      "speaker-node-1: RSS 182.0 MiB at the end (60.000 s) against 100.0 MiB",
    );
});

test.each([
  [40 + FD_SLACK, true],
  [40 + FD_SLACK + 1, false],
])("%i descriptors at the end against 40 at the start: pass=%s", (fds, pass) => {
  const v = judge([sample("controller-0", 50 * MiB, 40)], [sample("controller-0", 50 * MiB, fds)]);
  expect(v.pass).toBe(pass);
  if (!pass) expect(v.violations[0]?.message).toContain(`controller-0: ${fds} open descriptors at the end`);
});

test("a component missing at the end fails, naming it", () => {
  const v = judge(
    [sample("controller-0", MiB, 10), sample("controller-1", MiB, 10)],
    [sample("controller-0", MiB, 10)],
  );
  expect(v.violations.map((x) => x.message)).toEqual([
    "controller-1: no sample at the end of the run (60.000 s); expected the component to be running",
  ]);
});

test("shrinking is fine, and a component that appeared only at the end is not judged", () => {
  const v = judge(
    [sample("controller-0", 80 * MiB, 50)],
    [sample("controller-0", 60 * MiB, 30), sample("new", 900 * MiB, 999)],
  );
  expect(v.pass).toBe(true);
  expect(v.checked).toMatchObject({ components: 1, sampledAtEnd: 2 });
});

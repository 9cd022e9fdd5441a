// tcp-prober on a real link: the client namespace probes a peer whose listener the test stops and
// starts, and whose nftables drop a port. The peer's nft counters show how many probes reached it,
// which is what the test waits on.
import { compileTree } from "../speaker/l2/speaker-process.js";
import type { Outage, ProbeTarget } from "./model.js";
import { type Child, NetnsPair } from "./netns-pair.js";

type Line = ({ type: "outage" } & Outage) | ({ type: "target" } & ProbeTarget) | { type: "end" };

const net = new NetnsPair();
const V4 = "203.0.113.10";
const V6 = "2001:db8:ff::a";
const OPEN = 8080;
const DROPPED = 9999;
const INTERVAL = 10;
const TIMEOUT = 200;

beforeAll(() => {
  compileTree();
  net.create(["203.0.113.100/24", "2001:db8:ff::64/64"], [`${V4}/24`, `${V6}/64`]);
  net.exec(
    net.peer,
    "nft",
    [
      "add table inet soak",
      "add chain inet soak input { type filter hook input priority 0; }",
      `add rule inet soak input tcp dport ${OPEN} tcp flags syn counter`,
      `add rule inet soak input tcp dport ${DROPPED} tcp flags syn counter drop`,
    ].join("; "),
  );
});

afterAll(() => net.remove());

const now = () => performance.timeOrigin + performance.now();

/** SYNs that reached the peer for `port` so far. */
function syns(port: number): number {
  const ruleset = net.exec(net.peer, "nft", "list", "chain", "inet", "soak", "input");
  const m = ruleset.match(new RegExp(`tcp dport ${port} .*counter packets (\\d+)`));
  return Number(m?.[1] ?? 0);
}

async function moreSyns(prober: Child, port: number, count: number): Promise<void> {
  const from = syns(port);
  await prober.until(`${count} more probes to port ${port}`, () =>
    syns(port) >= from + count ? true : undefined,
  );
}

async function listen(): Promise<Child> {
  const l = net.node(net.peer, "dist/test/soak/fixtures/listen.js", String(OPEN));
  await l.until("listening", (c) => (c.lines.includes("listening") ? true : undefined));
  return l;
}

function prober(): Child {
  return net.node(net.client, "dist/test/soak/tcp-prober.js", String(INTERVAL), String(TIMEOUT));
}

const outages = (p: Child) =>
  p.json<Line>().filter((l): l is { type: "outage" } & Outage => l.type === "outage");
const targets = (p: Child) =>
  p.json<Line>().filter((l): l is { type: "target" } & ProbeTarget => l.type === "target");
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

test("a stopped listener gives one outage per target, ECONNREFUSED, from the stop to the restart", async () => {
  let listener = await listen();
  const p = prober();
  p.write(
    JSON.stringify([
      { address: V4, port: OPEN },
      { address: `${V6}`, port: OPEN },
    ]),
  );
  await moreSyns(p, OPEN, 40);
  const killAt = now();
  await listener.kill();
  const killedAt = now();
  await moreSyns(p, OPEN, 40);
  const restartAt = now();
  listener = await listen();
  const listeningAt = now();
  await p.until("both outages", (c) => (outages(c).length >= 2 ? true : undefined));
  expect(await p.stop()).toBe(0);
  await listener.kill();

  const lines = p.json<Line>();
  expect(lines.at(-1)).toEqual({ type: "end" });
  expect(
    outages(p)
      .map((o) => o.address)
      .sort(),
  ).toEqual([V4, V6].sort());
  for (const o of outages(p)) {
    expect(Object.keys(o.errors)).toEqual(["ECONNREFUSED"]);
    expect(o.errors.ECONNREFUSED).toBe(o.failures);
    // A probe started a moment before the kill may meet the closed port; none long before.
    expect(o.fromMs).toBeGreaterThan(killAt - 50);
    expect(o.fromMs).toBeLessThan(killedAt + INTERVAL + 50);
    expect(o.toMs).toBeGreaterThan(restartAt);
    expect(o.toMs).toBeLessThan(listeningAt + INTERVAL + 50);
    // One probe per interval while it lasted (fewer if the machine made it miss ticks).
    const slots = (o.toMs - o.fromMs) / INTERVAL;
    expect(o.failures).toBeLessThanOrEqual(Math.ceil(slots) + 1);
    expect(o.failures).toBeGreaterThan(slots / 3);
    const t = targets(p).find((x) => x.address === o.address) as ProbeTarget;
    expect(t.port).toBe(OPEN);
    // The outage is the only failure: the per-second books agree with it.
    expect(sum(t.failedPerSecond)).toBe(o.failures);
    expect(sum(t.okPerSecond)).toBe(t.ok);
    expect(t.probes).toBe(t.ok + o.failures);
    expect(t.ok).toBeGreaterThan(20);
    expect(t.okPerSecond.length).toBe(Math.ceil((t.toMs - t.fromMs) / 1000));
  }
  expect(p.stderr).toBe("");
});

test("a dropped port gives TIMEOUT; a target removed from the set ends then, the rest at the stop", async () => {
  const p = prober();
  const setAt = now();
  p.write(
    JSON.stringify([
      { address: V4, port: DROPPED },
      { address: V6, port: DROPPED },
    ]),
  );
  await moreSyns(p, DROPPED, 100);
  const removeAt = now();
  p.write(JSON.stringify([{ address: V4, port: DROPPED }]));
  const removed = await p.until("the removed target's outage", (c) =>
    outages(c).find((o) => o.address === V6),
  );
  const removedSeen = now();
  await moreSyns(p, DROPPED, 20);
  const stopAt = now();
  expect(await p.stop()).toBe(0);

  // Ended at the removal: its open outage closed there, its open probes counted neither way.
  expect(removed.toMs).toBeGreaterThanOrEqual(removeAt);
  expect(removed.toMs).toBeLessThanOrEqual(removedSeen);
  expect(removed.fromMs).toBeGreaterThanOrEqual(setAt);
  expect(Object.keys(removed.errors)).toEqual(["TIMEOUT"]);
  const decided = (removed.toMs - TIMEOUT - removed.fromMs) / INTERVAL;
  expect(removed.failures).toBeLessThanOrEqual(Math.ceil(decided) + 2);
  expect(removed.failures).toBeGreaterThan(decided / 3);

  const lines = p.json<Line>();
  const stopLines = lines.slice(lines.indexOf(lines.find((l) => l.type === "target") as Line));
  // At the stop: every target, then the outage still open (closed at the stop), then the end.
  expect(stopLines.map((l) => l.type)).toEqual(["target", "target", "outage", "end"]);
  const [v6, v4] = [V6, V4].map((a) => targets(p).find((t) => t.address === a) as ProbeTarget) as [
    ProbeTarget,
    ProbeTarget,
  ];
  expect(v6.toMs).toBe(removed.toMs);
  expect(v6.ok).toBe(0);
  expect(v6.probes).toBe(removed.failures);
  const last = stopLines[2] as Outage;
  expect(last.address).toBe(V4);
  expect(last.toMs).toBe(v4.toMs);
  expect(v4.toMs).toBeGreaterThan(stopAt);
  expect(Object.keys(last.errors)).toEqual(["TIMEOUT"]);
  expect(v4.probes).toBe(last.failures);
  expect(p.stderr).toBe("");
});

import { readFileSync } from "node:fs";
import { describe, expect, test } from "@jest/globals";
import { ForwardingApplier } from "../../../src/speaker/forward/applier.js";
import type { ForwardingEvent } from "../../../src/speaker/forward/applier-options.js";
import { type HandoverState, planHandover } from "../../../src/speaker/forward/handover.js";
import type { ExecResult } from "../../../src/speaker/forward/nft.js";
import { renderTable } from "../../../src/speaker/forward/render.js";
import { buildRuleset } from "../../../src/speaker/forward/ruleset.js";
import { planForwarding } from "../../../src/speaker/forward/state.js";
import { trace } from "../../../src/speaker/forward/tracer.js";
import { FakeClock } from "../../clock.js";
import { mixedState, service, state } from "./fixtures.js";

const RULE =
  'ct state new,invalid tcp flags & syn == 0 ether saddr != @nodes dup to ip daddr . tcp dport map @previous_owner drop comment "a connection the previous owner accepted"';
const DROP =
  'ct state new,invalid tcp flags & syn == 0 ip daddr @moved counter drop comment "handed over: not this node\'s to pass on"';
const REMOVE = [
  "table ip herald_handover {}",
  "delete table ip herald_handover",
  "table ip6 herald_handover {}",
  "delete table ip6 herald_handover",
];

const ruleset = (handover: HandoverState) =>
  buildRuleset(planForwarding({ ...state(service({ localEndpoints: ["198.51.100.5"] })), handover }));
const rendered = (handover: HandoverState) => renderTable(ruleset(handover));
/** The definition of one handover table in a full rendering, or undefined. */
const tableText = (text: string, family: "ip" | "ip6") =>
  new RegExp(`^table ${family} herald_handover \\{\\n[\\s\\S]*?\\n\\}$`, "m").exec(text)?.[0];

describe("the handover tables in the ruleset", () => {
  test("no takeover: both are removed in the same transaction as inet herald (created first, so an absent one is fine)", () => {
    const lines = rendered({ routes: [], moved: [] }).trimEnd().split("\n");
    expect(lines.slice(-4)).toEqual(REMOVE);
    expect(lines[0]).toBe("table inet herald {}");
  });

  test("each family gets its own table: (address, TCP port) to the previous owner, speakers' MACs, handed-over addresses", () => {
    const text = rendered({
      routes: [
        { address: "192.0.2.21", via: "192.0.2.12", ports: [443, 80, 80] },
        { address: "2001:db8::21", via: "2001:db8::12", ports: [80] },
        { address: "192.0.2.20", via: "192.0.2.11", ports: [80] },
      ],
      moved: ["192.0.2.30", "2001:db8::30"],
      nodeMacs: ["AA:BB:CC:00:00:01", "aa:bb:cc:00:00:02", "not-a-mac", "aa:bb:cc:00:00:01"],
    });
    const v4 = tableText(text, "ip") ?? "";
    const v6 = tableText(text, "ip6") ?? "";
    expect(v4).toContain("type ipv4_addr . inet_service : ipv4_addr;");
    expect(v4).toMatch(
      /elements = \{\n\t+192\.0\.2\.20 \. 80 : 192\.0\.2\.11,\n\t+192\.0\.2\.21 \. 80 : 192\.0\.2\.12,\n\t+192\.0\.2\.21 \. 443 : 192\.0\.2\.12\n/,
    );
    expect(v6).toContain("2001:db8::21 . 80 : 2001:db8::12");
    expect(v4).toMatch(
      /set nodes \{\n\t+type ether_addr;\n\t+elements = \{\n\t+aa:bb:cc:00:00:01,\n\t+aa:bb:cc:00:00:02\n/,
    );
    expect(v4).toMatch(/set moved \{\n\t+type ipv4_addr;\n\t+elements = \{\n\t+192\.0\.2\.30\n/);
    expect(v6).toMatch(/set moved \{\n\t+type ipv6_addr;\n\t+elements = \{\n\t+2001:db8::30\n/);
    expect(v4).toContain(RULE);
    expect(v6).toContain(RULE.replace("dup to ip daddr", "dup to ip6 daddr"));
    expect(v4).toContain(DROP);
    expect(v4).toContain("type filter hook prerouting priority -150; policy accept;");
  });

  test("a previous owner known only in the other family, a route without a TCP port, or a zone, is left out", () => {
    expect(
      planHandover({
        routes: [
          { address: "2001:db8::21", via: "192.0.2.12", ports: [80] },
          { address: "192.0.2.22", via: "192.0.2.12", ports: [] },
          { address: "192.0.2.23", via: "fe80::1%eth0", ports: [80] },
        ],
      }),
    ).toEqual([]);
  });

  test("a node that only handed addresses over gets the drop, with empty sets, in that family only", () => {
    const text = rendered({ routes: [], moved: ["192.0.2.30"] });
    expect(tableText(text, "ip")).toMatch(/set nodes \{\n\t+type ether_addr;\n\t\}/);
    expect(tableText(text, "ip")).toContain(DROP);
    expect(tableText(text, "ip6")).toBeUndefined();
  });
});

describe("the tracer", () => {
  const rs = ruleset({
    routes: [{ address: "192.0.2.10", via: "192.0.2.11", ports: [80] }],
    moved: ["192.0.2.30"],
    nodeMacs: ["aa:bb:cc:00:00:01"],
  });
  const packet = { src: "203.0.113.50", dst: "192.0.2.10", protocol: "tcp" as const, dport: 80 };

  test("mid-stream TCP to a taken-over address goes on to the previous owner", () => {
    expect(trace(rs, { ...packet, syn: false })).toEqual({ verdict: "passedOn", to: "192.0.2.11" });
  });

  test("a new connection stays here, and so does what a speaker sent (never passed on twice)", () => {
    expect(trace(rs, packet)).toMatchObject({ verdict: "dnat", address: "198.51.100.5" });
    expect(trace(rs, { ...packet, syn: false, srcMac: "AA:BB:CC:00:00:01" })).toMatchObject({
      verdict: "dnat",
    });
  });

  test("a port the Service does not have, and UDP, are not passed on", () => {
    expect(trace(rs, { ...packet, dport: 81, syn: false })).toEqual({
      verdict: "reject",
      with: "tcp reset",
    });
    expect(trace(rs, { ...packet, protocol: "udp", syn: false })).toEqual({
      verdict: "reject",
      with: "icmpx port-unreachable",
    });
  });

  test("mid-stream TCP to an address this node handed over is dropped", () => {
    expect(trace(rs, { ...packet, dst: "192.0.2.30", syn: false })).toEqual({ verdict: "drop" });
    expect(trace(rs, { ...packet, dst: "192.0.2.30" })).toEqual({ verdict: "accept" });
  });
});

/** The applier with a scripted nft; `results` answer the transactions in order (then: success). */
function harness(results: Array<ExecResult | Error> = []) {
  const clock = new FakeClock();
  const sent: string[] = [];
  const events: ForwardingEvent[] = [];
  const renders = { n: 0 };
  const applier = new ForwardingApplier({
    exec: async (args, stdin) => {
      if (args[0] !== "-f") return { code: 0, stdout: "", stderr: "" };
      sent.push(stdin ?? "");
      const r = results.shift();
      if (r instanceof Error) throw r;
      return r ?? { code: 0, stdout: "", stderr: "" };
    },
    conntrack: async () => ({ code: 0, stdout: "", stderr: "" }),
    clock,
    nodeMacs: () => {
      renders.n++;
      return ["aa:bb:cc:00:00:01"];
    },
    onEvent: (e) => events.push(e),
    options: { coalesceMs: 100, retryInitialMs: 1000, driftIntervalMs: 0, handoverWindowMs: 60_000 },
  });
  const h = applier.handover;
  const last = () => sent.at(-1) ?? "";
  /** The previous_owner map's elements in the last text sent. */
  const holds = () =>
    [...(tableText(last(), "ip") ?? "").matchAll(/^\t+(\S+ \. \d+ : \S+?),?$/gm)].map((m) => m[1]);
  /** The moved set's elements in the last text sent. */
  const moved = () => {
    const block = /set moved \{\n\t+type ipv4_addr;\n(?:\t+elements = \{\n([^}]*)\t+\}\n)?/.exec(last());
    return block?.[1]?.split(",").map((x) => x.trim()) ?? [];
  };
  return { applier, h, clock, sent, events, holds, moved, renders, last };
}

/** The harness once its first update is applied (the state the wiring is in after start). */
async function started(results: Array<ExecResult | Error> = []) {
  const x = harness([{ code: 0, stdout: "", stderr: "" }, ...results]);
  x.applier.start();
  x.applier.update(state(service({ localEndpoints: ["198.51.100.5"] })));
  await x.clock.advanceAsync(100);
  return x;
}

const failed = { code: 1, stdout: "", stderr: "Error: Could not process rule: No such file or directory" };

describe("the handover through the applier", () => {
  test("the first transaction removes what an earlier run left; a takeover is applied at once and expires after the window", async () => {
    const { h, clock, sent, holds, last } = await started();
    expect(sent).toHaveLength(1);
    expect(last().trimEnd().split("\n").slice(-4)).toEqual(REMOVE);
    h.takenOver("192.0.2.20", "192.0.2.11", [80]);
    await h.settled();
    expect(clock.now()).toBe(100);
    expect(holds()).toEqual(["192.0.2.20 . 80 : 192.0.2.11"]);
    // Only the handover table changed: the incremental transaction replaces it alone.
    expect(last().startsWith("table ip herald_handover {}\ndelete table ip herald_handover\n")).toBe(true);
    await clock.advanceAsync(59_999);
    expect(sent).toHaveLength(2);
    await clock.advanceAsync(1);
    expect(last()).toBe("table ip herald_handover {}\ndelete table ip herald_handover\n");
  });

  test("a release removes the route at once; a second takeover of the address restarts its window", async () => {
    const { h, clock, holds, moved, applier } = await started();
    h.takenOver("192.0.2.20", "192.0.2.11", [80]);
    h.takenOver("192.0.2.21", "192.0.2.11", [80]);
    await h.settled();
    expect(holds()).toEqual(["192.0.2.20 . 80 : 192.0.2.11", "192.0.2.21 . 80 : 192.0.2.11"]);
    h.released("192.0.2.21");
    await h.settled();
    expect(holds()).toEqual(["192.0.2.20 . 80 : 192.0.2.11"]);
    expect(moved()).toEqual(["192.0.2.21"]);
    await clock.advanceAsync(30_000);
    h.takenOver("192.0.2.20", "192.0.2.12", [80]);
    await clock.advanceAsync(30_000);
    // The handed-over address's window is over; the retaken one's is not.
    expect(holds()).toEqual(["192.0.2.20 . 80 : 192.0.2.12"]);
    expect(moved()).toEqual([]);
    await clock.advanceAsync(30_000);
    expect(h.current()).toEqual([]);
    await applier.stop();
  });

  test("the previous owner drops what it cannot NAT for an address it handed over, until the window ends or it owns it again", async () => {
    const { h, clock, last, moved, applier } = await started();
    h.released("192.0.2.20");
    h.released("192.0.2.21");
    await h.settled();
    expect(moved()).toEqual(["192.0.2.20", "192.0.2.21"]);
    expect(last()).toMatch(/set nodes \{\n\t+type ether_addr;\n\t+elements = \{\n\t+aa:bb:cc:00:00:01\n/);
    h.owned("192.0.2.21");
    await h.settled();
    expect(moved()).toEqual(["192.0.2.20"]);
    await clock.advanceAsync(60_000);
    expect(last()).toBe("table ip herald_handover {}\ndelete table ip herald_handover\n");
    await applier.stop();
    expect(clock.pending()).toBe(0);
  });

  test("many changes at once are rendered and applied once", async () => {
    const { h, sent, moved, renders } = await started();
    for (let i = 1; i <= 250; i++) h.released(`192.0.2.${i}`);
    await h.settled();
    expect(renders.n).toBe(2);
    expect(sent).toHaveLength(2);
    expect(moved()).toHaveLength(250);
  });

  test("nothing is sent when the wanted tables are what the kernel already holds", async () => {
    const { h, sent } = await started();
    h.owned("192.0.2.20");
    h.takenOver("192.0.2.20", "192.0.2.11", []);
    await h.settled();
    expect(sent).toHaveLength(1);
  });

  test("before the first update nothing is written; the first transaction carries the takeover", async () => {
    const { applier, h, clock, sent, holds } = harness();
    applier.start();
    h.takenOver("192.0.2.20", "192.0.2.11", [80]);
    await h.settled();
    expect(sent).toEqual([]);
    applier.update(state());
    await clock.advanceAsync(100);
    expect(holds()).toEqual(["192.0.2.20 . 80 : 192.0.2.11"]);
  });

  test("a failed apply is reported and retried until it holds", async () => {
    const { h, clock, sent, events, holds } = await started([failed, failed]);
    h.takenOver("192.0.2.20", "192.0.2.11", [80]);
    await h.settled();
    expect(events.filter((e) => e.type === "applyFailed")).toHaveLength(1);
    await clock.advanceAsync(1000);
    expect(events.filter((e) => e.type === "applyFailed")).toHaveLength(2);
    await clock.advanceAsync(2000);
    expect(sent).toHaveLength(4);
    expect(holds()).toEqual(["192.0.2.20 . 80 : 192.0.2.11"]);
    await clock.advanceAsync(10_000);
    expect(sent).toHaveLength(4);
  });

  test("an nft that fails, or fails to run, does not stop a later takeover from being applied at once", async () => {
    const { h, clock, holds, events } = await started([new Error("spawn nft EAGAIN"), failed]);
    h.takenOver("192.0.2.20", "192.0.2.11", [80]);
    await h.settled();
    h.takenOver("192.0.2.21", "192.0.2.11", [80]);
    await h.settled();
    h.takenOver("192.0.2.22", "192.0.2.11", [80]);
    await h.settled();
    expect(clock.now()).toBe(100);
    expect(holds()).toEqual([
      "192.0.2.20 . 80 : 192.0.2.11",
      "192.0.2.21 . 80 : 192.0.2.11",
      "192.0.2.22 . 80 : 192.0.2.11",
    ]);
    expect(
      events.filter((e) => e.type === "applyFailed").map((e) => e.type === "applyFailed" && e.message),
    ).toEqual(["spawn nft EAGAIN", failed.stderr]);
  });

  test("stop removes the handover tables, keeps inet herald, cancels the timers and ignores later takeovers", async () => {
    const { applier, h, clock, last } = await started();
    h.takenOver("192.0.2.20", "192.0.2.11", [80]);
    await h.settled();
    await applier.stop();
    expect(last()).toBe(`${REMOVE.join("\n")}\n`);
    expect(clock.pending()).toBe(0);
    h.takenOver("192.0.2.21", "192.0.2.11", [80]);
    await h.settled();
    expect(h.current()).toEqual([]);
  });
});

describe("drift of a handover table", () => {
  const golden = (name: string) => readFileSync(new URL(`./golden/${name}`, import.meta.url), "utf8");
  const inet = { table: golden("mixed.listing"), chains: golden("mixed.chains") };
  const handover = golden("handover.listing");

  async function applied(full: boolean, listing: { handover: string | null }) {
    const clock = new FakeClock();
    const sent: string[] = [];
    const events: ForwardingEvent[] = [];
    const applier = new ForwardingApplier({
      exec: async (args, stdin) => {
        const ok = (stdout: string) => ({ code: 0, stdout, stderr: "" });
        if (args[0] === "-f") sent.push(stdin ?? "");
        if (args.join(" ") === "list table inet herald") return ok(inet.table);
        if (args.join(" ") === "list table ip herald_handover")
          return listing.handover === null
            ? { code: 1, stdout: "", stderr: "Error: No such file or directory" }
            : ok(listing.handover);
        if (args.join(" ") === "list chains inet") return ok(inet.chains);
        return ok("");
      },
      conntrack: async () => ({ code: 0, stdout: "", stderr: "" }),
      clock,
      nodeMacs: () => ["aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02"],
      onEvent: (e) => events.push(e),
      options: { coalesceMs: 100, driftIntervalMs: 2000, driftFullEvery: full ? 1 : 1000 },
    });
    applier.start();
    applier.update(mixedState());
    await clock.advanceAsync(100);
    applier.handover.takenOver("192.0.2.20", "192.0.2.12", [80, 443]);
    applier.handover.released("192.0.2.30");
    await applier.handover.settled();
    return { applier, clock, sent, events };
  }

  test("a table as applied is left alone; one with an element removed is put back whole", async () => {
    const listing: { handover: string | null } = { handover };
    const { applier, clock, sent, events } = await applied(true, listing);
    await clock.advanceAsync(10_000);
    expect(sent).toHaveLength(2);
    listing.handover = handover.replace(",\n\t\t\t     192.0.2.20 . 443 : 192.0.2.12", "");
    await clock.advanceAsync(2000);
    expect(events.find((e) => e.type === "driftDetected")).toMatchObject({
      reason: "herald_handover: set previous_owner has 1 entries, want 2",
    });
    expect(sent).toHaveLength(3);
    expect(tableText(sent.at(-1) ?? "", "ip")).toContain("192.0.2.20 . 443 : 192.0.2.12");
    expect(sent.at(-1)?.startsWith("table inet herald {}")).toBe(true);
    await applier.stop();
  });

  test("a deleted table is noticed between full checks and put back", async () => {
    const listing: { handover: string | null } = { handover };
    const { applier, clock, sent, events } = await applied(false, listing);
    await clock.advanceAsync(10_000);
    expect(sent).toHaveLength(2);
    listing.handover = null;
    await clock.advanceAsync(2000);
    expect(events.find((e) => e.type === "driftDetected")).toMatchObject({
      reason: "table ip herald_handover is missing",
    });
    expect(tableText(sent.at(-1) ?? "", "ip")).toContain("192.0.2.20 . 80 : 192.0.2.12");
    await applier.stop();
  });
});

test("a takeover waits for its own transaction, not for Service changes queued behind it", async () => {
  const clock = new FakeClock();
  const sent: string[] = [];
  let open: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();
  const applier = new ForwardingApplier({
    exec: async (_args, stdin) => {
      await gate;
      sent.push(stdin ?? "");
      return { code: 0, stdout: "", stderr: "" };
    },
    conntrack: async () => ({ code: 0, stdout: "", stderr: "" }),
    clock,
    options: { coalesceMs: 100, driftIntervalMs: 0 },
  });
  applier.start();
  applier.update(state(service({ localEndpoints: ["198.51.100.5"] })));
  await clock.advanceAsync(100);
  gate = new Promise((r) => {
    open = r;
  });
  applier.handover.takenOver("192.0.2.20", "192.0.2.11", [80]);
  let taken = false;
  const takeover = applier.handover.settled().then(() => {
    taken = true;
  });
  await clock.advanceAsync(0);
  // While the takeover's transaction is in flight, a Service changes: it waits to coalesce.
  applier.update(state(service({ localEndpoints: ["198.51.100.6"] })));
  let all = false;
  void applier.settled().then(() => {
    all = true;
  });
  open();
  await takeover;
  expect(taken).toBe(true);
  expect(sent.at(-1)).toContain("192.0.2.20 . 80 : 192.0.2.11");
  await clock.advanceAsync(50);
  expect(all).toBe(false);
  await clock.advanceAsync(50);
  expect(all).toBe(true);
  expect(sent.at(-1)).toContain("198.51.100.6");
});

import { HandoverForwarding, renderHandover } from "../../../src/speaker/forward/handover.js";
import type { ExecResult } from "../../../src/speaker/forward/nft.js";
import { FakeClock } from "../l2/fakes.js";

const RULE =
  'ct state new,invalid tcp flags & syn == 0 dup to ip daddr map @previous_owner drop comment "a connection the previous owner accepted"';

describe("renderHandover", () => {
  test("no takeover: both tables are removed (created first, so removing one that is absent works)", () => {
    expect(renderHandover([])).toBe(
      [
        "table ip herald_handover {}",
        "delete table ip herald_handover",
        "table ip6 herald_handover {}",
        "delete table ip6 herald_handover",
        "",
      ].join("\n"),
    );
  });

  test("each family gets its own table with the map from address to the previous owner", () => {
    const text = renderHandover([
      { address: "192.0.2.21", via: "192.0.2.12" },
      { address: "2001:db8::21", via: "2001:db8::12" },
      { address: "192.0.2.20", via: "192.0.2.11" },
    ]);
    expect(text).toContain(
      "map previous_owner { type ipv4_addr : ipv4_addr; elements = { 192.0.2.20 : 192.0.2.11, 192.0.2.21 : 192.0.2.12 } }",
    );
    expect(text).toContain(
      "map previous_owner { type ipv6_addr : ipv6_addr; elements = { 2001:db8::21 : 2001:db8::12 } }",
    );
    expect(text).toContain(RULE);
    expect(text).toContain(RULE.replace("dup to ip daddr", "dup to ip6 daddr"));
    expect(text).toContain("type filter hook prerouting priority -150; policy accept;");
  });

  test("an address whose previous owner is known only in the other family is left out", () => {
    const text = renderHandover([{ address: "2001:db8::21", via: "192.0.2.12" }]);
    expect(text).not.toContain("2001:db8::21");
    expect(text).not.toContain("map previous_owner");
  });
});

function harness(results: ExecResult[] = []) {
  const clock = new FakeClock();
  const sent: string[] = [];
  const errors: string[] = [];
  const h = new HandoverForwarding({
    exec: async (args, stdin) => {
      expect(args).toEqual(["-f", "-"]);
      sent.push(stdin ?? "");
      return results.shift() ?? { code: 0, stdout: "", stderr: "" };
    },
    clock,
    windowMs: 60_000,
    retryMs: 1000,
    onError: (m) => errors.push(m),
  });
  const holds = () => (sent.at(-1) ?? "").match(/elements = \{ ([^}]*) \}/g) ?? [];
  return { h, clock, sent, errors, holds };
}

describe("HandoverForwarding", () => {
  test("start removes what an earlier run left; a takeover is applied, and expires after the window", async () => {
    const { h, clock, sent, holds } = harness();
    await h.start();
    expect(sent).toEqual([renderHandover([])]);
    h.takenOver("192.0.2.20", "192.0.2.11");
    await h.settled();
    expect(holds()).toEqual(["elements = { 192.0.2.20 : 192.0.2.11 }"]);
    clock.advance(59_999);
    await h.settled();
    expect(sent).toHaveLength(2);
    clock.advance(1);
    await h.settled();
    expect(sent.at(-1)).toBe(renderHandover([]));
  });

  test("a release removes the route at once; a second takeover of the address restarts its window", async () => {
    const { h, clock, sent, holds } = harness();
    await h.start();
    h.takenOver("192.0.2.20", "192.0.2.11");
    h.takenOver("192.0.2.21", "192.0.2.11");
    await h.settled();
    expect(holds()).toEqual(["elements = { 192.0.2.20 : 192.0.2.11, 192.0.2.21 : 192.0.2.11 }"]);
    h.released("192.0.2.21");
    await h.settled();
    expect(holds()).toEqual(["elements = { 192.0.2.20 : 192.0.2.11 }"]);
    clock.advance(30_000);
    h.takenOver("192.0.2.20", "192.0.2.12");
    clock.advance(40_000);
    await h.settled();
    expect(holds()).toEqual(["elements = { 192.0.2.20 : 192.0.2.12 }"]);
    clock.advance(20_000);
    await h.settled();
    expect(sent.at(-1)).toBe(renderHandover([]));
    h.released("192.0.2.20");
    await h.settled();
    expect(sent.at(-1)).toBe(renderHandover([]));
  });

  test("nothing is sent when the wanted text is what the kernel already holds", async () => {
    const { h, sent } = harness();
    await h.start();
    h.released("192.0.2.20");
    await h.settled();
    expect(sent).toHaveLength(1);
  });

  test("a failed apply is reported and retried until it holds", async () => {
    const failed = {
      code: 1,
      stdout: "",
      stderr: "Error: Could not process rule: No such file or directory",
    };
    const { h, clock, sent, errors, holds } = harness([{ code: 0, stdout: "", stderr: "" }, failed, failed]);
    await h.start();
    h.takenOver("192.0.2.20", "192.0.2.11");
    await h.settled();
    expect(errors).toEqual([failed.stderr]);
    clock.advance(1000);
    await h.settled();
    expect(errors).toHaveLength(2);
    clock.advance(1000);
    await h.settled();
    expect(sent).toHaveLength(4);
    expect(holds()).toEqual(["elements = { 192.0.2.20 : 192.0.2.11 }"]);
    clock.advance(1000);
    await h.settled();
    expect(sent).toHaveLength(4);
  });

  test("stop removes the tables, cancels the timers and ignores later takeovers", async () => {
    const { h, clock, sent } = harness();
    await h.start();
    h.takenOver("192.0.2.20", "192.0.2.11");
    await h.stop();
    expect(sent.at(-1)).toBe(renderHandover([]));
    expect(clock.pending()).toBe(0);
    h.takenOver("192.0.2.21", "192.0.2.11");
    await h.settled();
    expect(h.current()).toEqual([]);
  });
});

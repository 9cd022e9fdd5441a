import { HandoverForwarding, renderHandover } from "../../../src/speaker/forward/handover.js";
import type { ExecResult } from "../../../src/speaker/forward/nft.js";
import { FakeClock } from "../../clock.js";

const RULE =
  'ct state new,invalid tcp flags & syn == 0 ether saddr != @nodes dup to ip daddr . tcp dport map @previous_owner drop comment "a connection the previous owner accepted"';
const DROP =
  'ct state new,invalid tcp flags & syn == 0 ip daddr @moved counter drop comment "handed over: not this node\'s to pass on"';
const none = renderHandover({ routes: [] });

describe("renderHandover", () => {
  test("no takeover: both tables are removed (created first, so removing one that is absent works)", () => {
    expect(renderHandover({ routes: [], moved: [] })).toBe(
      [
        "table ip herald_handover {}",
        "delete table ip herald_handover",
        "table ip6 herald_handover {}",
        "delete table ip6 herald_handover",
        "",
      ].join("\n"),
    );
  });

  test("each family gets its own table: (address, TCP port) to the previous owner, speakers' MACs, handed-over addresses", () => {
    const text = renderHandover({
      routes: [
        { address: "192.0.2.21", via: "192.0.2.12", ports: [443, 80, 80] },
        { address: "2001:db8::21", via: "2001:db8::12", ports: [80] },
        { address: "192.0.2.20", via: "192.0.2.11", ports: [80] },
      ],
      moved: ["192.0.2.30", "2001:db8::30"],
      nodeMacs: ["AA:BB:CC:00:00:01", "aa:bb:cc:00:00:02", "not-a-mac", "aa:bb:cc:00:00:01"],
    });
    expect(text).toContain(
      "map previous_owner { type ipv4_addr . inet_service : ipv4_addr; elements = { 192.0.2.20 . 80 : 192.0.2.11, 192.0.2.21 . 80 : 192.0.2.12, 192.0.2.21 . 443 : 192.0.2.12 } }",
    );
    expect(text).toContain(
      "map previous_owner { type ipv6_addr . inet_service : ipv6_addr; elements = { 2001:db8::21 . 80 : 2001:db8::12 } }",
    );
    expect(text).toContain(
      "set nodes { type ether_addr; elements = { aa:bb:cc:00:00:01, aa:bb:cc:00:00:02 } }",
    );
    expect(text).toContain("set moved { type ipv4_addr; elements = { 192.0.2.30 } }");
    expect(text).toContain("set moved { type ipv6_addr; elements = { 2001:db8::30 } }");
    expect(text).toContain(RULE);
    expect(text).toContain(RULE.replace("dup to ip daddr", "dup to ip6 daddr"));
    expect(text).toContain(DROP);
    expect(text).toContain("type filter hook prerouting priority -150; policy accept;");
  });

  test("a previous owner known only in the other family, or a route without a TCP port, is left out", () => {
    const text = renderHandover({
      routes: [
        { address: "2001:db8::21", via: "192.0.2.12", ports: [80] },
        { address: "192.0.2.22", via: "192.0.2.12", ports: [] },
        { address: "192.0.2.23", via: "fe80::1%eth0", ports: [80] },
      ],
    });
    expect(text).toBe(none);
  });

  test("a node that only handed addresses over gets the drop, with empty sets", () => {
    const text = renderHandover({ routes: [], moved: ["192.0.2.30"] });
    expect(text).toContain("set nodes { type ether_addr; }");
    expect(text).toContain("map previous_owner { type ipv4_addr . inet_service : ipv4_addr; }");
    expect(text).toContain(DROP);
    expect(text).not.toContain("table ip6 herald_handover {\n");
  });
});

function harness(results: ExecResult[] = []) {
  const clock = new FakeClock();
  const sent: string[] = [];
  const errors: string[] = [];
  const renders = { n: 0 };
  const h = new HandoverForwarding({
    nodeMacs: () => {
      renders.n++;
      return ["aa:bb:cc:00:00:01"];
    },
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
  /** The previous_owner map's elements in the last text sent. */
  const holds = () => (sent.at(-1) ?? "").match(/(?<=map previous_owner.*)elements = \{ ([^}]*) \}/g) ?? [];
  /** The moved set's elements in the last text sent. */
  const moved = () =>
    /set moved \{ type ipv4_addr;(?: elements = \{ ([^}]*) \})? \}/.exec(sent.at(-1) ?? "")?.[1];
  return { h, clock, sent, errors, holds, moved, renders };
}

describe("HandoverForwarding", () => {
  test("start removes what an earlier run left; a takeover is applied, and expires after the window", async () => {
    const { h, clock, sent, holds } = harness();
    await h.start();
    expect(sent).toEqual([none]);
    h.takenOver("192.0.2.20", "192.0.2.11", [80]);
    await h.settled();
    expect(holds()).toEqual(["elements = { 192.0.2.20 . 80 : 192.0.2.11 }"]);
    clock.advance(59_999);
    await h.settled();
    expect(sent).toHaveLength(2);
    clock.advance(1);
    await h.settled();
    expect(sent.at(-1)).toBe(none);
  });

  test("a release removes the route at once; a second takeover of the address restarts its window", async () => {
    const { h, clock, holds, moved } = harness();
    await h.start();
    h.takenOver("192.0.2.20", "192.0.2.11", [80]);
    h.takenOver("192.0.2.21", "192.0.2.11", [80]);
    await h.settled();
    expect(holds()).toEqual(["elements = { 192.0.2.20 . 80 : 192.0.2.11, 192.0.2.21 . 80 : 192.0.2.11 }"]);
    h.released("192.0.2.21");
    await h.settled();
    expect(holds()).toEqual(["elements = { 192.0.2.20 . 80 : 192.0.2.11 }"]);
    expect(moved()).toBe("192.0.2.21");
    clock.advance(30_000);
    h.takenOver("192.0.2.20", "192.0.2.12", [80]);
    clock.advance(30_000);
    await h.settled();
    // The handed-over address's window is over; the retaken one's is not.
    expect(holds()).toEqual(["elements = { 192.0.2.20 . 80 : 192.0.2.12 }"]);
    expect(moved()).toBeUndefined();
    clock.advance(30_000);
    await h.settled();
    expect(h.current()).toEqual([]);
  });

  test("the previous owner drops what it cannot NAT for an address it handed over, until the window ends or it owns it again", async () => {
    const { h, clock, sent, moved } = harness();
    await h.start();
    h.released("192.0.2.20");
    h.released("192.0.2.21");
    await h.settled();
    expect(moved()).toBe("192.0.2.20, 192.0.2.21");
    expect(sent.at(-1)).toContain("set nodes { type ether_addr; elements = { aa:bb:cc:00:00:01 } }");
    h.owned("192.0.2.21");
    await h.settled();
    expect(moved()).toBe("192.0.2.20");
    clock.advance(60_000);
    await h.settled();
    expect(sent.at(-1)).toBe(none);
    expect(clock.pending()).toBe(0);
  });

  test("many changes at once are rendered and applied once", async () => {
    const { h, sent, moved, renders } = harness();
    await h.start();
    for (let i = 1; i <= 250; i++) h.released(`192.0.2.${i}`);
    await h.settled();
    expect(renders.n).toBe(2);
    expect(sent).toHaveLength(2);
    expect(moved()?.split(", ")).toHaveLength(250);
  });

  test("nothing is sent when the wanted text is what the kernel already holds", async () => {
    const { h, sent } = harness();
    await h.start();
    h.owned("192.0.2.20");
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
    h.takenOver("192.0.2.20", "192.0.2.11", [80]);
    await h.settled();
    expect(errors).toEqual([failed.stderr]);
    clock.advance(1000);
    await h.settled();
    expect(errors).toHaveLength(2);
    clock.advance(1000);
    await h.settled();
    expect(sent).toHaveLength(4);
    expect(holds()).toEqual(["elements = { 192.0.2.20 . 80 : 192.0.2.11 }"]);
    clock.advance(1000);
    await h.settled();
    expect(sent).toHaveLength(4);
  });

  test("stop removes the tables, cancels the timers and ignores later takeovers", async () => {
    const { h, clock, sent } = harness();
    await h.start();
    h.takenOver("192.0.2.20", "192.0.2.11", [80]);
    await h.stop();
    expect(sent.at(-1)).toBe(none);
    expect(clock.pending()).toBe(0);
    h.takenOver("192.0.2.21", "192.0.2.11", [80]);
    await h.settled();
    expect(h.current()).toEqual([]);
  });
});

test("an nft that fails to run does not stop later changes from being applied", async () => {
  const clock = new FakeClock();
  const sent: string[] = [];
  const errors: string[] = [];
  let broken = true;
  const h = new HandoverForwarding({
    exec: async (_args, stdin) => {
      if (broken) {
        broken = false;
        throw new Error("spawn nft EAGAIN");
      }
      sent.push(stdin ?? "");
      return { code: 0, stdout: "", stderr: "" };
    },
    clock,
    retryMs: 1000,
    onError: (m) => errors.push(m),
  });
  h.takenOver("192.0.2.20", "192.0.2.11", [80]);
  await h.settled().catch(() => {});
  h.takenOver("192.0.2.21", "192.0.2.11", [80]);
  await h.settled().catch(() => {});
  expect(sent.at(-1)).toContain("192.0.2.21 . 80 : 192.0.2.11");
  expect(errors).toEqual(["spawn nft EAGAIN"]);
});

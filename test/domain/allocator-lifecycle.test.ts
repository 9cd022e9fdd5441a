// Warm start and pool edits: what survives a restart and what moves when pools change.
import { Allocator } from "../../src/domain/allocator.js";
import { pool, svc } from "./fixtures.js";

describe("warm start restores before anything new is handed out", () => {
  const a = new Allocator();
  a.setPools([pool("lan", ["192.0.2.0/29"]), pool("v6", ["2001:db8::/125"])]);

  test("restored addresses are held as they were", () => {
    expect(a.restore(svc("ns/b"), ["192.0.2.3"]).conflicts).toEqual([]);
    expect(a.restore(svc("ns/c", { sharingKey: "k" }), ["192.0.2.0"]).conflicts).toEqual([]);
    expect(a.assignmentOf("ns/b")).toEqual({ pool: "lan", addresses: ["192.0.2.3"] });
  });

  test("a Service sharing legitimately is restored onto the same address", () => {
    const r = a.restore(svc("ns/d", { sharingKey: "k", ports: [{ protocol: "TCP", port: 443 }] }), [
      "192.0.2.0",
    ]);
    expect(r.conflicts).toEqual([]);
    expect(a.holdersOf("192.0.2.0")).toEqual(["ns/c", "ns/d"]);
  });

  test("a conflicting restore is reported, not silently dropped", () => {
    const r = a.restore(svc("ns/e"), ["192.0.2.3", "2001:db8::1"]);
    expect(r.conflicts.map((c) => c.reason)).toEqual(["AddressInUse"]);
    expect(r.conflicts[0]?.message).toContain("ns/b");
    // What could be restored is kept.
    expect(a.assignmentOf("ns/e")?.addresses).toEqual(["2001:db8::1"]);
  });

  test("an address outside every pool and garbage are reported", () => {
    const r = a.restore(svc("ns/f"), ["203.0.113.9", "not-an-ip"]);
    expect(r.conflicts.map((c) => c.reason)).toEqual(["NotInAnyPool", "InvalidAddress"]);
    expect(r.assignment).toBeUndefined();
  });

  test("new allocations then avoid every restored address", () => {
    expect(a.assign(svc("ns/b")).changed).toBe(false);
    expect(a.assign(svc("ns/g")).assignment?.addresses).toEqual(["192.0.2.1"]);
    expect(a.assign(svc("ns/h")).assignment?.addresses).toEqual(["192.0.2.2"]);
    expect(a.assign(svc("ns/i")).assignment?.addresses).toEqual(["192.0.2.4"]);
  });

  test("the Service that lost the conflict gets a fresh address of its own family", () => {
    // ns/e is IPv4 single-stack but holds only an IPv6 address: it moves.
    const r = a.assign(svc("ns/e"));
    expect(r.assignment?.addresses).toEqual(["192.0.2.5"]);
    expect(a.holdersOf("2001:db8::1")).toEqual([]);
  });
});

describe("pool edits: only what left its pools moves", () => {
  const a = new Allocator();
  a.setPools([pool("lan", ["192.0.2.0/29"]), pool("spare", ["198.51.100.0/30"])]);
  for (const k of ["s0", "s1", "s2", "s3"]) a.assign(svc(`ns/${k}`));

  test("shrinking the pool displaces only the Services outside it", () => {
    expect(a.setPools([pool("lan", ["192.0.2.0/31"]), pool("spare", ["198.51.100.0/30"])])).toEqual([
      "ns/s2",
      "ns/s3",
    ]);
    expect(a.assign(svc("ns/s0")).changed).toBe(false);
    expect(a.assign(svc("ns/s1")).changed).toBe(false);
    expect(a.assign(svc("ns/s2")).assignment).toEqual({ pool: "spare", addresses: ["198.51.100.0"] });
    expect(a.counts("lan")?.IPv4.assigned).toBe(2n);
  });

  test("growing keeps everyone, and the new space is used lowest first", () => {
    // s3 was displaced but not moved yet: its address is back inside the pool, so it stays.
    expect(a.setPools([pool("lan", ["192.0.2.0/28"]), pool("spare", ["198.51.100.0/30"])])).toEqual([]);
    expect(a.assign(svc("ns/s3"))).toMatchObject({
      changed: false,
      assignment: { addresses: ["192.0.2.3"] },
    });
    expect(a.assign(svc("ns/s4")).assignment?.addresses).toEqual(["192.0.2.2"]);
  });

  test("re-prioritising moves nobody", () => {
    const spareFirst = pool("spare", ["198.51.100.0/30"], { allocation: { priority: 0 } });
    expect(a.setPools([pool("lan", ["192.0.2.0/28"]), spareFirst])).toEqual([]);
    expect(a.assign(svc("ns/s0")).changed).toBe(false);
    expect(a.assign(svc("ns/new")).assignment?.pool).toBe("spare");
  });

  test("renaming a pool keeps the addresses and follows the name", () => {
    expect(a.setPools([pool("office", ["192.0.2.0/28"]), pool("spare", ["198.51.100.0/30"])])).toEqual([]);
    expect(a.assign(svc("ns/s0")).assignment).toEqual({ pool: "office", addresses: ["192.0.2.0"] });
  });

  test("restricting a pool displaces the Services it no longer allows", () => {
    const restricted = pool("office", ["192.0.2.0/28"], { allocation: { namespaces: ["other"] } });
    expect(a.setPools([restricted, pool("spare", ["198.51.100.0/30"])])).toEqual([
      "ns/s0",
      "ns/s1",
      "ns/s3",
      "ns/s4",
    ]);
  });

  test("deleting a pool displaces all its Services; assign moves them or says why", () => {
    expect(a.setPools([pool("spare", ["198.51.100.0/30"])])).toEqual(["ns/s0", "ns/s1", "ns/s3", "ns/s4"]);
    expect(a.assign(svc("ns/s0")).assignment?.pool).toBe("spare");
    expect(a.assign(svc("ns/s1")).assignment?.pool).toBe("spare");
    expect(a.assign(svc("ns/s3")).refusal?.reason).toBe("PoolExhausted");
    expect(a.assignmentOf("ns/s3")).toBeUndefined();
  });

  test("disabling keeps existing holders and hands out nothing new", () => {
    const b = new Allocator();
    b.setPools([pool("lan", ["192.0.2.0/30"])]);
    b.assign(svc("ns/x"));
    expect(b.setPools([pool("lan", ["192.0.2.0/30"], { disabled: true })])).toEqual([]);
    expect(b.assign(svc("ns/x")).changed).toBe(false);
    expect(b.assign(svc("ns/y")).refusal?.reason).toBe("NoPoolAllowed");
    expect(b.counts("lan")?.IPv4).toEqual({ total: 4n, assigned: 1n, available: 3n });
  });
});

test("counts are exact for a /64 and never enumerate", () => {
  const a = new Allocator();
  a.setPools([pool("v6", ["2001:db8::/64"], { avoidBuggyIPs: true })]);
  for (let i = 0; i < 5; i++) a.assign(svc(`ns/s${i}`, { families: ["IPv6"] }));
  expect(a.counts("v6")?.IPv6).toEqual({ total: 1n << 64n, assigned: 5n, available: (1n << 64n) - 5n });
});

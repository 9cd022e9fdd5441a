import { allocatorPools, parsePool, validatePools } from "../../src/api/ipaddresspool.js";
import { poolSize } from "../../src/domain/pool.js";

const pool = (name: string, spec: unknown) => ({
  apiVersion: "herald.dev/v1alpha1",
  kind: "IPAddressPool",
  metadata: { name },
  spec,
});

test("a full spec becomes a domain pool with defaults filled in", () => {
  const p = parsePool(
    pool("lan", {
      addresses: ["192.0.2.0/28", "2001:db8::/120", "198.51.100.10-198.51.100.12"],
      allocation: { priority: 5, namespaces: ["team-a"], serviceSelector: { matchLabels: { tier: "web" } } },
    }),
  );
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  expect(p.pool).toMatchObject({
    name: "lan",
    autoAssign: true,
    avoidBuggyIPs: false,
    disabled: false,
    priority: 5,
  });
  expect(p.pool.namespaces).toEqual(["team-a"]);
  expect(poolSize(p.pool, "IPv4")).toBe(19n);
  expect(poolSize(p.pool, "IPv6")).toBe(256n);
  // Sorted by family then address, whatever the input order.
  expect(p.pool.ranges.map((r) => r.family)).toEqual(["IPv4", "IPv4", "IPv6"]);
});

test("exact sizes for a /64 and a /8", () => {
  const p = parsePool(pool("big", { addresses: ["2001:db8:1::/64", "10.0.0.0/8"] }));
  if (!p.ok) throw new Error("invalid");
  expect(poolSize(p.pool, "IPv6")).toBe(18446744073709551616n);
  expect(poolSize(p.pool, "IPv4")).toBe(16777216n);
});

describe("errors name the field", () => {
  test.each([
    [{ addresses: [] }, "spec.addresses", "at least one"],
    [{}, "spec.addresses", "at least one"],
    [{ addresses: ["192.0.2.0/28", 7] }, "spec.addresses[1]", "must be a string"],
    [{ addresses: ["192.0.2.5/28"] }, "spec.addresses[0]", "did you mean 192.0.2.0/28?"],
    [
      { addresses: ["192.0.2.0/28", "192.0.2.8-192.0.2.20"] },
      "spec.addresses[1]",
      "overlaps spec.addresses[0]",
    ],
    [
      { addresses: ["192.0.2.8-192.0.2.20", "192.0.2.0/28"] },
      "spec.addresses[1]",
      "overlaps spec.addresses[0]",
    ],
    [{ addresses: ["192.0.2.0/28"], autoAssign: "yes" }, "spec.autoAssign", "true or false"],
    [
      { addresses: ["192.0.2.0/28"], allocation: { priority: -1 } },
      "spec.allocation.priority",
      "whole number",
    ],
    [{ addresses: ["192.0.2.0/28"], allocation: { namespaces: "a" } }, "spec.allocation.namespaces", "list"],
    [
      { addresses: ["192.0.2.0/28"], allocation: { allowSharingAcrossNamespaces: "yes" } },
      "spec.allocation.allowSharingAcrossNamespaces",
      "true or false",
    ],
    [
      {
        addresses: ["192.0.2.0/28"],
        allocation: { namespaceSelector: { matchExpressions: [{ key: "k", operator: "In" }] } },
      },
      "spec.allocation.namespaceSelector.matchExpressions[0].values",
      "In needs at least one value",
    ],
    [
      {
        addresses: ["192.0.2.0/28"],
        allocation: { serviceSelector: { matchExpressions: [{ key: "k", operator: "Near" }] } },
      },
      "spec.allocation.serviceSelector.matchExpressions[0].operator",
      "must be one of",
    ],
  ])("%j", (spec, field, message) => {
    const p = parsePool(pool("p", spec));
    expect(p.ok).toBe(false);
    if (p.ok) return;
    expect(p.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ field, message: expect.stringContaining(message) })]),
    );
  });
});

test("garbage never throws", () => {
  for (const junk of [
    null,
    3,
    "x",
    [],
    { metadata: 1 },
    { metadata: { name: "a" }, spec: [] },
    { spec: { addresses: [null] } },
  ]) {
    const p = parsePool(junk);
    expect(p.ok).toBe(false);
  }
});

test("overlapping pools are both invalid and say with whom", () => {
  const [a, b, c] = validatePools([
    pool("a", { addresses: ["192.0.2.0/28"] }),
    pool("b", { addresses: ["192.0.2.8/29", "2001:db8::/120"] }),
    pool("c", { addresses: ["192.0.2.100/30"] }),
  ]);
  expect(a?.ok).toBe(false);
  expect(b?.ok).toBe(false);
  expect(c?.ok).toBe(true);
  if (a?.ok === false) expect(a.errors[0]?.message).toBe("192.0.2.0/28 overlaps 192.0.2.8/29 of pool b");
  if (b?.ok === false) expect(b.errors[0]?.message).toBe("192.0.2.8/29 overlaps 192.0.2.0/28 of pool a");
  // Invalid pools reach the allocator disabled, with the ranges that parsed.
  const pools = allocatorPools([a, b, c].filter((p) => p !== undefined));
  expect(pools.map((p) => [p.name, p.disabled, p.ranges.length])).toEqual([
    ["a", true, 1],
    ["b", true, 2],
    ["c", false, 1],
  ]);
});

test("sharing across namespaces is off unless the pool opts in", () => {
  const off = parsePool(pool("lan", { addresses: ["192.0.2.0/28"] }));
  const on = parsePool(
    pool("lan", { addresses: ["192.0.2.0/28"], allocation: { allowSharingAcrossNamespaces: true } }),
  );
  expect(off.ok && off.pool.allowSharingAcrossNamespaces).toBe(false);
  expect(on.ok && on.pool.allowSharingAcrossNamespaces).toBe(true);
});

test("ignoreAddressConflicts must be true or false", () => {
  expect(parsePool(pool("lan", { addresses: ["192.0.2.0/28"], ignoreAddressConflicts: true })).ok).toBe(true);
  const bad = parsePool(pool("lan", { addresses: ["192.0.2.0/28"], ignoreAddressConflicts: "yes" }));
  expect(bad.ok ? [] : bad.errors).toEqual([
    { field: "spec.ignoreAddressConflicts", message: "must be true or false" },
  ]);
});

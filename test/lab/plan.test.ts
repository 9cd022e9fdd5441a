import { BlockList } from "node:net";
import {
  netnsNames,
  newPrefix,
  nextPodAddress,
  nodeAddresses,
  nodeIndex,
  POD_CIDR_V6,
  podAddress,
  podAddressV6,
  prefixOfNamespace,
  SERVICE_CIDR_V6,
} from "./plan.js";

test("a lab's namespaces are recognised by prefix; other namespaces on the machine never are", () => {
  const prefix = newPrefix();
  const names = netnsNames(prefix);
  for (const ns of [names.lab, names.client, names.node(3), names.pod(42)]) {
    expect(prefixOfNamespace(ns)).toBe(prefix);
  }
  for (const foreign of [
    "hxp",
    "hfwd10352-node",
    "hlab",
    "hlab12345-node-1",
    "hlabzzzzzz-lab",
    "xhlab3f9a0c-lab",
    "default",
  ]) {
    expect(prefixOfNamespace(foreign)).toBeUndefined();
  }
});

test("prefixes differ between runs", () => {
  const seen = new Set(Array.from({ length: 50 }, newPrefix));
  expect(seen.size).toBeGreaterThan(45);
});

test.each([
  [1, "192.0.2.11", "2001:db8::11"],
  [3, "192.0.2.13", "2001:db8::13"],
  [80, "192.0.2.90", "2001:db8::90"],
])("node %i sits at %s and %s", (index, v4, v6) => {
  expect(nodeAddresses(index)).toEqual({ v4, v6 });
  expect(nodeIndex(`node-${index}`)).toBe(index);
});

test("node indexes outside 1..80 are refused, so no node collides with the client at .100", () => {
  for (const bad of [0, 81, 1.5, -1]) {
    expect(() => nodeAddresses(bad)).toThrow(expect.objectContaining({ code: "LAB_BAD_ARGUMENT" }));
  }
});

test("pod addresses are handed out lowest first, reused after release, and run out with a coded error", () => {
  const used = new Set<number>();
  const first = nextPodAddress(used);
  used.add(first);
  const second = nextPodAddress(used);
  used.add(second);
  expect([podAddress(first), podAddress(second)]).toEqual(["198.51.100.1", "198.51.100.2"]);
  used.delete(first);
  expect(nextPodAddress(used)).toBe(first);
  const full = new Set(Array.from({ length: 126 }, (_, i) => i + 1));
  expect(() => nextPodAddress(full)).toThrow(expect.objectContaining({ code: "LAB_ADDRESSES_EXHAUSTED" }));
  // Pods stay in 198.51.100.0/25, clear of the pools' 198.51.100.128/25.
  expect(podAddress(126)).toBe("198.51.100.126");
  expect(() => podAddress(127)).toThrow(expect.objectContaining({ code: "LAB_BAD_ARGUMENT" }));
});

test("a pod's IPv6 address is its number in the IPv6 pod range, which is clear of the LAN and the Service range", () => {
  expect([podAddressV6(1), podAddressV6(10), podAddressV6(126)]).toEqual([
    "2001:db8:10::1",
    "2001:db8:10::a",
    "2001:db8:10::7e",
  ]);
  expect(() => podAddressV6(127)).toThrow(expect.objectContaining({ code: "LAB_BAD_ARGUMENT" }));
  const lan = new BlockList();
  lan.addSubnet("2001:db8::", 64, "ipv6");
  const [svcNet = "", svcBits = ""] = SERVICE_CIDR_V6.split("/");
  const [podNet = "", podBits = ""] = POD_CIDR_V6.split("/");
  const services = new BlockList();
  services.addSubnet(svcNet, Number(svcBits), "ipv6");
  const pods = new BlockList();
  pods.addSubnet(podNet, Number(podBits), "ipv6");
  for (const n of [1, 126]) {
    expect(pods.check(podAddressV6(n), "ipv6")).toBe(true);
    expect(lan.check(podAddressV6(n), "ipv6")).toBe(false);
    expect(services.check(podAddressV6(n), "ipv6")).toBe(false);
  }
  expect(lan.check(svcNet, "ipv6")).toBe(false);
  // Kubernetes 1.20 refuses an IPv6 Service range of more than 20 host bits.
  expect(128 - Number(svcBits)).toBeLessThanOrEqual(20);
});

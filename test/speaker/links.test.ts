import { expect, test } from "@jest/globals";
import { announceableLinks, parseLinks } from "../../src/speaker/l2/links.js";

const ipOutput = JSON.stringify([
  {
    ifname: "lo",
    flags: ["LOOPBACK", "UP"],
    link_type: "loopback",
    addr_info: [{ scope: "host", local: "127.0.0.1" }],
  },
  {
    ifname: "eth0",
    flags: ["BROADCAST", "UP", "LOWER_UP"],
    link_type: "ether",
    linkinfo: { info_kind: "veth" },
    addr_info: [{ scope: "global", local: "192.0.2.11" }],
  },
  {
    ifname: "pod1",
    flags: ["BROADCAST", "UP"],
    link_type: "ether",
    linkinfo: { info_kind: "veth" },
    addr_info: [{ scope: "global", local: "169.254.1.1" }],
  },
  {
    ifname: "cali12",
    flags: ["BROADCAST", "UP"],
    link_type: "ether",
    linkinfo: { info_kind: "veth" },
    addr_info: [{ scope: "link", local: "fe80::1" }],
  },
  { ifname: "enp1s0", flags: ["BROADCAST", "UP"], link_type: "ether", master: "br0", addr_info: [] },
  {
    ifname: "br0",
    flags: ["BROADCAST", "UP", "LOWER_UP"],
    link_type: "ether",
    linkinfo: { info_kind: "bridge" },
    addr_info: [{ scope: "global", local: "192.0.2.12" }],
  },
  { ifname: "eth1", flags: ["BROADCAST"], link_type: "ether", addr_info: [] },
  {
    ifname: "eth2",
    flags: ["NO-CARRIER", "BROADCAST", "UP"],
    link_type: "ether",
    addr_info: [{ scope: "global", local: "198.51.100.2" }],
  },
  { ifname: "wg0", flags: ["NOARP", "UP"], link_type: "none", addr_info: [] },
  { ifname: "ifb0", flags: ["BROADCAST", "NOARP"], link_type: "ether" },
]);

test("announce on uplinks and bridges; never loopback, bridge ports, pod veths, links down or without carrier, ARP-less links", () => {
  expect(announceableLinks(parseLinks(ipOutput))).toEqual(["eth0", "br0"]);
});

test("output that is not the expected JSON gives no interfaces, not an exception", () => {
  expect(parseLinks("not json")).toEqual([]);
  expect(parseLinks('{"ifname":"eth0"}')).toEqual([]);
  expect(parseLinks("[null, 3]")).toEqual([]);
});

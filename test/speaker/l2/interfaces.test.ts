import { type InterfaceInfo, interfaceAllowed } from "../../../src/speaker/l2/interfaces.js";

const eth: InterfaceInfo = { name: "eth0", loopback: false, hasMaster: false, podVeth: false, up: true };

test.each<[string, Partial<InterfaceInfo>, string[], string]>([
  ["a plain uplink, no restriction", {}, [], ""],
  ["loopback, even when named", { name: "lo", loopback: true }, ["lo"], "loopback"],
  ["a bridge port", { hasMaster: true }, [], "hasMaster"],
  ["a pod veth", { name: "cali1234", podVeth: true }, [], "podVeth"],
  ["a down link", { up: false }, [], "down"],
  ["named exactly", {}, ["eth0"], ""],
  ["matched by a pattern", { name: "enp3s0" }, ["eth*", "enp*"], ""],
  ["not among the names", { name: "eth1" }, ["eth0"], "notSelected"],
  ["pattern characters are not regular expressions", { name: "eth0x" }, ["eth0."], "notSelected"],
])("%s", (_name, change, patterns, reason) => {
  expect(interfaceAllowed({ ...eth, ...change }, patterns)).toBe(reason);
});

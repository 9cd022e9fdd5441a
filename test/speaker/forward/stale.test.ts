import { expect, test } from "@jest/globals";
import { strayNodePortEntries } from "../../../src/speaker/forward/stale.js";

const entry = (client: string, nodePort: number, reply: string) =>
  `tcp      6 117 SYN_SENT src=${client} dst=192.0.2.11 sport=40081 dport=${nodePort} [UNREPLIED] src=${reply} dst=${client} sport=8080 dport=40081 mark=0 use=1`;

test("unanswered connections to an address no endpoint of that NodePort has are stray, once per pair", () => {
  const listing = [
    entry("192.0.2.100", 30080, "198.51.100.9"),
    entry("192.0.2.101", 30080, "198.51.100.9"),
    entry("192.0.2.102", 30080, "198.51.100.5"),
    entry("2001:db8::100", 30080, "2001:db8:10::9"),
    // The live endpoint of another port is not live for this one.
    entry("192.0.2.103", 30443, "198.51.100.5"),
    "",
  ].join("\n");
  const endpoints = [
    { nodePort: 30080, address: "198.51.100.5" },
    { nodePort: 30443, address: "198.51.100.6" },
  ];
  expect(strayNodePortEntries(listing, endpoints)).toEqual([
    { nodePort: 30080, address: "198.51.100.9" },
    { nodePort: 30080, address: "2001:db8:10::9" },
    { nodePort: 30443, address: "198.51.100.5" },
  ]);
});

test("ports no endpoint is behind, and lines that are not entries, are left alone", () => {
  const listing = [
    entry("192.0.2.100", 31999, "198.51.100.9"),
    "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.",
    "tcp 6 117 SYN_SENT src=192.0.2.100 dst=192.0.2.11 sport=40081 dport=30080",
    "dport=30080 src=",
    "garbage",
  ].join("\n");
  expect(strayNodePortEntries(listing, [{ nodePort: 30080, address: "198.51.100.5" }])).toEqual([]);
  expect(strayNodePortEntries(listing, [])).toEqual([]);
});

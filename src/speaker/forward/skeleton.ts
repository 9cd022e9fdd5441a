// The static part of `inet herald`: the sets and maps every node has (their elements come
// from the frontends) and the base chains that look packets up in them. See ruleset.ts for
// the packet path.
import {
  addrType,
  type Chain,
  fam,
  frontendKey,
  type NamedSet,
  type Rule,
  setNames,
} from "./ruleset-model.js";
import type { Family } from "./state.js";

export function staticSets(f: Family): NamedSet[] {
  const a = addrType(f);
  const set = (name: string, type: string[], flags: string[] = [], map = false): NamedSet => ({
    name,
    type,
    flags,
    dynamic: false,
    map,
    elements: [],
  });
  return [
    set(setNames.frontends(f), [a, "inet_proto", "inet_service"], [], true),
    {
      ...set(setNames.targets(f), [a, "inet_proto", "inet_service", "integer", a, "inet_service"], [], true),
      typeof: `${fam(f)} daddr . meta l4proto . th dport . numgen random mod 2 : ${fam(f)} daddr . th dport`,
    },
    set(setNames.noEndpoints(f), [a, "inet_proto", "inet_service"]),
    set(setNames.served(f), [a, "inet_proto", "inet_service"]),
    set(setNames.owned(f), [a]),
    set(setNames.restricted(f), [a, "inet_proto", "inet_service"]),
    set(setNames.allowed(f), [a, "inet_proto", "inet_service", a], ["interval"]),
    set(setNames.nodes(f), [a]),
    set(setNames.hairpin(f), [a, a]),
  ];
}

export function staticChains(): Chain[] {
  const families: Family[] = [4, 6];
  // Rejects sit in a filter chain at prerouting: in the forward hook the kernel sends no
  // ICMP error for a packet it would redirect (address in the subnet it came from, the
  // usual case for a LAN address), so UDP clients would wait instead of being refused.
  // Rejecting in prerouting needs Linux 5.13 or later, as kube-proxy's nftables mode does.
  const rejectUnserved = families.flatMap((f): Rule[] => [
    {
      match: [
        { kind: "ctStateNew" },
        { kind: "lookup", family: f, fields: frontendKey, set: setNames.noEndpoints(f) },
      ],
      statements: [{ kind: "goto", chain: "reject-service" }],
      comment: "no ready endpoint",
    },
    ...(["tcp", "udp"] as const).map(
      (protocol): Rule => ({
        match: [
          { kind: "ctStateNew" },
          { kind: "lookup", family: f, fields: ["daddr"], set: setNames.owned(f) },
          { kind: "l4proto", protocol },
          { kind: "lookup", family: f, fields: frontendKey, set: setNames.served(f), negate: true },
        ],
        statements: [{ kind: "goto", chain: "reject-service" }],
        comment: "port not forwarded",
      }),
    ),
  ]);
  return [
    {
      name: "prerouting",
      hook: { type: "nat", hook: "prerouting", priority: "dstnat - 10" },
      rules: families.flatMap((f): Rule[] => [
        {
          match: [
            { kind: "lookup", family: f, fields: frontendKey, set: setNames.restricted(f) },
            {
              kind: "lookup",
              family: f,
              fields: [...frontendKey, "saddr"],
              set: setNames.allowed(f),
              negate: true,
            },
          ],
          statements: [{ kind: "drop" }],
          comment: "loadBalancerSourceRanges",
        },
        {
          match: [],
          statements: [{ kind: "vmap", family: f, fields: frontendKey, map: setNames.frontends(f) }],
        },
      ]),
    },
    {
      name: "postrouting",
      hook: { type: "nat", hook: "postrouting", priority: "srcnat - 10" },
      rules: families.flatMap((f): Rule[] => [
        {
          match: [
            { kind: "ctStatusDnat" },
            { kind: "lookup", family: f, fields: ["ctOriginalDaddr"], set: setNames.owned(f) },
            { kind: "lookup", family: f, fields: ["daddr"], set: setNames.nodes(f) },
          ],
          statements: [{ kind: "masquerade" }],
          comment: "to another node's NodePort",
        },
        {
          match: [
            { kind: "ctStatusDnat" },
            { kind: "lookup", family: f, fields: ["ctOriginalDaddr"], set: setNames.owned(f) },
            { kind: "lookup", family: f, fields: ["saddr", "daddr"], set: setNames.hairpin(f) },
          ],
          statements: [{ kind: "masquerade" }],
          comment: "hairpin: a pod reaching itself",
        },
      ]),
    },
    {
      name: "filter-prerouting",
      hook: { type: "filter", hook: "prerouting", priority: "dstnat - 20" },
      rules: rejectUnserved,
    },
    {
      name: "reject-service",
      rules: [
        {
          match: [{ kind: "l4proto", protocol: "tcp" }],
          statements: [{ kind: "reject", with: "tcp reset" }],
        },
        { match: [], statements: [{ kind: "reject", with: "icmpx port-unreachable" }] },
      ],
    },
  ];
}

// Allocator behaviour as tables of steps that share one allocator, in order:
// each row acts and states what the Service then holds, written
// "pool addr,addr" (or "none") plus "!Reason" when something was refused and
// ">ns/x" for each later holder that must move because of the change.
import { Allocator, type AssignResult } from "../../src/domain/allocator.js";
import { pool, svc } from "./fixtures.js";

type Row = [string, (a: Allocator) => AssignResult | string | readonly string[], string | string[]];

function show(x: AssignResult | string | readonly string[]): string | readonly string[] {
  if (typeof x === "string" || !("assignment" in x)) return x;
  const held = x.assignment ? `${x.assignment.pool} ${x.assignment.addresses.join(",")}` : "none";
  const moved = (x.displaced ?? []).map((k) => ` >${k}`).join("");
  return `${x.refusal ? `${held} !${x.refusal.reason}` : held}${moved}`;
}

function table(title: string, setup: (a: Allocator) => void, rows: Row[]): void {
  describe(title, () => {
    const a = new Allocator();
    setup(a);
    test.each(rows)("%s", (_name, act, want) => {
      expect(show(act(a))).toEqual(want);
    });
  });
}

table("basic assignment, lowest free first", (a) => a.setPools([pool("lan", ["192.0.2.0/30"])]), [
  ["s1 gets the lowest address", (a) => a.assign(svc("ns/s1")), "lan 192.0.2.0"],
  ["s1 idempotent reassign", (a) => a.assign(svc("ns/s1")), "lan 192.0.2.0"],
  ["s1 reassign reports no change", (a) => String(a.assign(svc("ns/s1")).changed), "false"],
  ["s2 gets the next", (a) => a.assign(svc("ns/s2")), "lan 192.0.2.1"],
  ["s3", (a) => a.assign(svc("ns/s3")), "lan 192.0.2.2"],
  ["s4 takes the last", (a) => a.assign(svc("ns/s4")), "lan 192.0.2.3"],
  ["s5 finds the pool exhausted", (a) => a.assign(svc("ns/s5")), "none !PoolExhausted"],
  [
    "counts say full",
    (a) => JSON.stringify(a.counts("lan")?.IPv4, big),
    '{"total":"4","assigned":"4","available":"0"}',
  ],
  [
    "s2 released",
    (a) => {
      a.release("ns/s2");
      return "ok";
    },
    "ok",
  ],
  ["s5 retried gets s2's old address", (a) => a.assign(svc("ns/s5")), "lan 192.0.2.1"],
  [
    "s2 can't grab s1's address",
    (a) => a.assign(svc("ns/s2", { requestedAddresses: ["192.0.2.0"] })),
    "none !AddressInUse",
  ],
  [
    "releasing an unknown Service is fine",
    (a) => {
      a.release("ns/nobody");
      return "ok";
    },
    "ok",
  ],
]);

table(
  "pool order: priority, autoAssign, disabled, avoidBuggyIPs",
  (a) =>
    a.setPools([
      pool("zeta", ["198.51.100.0/24"], { avoidBuggyIPs: true }),
      pool("first", ["192.0.2.10"], { allocation: { priority: 1 } }),
      pool("manual", ["203.0.113.0/28"], { autoAssign: false }),
      pool("off", ["203.0.113.100/30"], { disabled: true }),
      pool("second", ["192.0.2.20"], { allocation: { priority: 2 } }),
    ]),
  [
    ["priority 1 first", (a) => a.assign(svc("ns/a")), "first 192.0.2.10"],
    ["then priority 2", (a) => a.assign(svc("ns/b")), "second 192.0.2.20"],
    ["then unprioritised pools by name, skipping .0", (a) => a.assign(svc("ns/c")), "zeta 198.51.100.1"],
    [
      "autoAssign:false only when named",
      (a) => a.assign(svc("ns/d", { requestedPool: "manual" })),
      "manual 203.0.113.0",
    ],
    [
      "autoAssign:false by address",
      (a) => a.assign(svc("ns/e", { requestedAddresses: ["203.0.113.5"] })),
      "manual 203.0.113.5",
    ],
    [
      "a disabled pool gives nothing new",
      (a) => a.assign(svc("ns/f", { requestedPool: "off" })),
      "none !PoolDisabled",
    ],
    [
      "nor by address",
      (a) => a.assign(svc("ns/g", { requestedAddresses: ["203.0.113.101"] })),
      "none !PoolDisabled",
    ],
    [
      "avoided .255 refused by address",
      (a) => a.assign(svc("ns/h", { requestedAddresses: ["198.51.100.255"] })),
      "none !AvoidedAddress",
    ],
    ["an unknown pool", (a) => a.assign(svc("ns/i", { requestedPool: "nope" })), "none !PoolNotFound"],
  ],
);

table(
  "requests: exactly that address or none",
  (a) => a.setPools([pool("v4", ["192.0.2.0/28"]), pool("v6", ["2001:db8::/124"])]),
  [
    ["in a pool", (a) => a.assign(svc("ns/a", { requestedAddresses: ["192.0.2.9"] })), "v4 192.0.2.9"],
    ["not text", (a) => a.assign(svc("ns/b", { requestedAddresses: ["192.0.2.x"] })), "none !InvalidAddress"],
    [
      "out of every pool",
      (a) => a.assign(svc("ns/b", { requestedAddresses: ["203.0.113.1"] })),
      "none !NotInAnyPool",
    ],
    ["taken", (a) => a.assign(svc("ns/b", { requestedAddresses: ["192.0.2.9"] })), "none !AddressInUse"],
    [
      "wrong family for a single-stack IPv4 Service",
      (a) => a.assign(svc("ns/b", { requestedAddresses: ["2001:db8::3"] })),
      "none !WrongFamily",
    ],
    [
      "two of one family",
      (a) => a.assign(svc("ns/b", { requestedAddresses: ["192.0.2.1", "192.0.2.2"] })),
      "none !WrongFamily",
    ],
    [
      "outside the named pool",
      (a) => a.assign(svc("ns/b", { requestedAddresses: ["192.0.2.1"], requestedPool: "v6" })),
      "none !NotInRequestedPool",
    ],
    ["the lowest free still skips the requested one", (a) => a.assign(svc("ns/c")), "v4 192.0.2.0"],
    [
      "changing the request moves a",
      (a) => a.assign(svc("ns/a", { requestedAddresses: ["192.0.2.10"] })),
      "v4 192.0.2.10",
    ],
    ["and frees the old one", (a) => a.holdersOf("192.0.2.9"), []],
    [
      "a failed change leaves a with nothing",
      (a) => a.assign(svc("ns/a", { requestedAddresses: ["192.0.2.0"] })),
      "none !AddressInUse",
    ],
    [
      "requests in different pools",
      (a) =>
        a.assign(
          svc("ns/d", {
            families: ["IPv4", "IPv6"],
            familyPolicy: "RequireDualStack",
            requestedAddresses: ["192.0.2.3", "2001:db8::3"],
          }),
        ),
      "none !PoolMismatch",
    ],
    [
      "canonical text is what counts",
      (a) => a.assign(svc("ns/e", { requestedAddresses: [" 192.0.2.4 "] })),
      "v4 192.0.2.4",
    ],
    [
      "and stays put when asked the same way",
      (a) => String(a.assign(svc("ns/e", { requestedAddresses: ["192.0.2.4"] })).changed),
      "false",
    ],
  ],
);

table(
  "tenant boundary holds for requests too",
  (a) =>
    a.setPools([
      pool("team-a", ["192.0.2.0/29"], { allocation: { namespaces: ["a"] } }),
      pool("labelled", ["192.0.2.8/29"], {
        allocation: { namespaceSelector: { matchLabels: { tenant: "b" } } },
      }),
      pool("web", ["192.0.2.16/29"], {
        allocation: {
          serviceSelector: { matchExpressions: [{ key: "tier", operator: "In", values: ["web"] }] },
        },
      }),
    ]),
  [
    ["a/s gets team-a's", (a) => a.assign(svc("a/s")), "team-a 192.0.2.0"],
    ["c/s gets no pool", (a) => a.assign(svc("c/s")), "none !NoPoolAllowed"],
    [
      "c/s cannot ask for team-a's address",
      (a) => a.assign(svc("c/s", { requestedAddresses: ["192.0.2.3"] })),
      "none !PoolNotAllowed",
    ],
    ["nor for the pool", (a) => a.assign(svc("c/s", { requestedPool: "team-a" })), "none !PoolNotAllowed"],
    [
      "namespace selected by label",
      (a) => a.assign(svc("b/s", { namespaceLabels: { tenant: "b" } })),
      "labelled 192.0.2.8",
    ],
    ["service selected by label", (a) => a.assign(svc("c/w", { labels: { tier: "web" } })), "web 192.0.2.16"],
    ["labels removed: moves out", (a) => a.assign(svc("c/w")), "none !NoPoolAllowed"],
  ],
);

table("sharing", (a) => a.setPools([pool("lan", ["192.0.2.0/29"])]), [
  ["s1 with key k", (a) => a.assign(svc("ns/s1", { sharingKey: "k" })), "lan 192.0.2.0"],
  [
    "s2 same key, other port: joins s1",
    (a) => a.assign(svc("ns/s2", { sharingKey: "k", ports: [{ protocol: "TCP", port: 443 }] })),
    "lan 192.0.2.0",
  ],
  ["both hold it", (a) => [...a.holdersOf("192.0.2.0")], ["ns/s1", "ns/s2"]],
  [
    "s3 same key, same port: own address",
    (a) => a.assign(svc("ns/s3", { sharingKey: "k" })),
    "lan 192.0.2.1",
  ],
  [
    "s4 asks for s1's address with port 80",
    (a) => a.assign(svc("ns/s4", { sharingKey: "k", requestedAddresses: ["192.0.2.0"] })),
    "none !SharingPortConflict",
  ],
  [
    "s4 with UDP 80 is fine",
    (a) =>
      a.assign(
        svc("ns/s4", {
          sharingKey: "k",
          requestedAddresses: ["192.0.2.0"],
          ports: [{ protocol: "UDP", port: 80 }],
        }),
      ),
    "lan 192.0.2.0",
  ],
  [
    "other key refused",
    (a) =>
      a.assign(
        svc("ns/s5", {
          sharingKey: "other",
          requestedAddresses: ["192.0.2.0"],
          ports: [{ protocol: "TCP", port: 9 }],
        }),
      ),
    "none !AddressInUse",
  ],
  [
    "Local vs Cluster refused",
    (a) =>
      a.assign(
        svc("ns/s5", {
          sharingKey: "k",
          backendKey: "app=x",
          requestedAddresses: ["192.0.2.0"],
          ports: [{ protocol: "TCP", port: 9 }],
        }),
      ),
    "none !SharingBackendConflict",
  ],
  [
    "s2 takes UDP 80, which s4 joined with later: s2 keeps the address, s4 must move",
    (a) => a.assign(svc("ns/s2", { sharingKey: "k", ports: [{ protocol: "UDP", port: 80 }] })),
    "lan 192.0.2.0 >ns/s4",
  ],
  [
    "s4 asked for exactly that address: refused now",
    (a) =>
      a.assign(
        svc("ns/s4", {
          sharingKey: "k",
          requestedAddresses: ["192.0.2.0"],
          ports: [{ protocol: "UDP", port: 80 }],
        }),
      ),
    "none !SharingPortConflict",
  ],
  ["s1 drops its key while shared: moves", (a) => a.assign(svc("ns/s1")), "lan 192.0.2.2"],
  [
    "s2 alone now, may change key in place",
    (a) => a.assign(svc("ns/s2", { sharingKey: "new", ports: [{ protocol: "UDP", port: 80 }] })),
    "lan 192.0.2.0",
  ],
  [
    "released when the last holder goes",
    (a) => {
      a.release("ns/s2");
      return a.holdersOf("192.0.2.0");
    },
    [],
  ],
]);

table(
  "a tenant in another namespace copies the sharing key (a readable annotation)",
  (a) =>
    a.setPools([
      pool("lan", ["192.0.2.0/29"]),
      pool("shared", ["198.51.100.0/29"], { allocation: { allowSharingAcrossNamespaces: true } }),
    ]),
  [
    [
      "shop/web holds an address with key k",
      (a) => a.assign(svc("shop/web", { sharingKey: "k" })),
      "lan 192.0.2.0",
    ],
    [
      "evil/copy with the same key, another port, asking for it: refused",
      (a) =>
        a.assign(
          svc("evil/copy", {
            sharingKey: "k",
            requestedAddresses: ["192.0.2.0"],
            ports: [{ protocol: "TCP", port: 443 }],
          }),
        ),
      "none !SharingNamespaceConflict",
    ],
    [
      "nor does it join automatically: an address of its own",
      (a) => a.assign(svc("evil/copy", { sharingKey: "k", ports: [{ protocol: "TCP", port: 443 }] })),
      "lan 192.0.2.1",
    ],
    ["shop/web alone holds its address", (a) => [...a.holdersOf("192.0.2.0")], ["shop/web"]],
    [
      "shop/web adds port 443 (evil/copy's): keeps its address",
      (a) =>
        a.assign(
          svc("shop/web", {
            sharingKey: "k",
            ports: [
              { protocol: "TCP", port: 80 },
              { protocol: "TCP", port: 443 },
            ],
          }),
        ),
      "lan 192.0.2.0",
    ],
    [
      "a pool that opts in lets two namespaces share",
      (a) => a.assign(svc("shop/api", { sharingKey: "s", requestedPool: "shared" })),
      "shared 198.51.100.0",
    ],
    [
      "blog/api joins it",
      (a) =>
        a.assign(
          svc("blog/api", {
            sharingKey: "s",
            requestedPool: "shared",
            ports: [{ protocol: "TCP", port: 443 }],
          }),
        ),
      "shared 198.51.100.0",
    ],
    [
      "there too shop/api, the first holder, is not moved by a port blog/api took later: blog/api moves",
      (a) =>
        a.assign(
          svc("shop/api", {
            sharingKey: "s",
            requestedPool: "shared",
            ports: [
              { protocol: "TCP", port: 80 },
              { protocol: "TCP", port: 443 },
            ],
          }),
        ),
      "shared 198.51.100.0 >blog/api",
    ],
    [
      "blog/api assigned again gets an address of its own",
      (a) =>
        a.assign(
          svc("blog/api", {
            sharingKey: "s",
            requestedPool: "shared",
            ports: [{ protocol: "TCP", port: 443 }],
          }),
        ),
      "shared 198.51.100.1",
    ],
    [
      "even an opted-in pool keeps Local Services of two namespaces apart (their Pods differ)",
      (a) => {
        a.assign(svc("shop/l", { sharingKey: "l", requestedPool: "shared", backendKey: "app=x" }));
        return a.assign(
          svc("blog/l", {
            sharingKey: "l",
            requestedPool: "shared",
            backendKey: "app=x",
            requestedAddresses: ["198.51.100.2"],
            ports: [{ protocol: "TCP", port: 81 }],
          }),
        );
      },
      "none !SharingBackendConflict",
    ],
    [
      "the pool stops allowing it: the later holder from the other namespace is displaced",
      (a) => {
        a.assign(
          svc("blog/x", {
            sharingKey: "s",
            requestedPool: "shared",
            ports: [{ protocol: "TCP", port: 8080 }],
          }),
        );
        return a.setPools([pool("lan", ["192.0.2.0/29"]), pool("shared", ["198.51.100.0/29"])]);
      },
      ["blog/x"],
    ],
  ],
);

table(
  "two Local Services share only with the same selector",
  (a) => a.setPools([pool("lan", ["192.0.2.0/30"])]),
  [
    [
      "l1 Local app=x",
      (a) => a.assign(svc("ns/l1", { sharingKey: "k", backendKey: "app=x" })),
      "lan 192.0.2.0",
    ],
    [
      "l2 Local app=x joins",
      (a) =>
        a.assign(
          svc("ns/l2", { sharingKey: "k", backendKey: "app=x", ports: [{ protocol: "TCP", port: 81 }] }),
        ),
      "lan 192.0.2.0",
    ],
    [
      "l3 Local app=y gets its own",
      (a) =>
        a.assign(
          svc("ns/l3", { sharingKey: "k", backendKey: "app=y", ports: [{ protocol: "TCP", port: 82 }] }),
        ),
      "lan 192.0.2.1",
    ],
  ],
);

table(
  "dual-stack",
  (a) =>
    a.setPools([
      pool("v4only", ["192.0.2.0/30"], { allocation: { priority: 1 } }),
      pool("dual", ["198.51.100.0/30", "2001:db8::/126"], { allocation: { priority: 2 } }),
      pool("v6only", ["2001:db8:1::/126"], { allocation: { priority: 3 } }),
    ]),
  [
    [
      "SingleStack IPv6 skips the IPv4 pool",
      (a) => a.assign(svc("ns/a", { families: ["IPv6"] })),
      "dual 2001:db8::",
    ],
    [
      "RequireDualStack needs one pool with both",
      (a) => a.assign(svc("ns/b", { families: ["IPv4", "IPv6"], familyPolicy: "RequireDualStack" })),
      "dual 198.51.100.0,2001:db8::1",
    ],
    [
      "family order follows ipFamilies",
      (a) => a.assign(svc("ns/c", { families: ["IPv6", "IPv4"], familyPolicy: "RequireDualStack" })),
      "dual 2001:db8::2,198.51.100.1",
    ],
    [
      "PreferDualStack takes both when it can",
      (a) => a.assign(svc("ns/d", { families: ["IPv4", "IPv6"], familyPolicy: "PreferDualStack" })),
      "dual 198.51.100.2,2001:db8::3",
    ],
    [
      "dual's IPv6 is now full: RequireDualStack refused",
      (a) => a.assign(svc("ns/e", { families: ["IPv4", "IPv6"], familyPolicy: "RequireDualStack" })),
      "none !PoolExhausted",
    ],
    [
      "PreferDualStack falls back to the primary family",
      (a) => a.assign(svc("ns/f", { families: ["IPv4", "IPv6"], familyPolicy: "PreferDualStack" })),
      "v4only 192.0.2.0",
    ],
    [
      "a single-stack Service turning dual keeps its address",
      (a) => {
        a.assign(svc("ns/g", { families: ["IPv4"] }));
        return a.assign(svc("ns/g", { families: ["IPv4", "IPv6"], familyPolicy: "PreferDualStack" }));
      },
      "v4only 192.0.2.1",
    ],
    [
      "... and says why it got no IPv6 when it requires it",
      (a) => a.assign(svc("ns/g", { families: ["IPv4", "IPv6"], familyPolicy: "RequireDualStack" })),
      "v4only 192.0.2.1 !DualStackUnavailable",
    ],
    [
      "going back to single stack drops the second family",
      (a) => a.assign(svc("ns/d", { families: ["IPv4"] })),
      "dual 198.51.100.2",
    ],
    [
      "which frees 2001:db8::3 for the next one",
      (a) => a.assign(svc("ns/h", { families: ["IPv6"] })),
      "dual 2001:db8::3",
    ],
  ],
);

table(
  "adding the missing family later keeps the existing address",
  (a) => a.setPools([pool("dual", ["192.0.2.0/30", "2001:db8::/126"])]),
  [
    ["IPv4 only first", (a) => a.assign(svc("ns/a")), "dual 192.0.2.0"],
    [
      "then dual: same IPv4 plus IPv6",
      (a) => a.assign(svc("ns/a", { families: ["IPv4", "IPv6"], familyPolicy: "RequireDualStack" })),
      "dual 192.0.2.0,2001:db8::",
    ],
  ],
);

function big(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

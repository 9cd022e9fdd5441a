import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, test } from "@jest/globals";
import { ForwardingApplier } from "../../../src/speaker/forward/applier.js";
import type { ForwardingEvent } from "../../../src/speaker/forward/applier-options.js";
import type { ExecResult } from "../../../src/speaker/forward/nft.js";
import { MAX_UNTRANSLATED_CLEANUPS } from "../../../src/speaker/forward/stale.js";
import { FakeClock } from "../../clock.js";
import { manyServices, mixedState, service, state } from "./fixtures.js";

/** nft as seen from outside: what was sent, and scripted answers. */
class FakeNft {
  calls: Array<{ args: readonly string[]; stdin: string }> = [];
  failNext = 0;
  listing: ExecResult = { code: 0, stdout: "", stderr: "" };
  chains: ExecResult = { code: 0, stdout: "", stderr: "" };
  /** A transaction (or check) whose text this matches is refused, as the kernel refuses a bad element. */
  refuses: (text: string) => boolean = () => false;
  exec = async (args: readonly string[], stdin?: string): Promise<ExecResult> => {
    this.calls.push({ args, stdin: stdin ?? "" });
    if (args[0] === "list") return args[1] === "chains" ? this.chains : this.listing;
    if (this.refuses(stdin ?? ""))
      return { code: 1, stdout: "", stderr: "Error: Could not process rule: File exists" };
    if (args[0] === "-c") return { code: 0, stdout: "", stderr: "" };
    if (this.failNext > 0) {
      this.failNext--;
      return { code: 1, stdout: "", stderr: "Error: Could not process rule: Operation not permitted" };
    }
    return { code: 0, stdout: "", stderr: "" };
  };
  get transactions() {
    return this.calls.filter((c) => c.args[0] === "-f").map((c) => c.stdin);
  }
  get checks() {
    return this.calls.filter((c) => c.args[0] === "-c").length;
  }
}

let clock: FakeClock;
let nft: FakeNft;
let events: ForwardingEvent[];
let applier: ForwardingApplier;
/** The `conntrack -D` calls made; `-L -f ipv4` lists {@link conntrackTable} (empty unless a test fills it). */
let conntrackCalls: string[][];
let conntrackTable: string;

/** The deletion of the unanswered TCP connections sent to `nodePort` and translated to `address`. */
const synSentDeletion = (nodePort: number, address: string) => [
  "-D",
  "-f",
  address.includes(":") ? "ipv6" : "ipv4",
  "-p",
  "tcp",
  "--orig-port-dst",
  String(nodePort),
  "--reply-src",
  address,
  "--state",
  "SYN_SENT",
];

beforeEach(() => {
  clock = new FakeClock();
  nft = new FakeNft();
  events = [];
  conntrackCalls = [];
  conntrackTable = "";
  applier = new ForwardingApplier({
    exec: nft.exec,
    conntrack: async (args) => {
      if (args[0] === "-L") return { code: 0, stdout: args[2] === "ipv4" ? conntrackTable : "", stderr: "" };
      conntrackCalls.push([...args]);
      return {
        code: 1,
        stdout: "",
        stderr: "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.",
      };
    },
    clock,
    onEvent: (e) => events.push(e),
    options: {
      coalesceMs: 100,
      retryInitialMs: 500,
      retryMaxMs: 4000,
      driftIntervalMs: 2000,
      driftFullEvery: 1,
    },
  });
});

test("writes nothing before it knows the desired state (a restart keeps the old rules)", async () => {
  applier.start();
  await clock.advanceAsync(10_000);
  expect(nft.calls).toEqual([]);
});

test("a burst of 1,000 Service updates becomes a handful of transactions, ending at the last state", async () => {
  applier.start();
  const all = manyServices(1000).services;
  for (let i = 1; i <= all.length; i++) {
    applier.update(state(...all.slice(0, i)));
    if (i % 100 === 0) await clock.advanceAsync(20);
  }
  await clock.advanceAsync(1000);
  expect(nft.transactions.length).toBeGreaterThanOrEqual(1);
  expect(nft.transactions.length).toBeLessThanOrEqual(5);
  const last = all[999];
  const everything = nft.transactions.join("\n");
  expect(everything).toContain(
    `${last?.addresses[0]} . ${last?.ports[0]?.protocol.toLowerCase()} . ${last?.ports[0]?.port} . 0 : `,
  );
});

test("the first transaction replaces the table; later ones change only what changed", async () => {
  applier.start();
  applier.update(mixedState());
  await clock.advanceAsync(200);
  const s = mixedState();
  s.services[0]?.localEndpoints.push("198.51.100.9");
  applier.update(s);
  await clock.advanceAsync(200);
  const [first, second] = nft.transactions;
  expect(first?.startsWith("table inet herald {}\ndelete table inet herald\n")).toBe(true);
  expect(second).toContain(
    "add element inet herald targets-v4 { 192.0.2.10 . tcp . 80 . 2 : 198.51.100.9 . 8080",
  );
  expect(second).not.toContain("delete table");
  expect(applier.stats.transactions).toEqual({ full: 1, update: 1 });
});

test("an update that changes nothing sends nothing", async () => {
  applier.start();
  applier.update(mixedState());
  await clock.advanceAsync(200);
  applier.update(mixedState());
  await clock.advanceAsync(200);
  expect(nft.transactions).toHaveLength(1);
});

test("a removed target's UDP flows and unanswered TCP connections are forgotten; kept targets are left alone", async () => {
  applier.start();
  applier.update(mixedState());
  await clock.advanceAsync(200);
  const s = mixedState();
  const web = s.services[0];
  if (!web) throw new Error("fixture");
  // 198.51.100.5 leaves web but stays a target of sticky; 2001:db8::12 leaves every frontend.
  s.services[0] = { ...web, localEndpoints: ["2001:db8:2::5"], remoteNodes: ["192.0.2.12"] };
  applier.update(s);
  await clock.advanceAsync(200);
  expect(conntrackCalls).toEqual([
    [
      "-D",
      "-f",
      "ipv4",
      "-p",
      "udp",
      "--orig-dst",
      "192.0.2.10",
      "--orig-port-dst",
      "80",
      "--reply-src",
      "198.51.100.5",
      "--reply-port-src",
      "8081",
    ],
    [
      "-D",
      "-f",
      "ipv6",
      "-p",
      "udp",
      "--orig-dst",
      "2001:db8::10",
      "--orig-port-dst",
      "80",
      "--reply-src",
      "2001:db8::12",
      "--reply-port-src",
      "30081",
    ],
    // Only connections it never answered: a node still alive keeps its established ones.
    ["-D", "-f", "ipv6", "-p", "tcp", "--reply-src", "2001:db8::12", "--state", "SYN_SENT"],
  ]);
  expect(events.some((e) => e.type === "conntrackFailed")).toBe(false);
});

test("a new frontend's untranslated entries are forgotten after its rules are in, the old frontends' are not", async () => {
  applier.start();
  applier.update(mixedState());
  await clock.advanceAsync(200);
  expect(conntrackCalls).toEqual([]);
  const s = mixedState();
  s.services.push(
    service({
      name: "default/new",
      addresses: ["2001:db8::20"],
      ports: [{ protocol: "UDP", port: 53, nodePort: 30053, targetPort: 5353 }],
      localEndpoints: ["2001:db8:2::5"],
    }),
  );
  applier.update(s);
  await clock.advanceAsync(200);
  expect(nft.transactions).toHaveLength(2);
  expect(conntrackCalls).toEqual([
    [
      "-D",
      "-f",
      "ipv6",
      "-p",
      "udp",
      "--orig-dst",
      "2001:db8::20",
      "--orig-port-dst",
      "53",
      "--reply-src",
      "2001:db8::20",
    ],
  ]);
  expect(events.some((e) => e.type === "conntrackFailed")).toBe(false);
});

test("a burst of new frontends is cleaned up after only so far, and the rest is said", async () => {
  applier.start();
  applier.update(state());
  await clock.advanceAsync(200);
  applier.update(manyServices(MAX_UNTRANSLATED_CLEANUPS + 6));
  await clock.advanceAsync(200);
  expect(conntrackCalls).toHaveLength(MAX_UNTRANSLATED_CLEANUPS);
  expect(events.filter((e) => e.type === "untranslatedNotForgotten")).toEqual([
    { type: "untranslatedNotForgotten", frontends: 6 },
  ]);
});

test("an endpoint that left a NodePort: its unanswered TCP connections are forgotten at once and again later", async () => {
  applier.start();
  const s = state();
  const behind = (...addresses: string[]) => ({
    ...s,
    nodePortEndpoints: addresses.map((address) => ({ nodePort: 31413, address })),
  });
  applier.update(behind("198.51.100.2", "198.51.100.6", "2001:db8:10::6"));
  await clock.advanceAsync(200);
  expect(conntrackCalls).toEqual([]);
  applier.update(behind("198.51.100.2"));
  await clock.advanceAsync(200);
  const both = [synSentDeletion(31413, "198.51.100.6"), synSentDeletion(31413, "2001:db8:10::6")];
  expect(conntrackCalls).toEqual(both);
  // kube-proxy may translate to it until its next sync: the entries made meanwhile go too.
  await clock.advanceAsync(2_000);
  expect(conntrackCalls).toEqual([...both, ...both]);
  // An endpoint that came back is left alone.
  applier.update(behind("198.51.100.2", "198.51.100.6"));
  await clock.advanceAsync(60_000);
  expect(conntrackCalls).toEqual([...both, ...both, ...[2, 3].flatMap(() => [both[1]])]);
  expect(events.some((e) => e.type === "conntrackFailed")).toBe(false);
});

test("at its first NodePort endpoints, unanswered connections to an endpoint gone before it started are forgotten", async () => {
  // What the table holds when a speaker comes back: one client still trying the Pod deleted
  // while it was down (twice, from two ports), one mid-handshake with a live Pod, one to a
  // port no endpoint of ours is behind.
  conntrackTable = [
    "tcp      6 117 SYN_SENT src=192.0.2.100 dst=192.0.2.11 sport=40081 dport=31413 [UNREPLIED] src=198.51.100.9 dst=192.0.2.100 sport=8080 dport=40081 mark=0 use=1",
    "tcp      6 118 SYN_SENT src=192.0.2.101 dst=192.0.2.11 sport=40082 dport=31413 [UNREPLIED] src=198.51.100.9 dst=192.0.2.101 sport=8080 dport=40082 mark=0 use=1",
    "tcp      6 119 SYN_SENT src=192.0.2.102 dst=192.0.2.11 sport=40083 dport=31413 [UNREPLIED] src=198.51.100.6 dst=192.0.2.102 sport=8080 dport=40083 mark=0 use=1",
    "tcp      6 119 SYN_SENT src=192.0.2.103 dst=192.0.2.11 sport=40084 dport=32000 [UNREPLIED] src=198.51.100.7 dst=192.0.2.103 sport=8080 dport=40084 mark=0 use=1",
  ].join("\n");
  applier.start();
  const s = state();
  applier.update(s);
  await clock.advanceAsync(200);
  expect(conntrackCalls).toEqual([]);
  applier.update({ ...s, nodePortEndpoints: [{ nodePort: 31413, address: "198.51.100.6" }] });
  await clock.advanceAsync(200);
  const forgotten = synSentDeletion(31413, "198.51.100.9");
  expect(conntrackCalls).toEqual([forgotten]);
  await clock.advanceAsync(2_000);
  expect(conntrackCalls).toEqual([forgotten, forgotten]);
  // Once: later updates do not list the table again.
  conntrackTable = conntrackTable.replaceAll("31413", "31414");
  applier.update({ ...s, nodePortEndpoints: [{ nodePort: 31414, address: "198.51.100.6" }] });
  await clock.advanceAsync(120_000);
  expect(conntrackCalls.filter((c) => c.includes("31414"))).toEqual([]);
  expect(events.some((e) => e.type === "conntrackFailed")).toBe(false);
});

test("forgetting stops with the applier", async () => {
  applier.start();
  const s = state();
  applier.update({ ...s, nodePortEndpoints: [{ nodePort: 30080, address: "198.51.100.6" }] });
  await clock.advanceAsync(200);
  applier.update({ ...s, nodePortEndpoints: [] });
  await clock.advanceAsync(200);
  expect(conntrackCalls).toHaveLength(1);
  await applier.stop();
  await clock.advanceAsync(120_000);
  expect(conntrackCalls).toHaveLength(1);
});

describe("failures", () => {
  test("are reported with a code and retried with growing delays, then applied whole", async () => {
    nft.failNext = 3;
    applier.start();
    applier.update(mixedState());
    await clock.advanceAsync(100);
    await clock.advanceAsync(499);
    expect(nft.transactions).toHaveLength(1);
    await clock.advanceAsync(1 + 1000 + 2000);
    expect(nft.transactions).toHaveLength(4);
    const failed = events.filter((e) => e.type === "applyFailed");
    expect(failed.map((e) => e.type === "applyFailed" && [e.code, e.attempt, e.retryInMs])).toEqual([
      ["NFT_APPLY_FAILED", 1, 500],
      ["NFT_APPLY_FAILED", 2, 1000],
      ["NFT_APPLY_FAILED", 3, 2000],
    ]);
    expect(events.at(-1)).toMatchObject({ type: "applied", mode: "full" });
    expect(applier.stats.failures).toBe(3);
  });

  test("an incremental update that fails is retried as a full replacement", async () => {
    applier.start();
    applier.update(mixedState());
    await clock.advanceAsync(200);
    nft.failNext = 1;
    applier.update(state(service({ localEndpoints: ["198.51.100.5"] })));
    await clock.advanceAsync(200);
    await clock.advanceAsync(500);
    expect(events.filter((e) => e.type !== "applied" || e.mode === "full").map((e) => e.type)).toEqual([
      "applied",
      "applyFailed",
      "applied",
    ]);
    expect(nft.transactions.at(-1)?.startsWith("table inet herald {}")).toBe(true);
  });

  test("exec itself throwing counts as a failure, not a crash", async () => {
    const throwing = new ForwardingApplier({
      exec: async () => {
        throw new Error("spawn nft ENOENT");
      },
      conntrack: nft.exec,
      clock,
      onEvent: (e) => events.push(e),
    });
    throwing.start();
    throwing.update(mixedState());
    await clock.advanceAsync(200);
    expect(events[0]).toMatchObject({ type: "applyFailed", message: "spawn nft ENOENT" });
    await throwing.stop();
  });
});

describe("a Service whose rules the kernel refuses", () => {
  const bad = "192.0.2.66";
  const services = () =>
    state(
      ...Array.from({ length: 40 }, (_, i) =>
        service({
          name: `ns${i}/svc`,
          addresses: [i === 17 ? bad : `203.0.113.${i + 1}`],
          localEndpoints: ["198.51.100.5"],
        }),
      ),
    );
  const inTable = (name: string) =>
    nft.transactions.at(-1)?.includes(`203.0.113.${Number(name.slice(2)) + 1} . tcp . 80`) ?? false;

  beforeEach(() => {
    nft.refuses = (text) => text.includes(`${bad} . tcp . 80`);
  });

  test("is found by checks, left out, and every other Service is applied in the same sync", async () => {
    applier.start();
    applier.update(services());
    await clock.advanceAsync(100);
    const applied = events.filter((e) => e.type === "applied");
    expect(applied).toHaveLength(1);
    expect(applied[0]).toMatchObject({ frontends: 39 });
    expect(events.filter((e) => e.type === "applyFailed")).toEqual([]);
    expect(events.filter((e) => e.type === "serviceRefused")).toEqual([
      expect.objectContaining({
        service: "ns17/svc",
        code: "NFT_SERVICE_REFUSED",
        attempt: 1,
        retryInMs: 5000,
        message: expect.stringContaining("File exists"),
      }),
    ]);
    expect(inTable("ns0")).toBe(true);
    expect(inTable("ns39")).toBe(true);
    expect(nft.transactions.at(-1)).not.toContain(bad);
    expect([...applier.refusedServices().keys()]).toEqual(["ns17/svc"]);
    // Halving, not one check per Service.
    expect(nft.checks).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(40)) + 2);
  });

  test("other Services' changes go on being applied while it waits", async () => {
    applier.start();
    applier.update(services());
    await clock.advanceAsync(100);
    const s = services();
    s.services[3] = { ...(s.services[3] ?? service()), localEndpoints: ["198.51.100.9"] };
    applier.update(s);
    await clock.advanceAsync(100);
    expect(events.at(-1)).toMatchObject({ type: "applied", mode: "update" });
    expect(nft.transactions.at(-1)).toContain("198.51.100.9");
    expect(events.filter((e) => e.type === "serviceRefused")).toHaveLength(1);
  });

  test("is tried again with growing delays, and comes back once the kernel takes it", async () => {
    applier.start();
    applier.update(services());
    await clock.advanceAsync(100);
    await clock.advanceAsync(5000);
    await clock.advanceAsync(10_000);
    expect(
      events
        .filter((e) => e.type === "serviceRefused")
        .map((e) => e.type === "serviceRefused" && e.retryInMs),
    ).toEqual([5000, 10_000, 20_000]);
    nft.refuses = () => false;
    await clock.advanceAsync(20_000);
    expect(events.at(-2)).toEqual({ type: "serviceRestored", service: "ns17/svc" });
    expect(nft.transactions.at(-1)).toContain(bad);
    expect(applier.refusedServices().size).toBe(0);
  });

  test("still refused at its retry: one small check of it alone, no failed transaction, no search", async () => {
    applier.start();
    applier.update(services());
    await clock.advanceAsync(100);
    const checks = nft.checks;
    const sent = nft.transactions.length;
    await clock.advanceAsync(5000);
    expect(nft.checks - checks).toBe(2); // the skeleton, then the Service alone
    expect(nft.transactions.slice(sent).some((t) => t.includes(bad))).toBe(false);
    expect(events.filter((e) => e.type === "applyFailed")).toEqual([]);
    expect(events.filter((e) => e.type === "serviceRefused")).toHaveLength(2);
  });

  test("a Service that goes away is forgotten", async () => {
    applier.start();
    applier.update(services());
    await clock.advanceAsync(100);
    applier.update(state(...services().services.filter((x) => x.name !== "ns17/svc")));
    await clock.advanceAsync(100);
    expect(applier.refusedServices().size).toBe(0);
  });

  test("a refusal that is no Service's fault stays a failure of the whole, retried", async () => {
    nft.refuses = () => true;
    applier.start();
    applier.update(services());
    await clock.advanceAsync(100);
    expect(events.map((e) => e.type)).toEqual(["applyFailed"]);
    expect(nft.checks).toBe(1);
    expect(applier.refusedServices().size).toBe(0);
  });
});

describe("drift", () => {
  const listing = readFileSync(new URL("./golden/mixed.listing", import.meta.url), "utf8");

  beforeEach(async () => {
    applier.start();
    applier.update(mixedState());
    await clock.advanceAsync(200);
  });

  test("the table as applied (with clients in the affinity sets) is left alone", async () => {
    nft.listing = { code: 0, stdout: listing, stderr: "" };
    await clock.advanceAsync(10_000);
    expect(nft.calls.filter((c) => c.args[0] === "list").length).toBeGreaterThanOrEqual(4);
    expect(nft.transactions).toHaveLength(1);
  });

  test("a deleted table is put back within one check interval", async () => {
    nft.listing = { code: 1, stdout: "", stderr: "Error: No such file or directory\nlist table inet herald" };
    await clock.advanceAsync(2000);
    await clock.advanceAsync(10);
    expect(nft.transactions).toHaveLength(2);
    expect(events.find((e) => e.type === "driftDetected")).toMatchObject({
      reason: "table inet herald is missing",
    });
    expect(applier.stats.driftRepairs).toBe(1);
  });

  test("a flushed chain or a deleted element is repaired whole", async () => {
    for (const broken of [
      listing.replace(/\t\tmeta l4proto tcp dnat ip to 198.51.100.5:8443\n/, ""),
      listing.replace("elements = { 192.0.2.10, 192.0.2.11,", "elements = { 192.0.2.11,"),
    ]) {
      nft.listing = { code: 0, stdout: broken, stderr: "" };
      await clock.advanceAsync(2010);
      nft.listing = { code: 0, stdout: listing, stderr: "" };
    }
    expect(applier.stats.driftRepairs).toBe(2);
    expect(nft.transactions.slice(1).every((t) => t.startsWith("table inet herald {}"))).toBe(true);
  });
});

describe("cheap drift checks between full ones", () => {
  const chains = readFileSync(new URL("./golden/mixed.chains", import.meta.url), "utf8");
  let cheap: ForwardingApplier;

  beforeEach(async () => {
    cheap = new ForwardingApplier({
      exec: nft.exec,
      conntrack: nft.exec,
      clock,
      onEvent: (e) => events.push(e),
      options: { coalesceMs: 100, driftIntervalMs: 2000, driftFullEvery: 1000 },
    });
    cheap.start();
    cheap.update(mixedState());
    await clock.advanceAsync(200);
    nft.listing = { code: 99, stdout: "", stderr: "the full listing is not expected" };
  });

  afterEach(() => cheap.stop());

  test("list only the chains, and leave a table that has them all alone", async () => {
    nft.chains = { code: 0, stdout: chains, stderr: "" };
    await clock.advanceAsync(20_000);
    expect(
      nft.calls.filter((c) => c.args[0] === "list" && c.args[1] === "chains").length,
    ).toBeGreaterThanOrEqual(9);
    expect(nft.transactions).toHaveLength(1);
  });

  test("notice a flushed ruleset (our table gone, others still there)", async () => {
    nft.chains = { code: 0, stdout: chains.replace(/table inet herald \{[\s\S]*?\n\}/, ""), stderr: "" };
    await clock.advanceAsync(2010);
    expect(events.find((e) => e.type === "driftDetected")).toMatchObject({
      reason: "table inet herald is missing",
    });
    expect(nft.transactions).toHaveLength(2);
  });
});

describe("stop", () => {
  test("keeps the table by default, so forwarding survives a restart", async () => {
    applier.start();
    applier.update(mixedState());
    await clock.advanceAsync(200);
    await applier.stop();
    applier.update(state());
    await clock.advanceAsync(10_000);
    expect(nft.transactions).toHaveLength(1);
  });

  test("removes the table when asked", async () => {
    applier.start();
    applier.update(mixedState());
    await clock.advanceAsync(200);
    await applier.stop({ removeTable: true });
    expect(nft.transactions.at(-1)).toBe(
      "table inet herald {}\ndelete table inet herald\ntable ip herald_handover {}\ndelete table ip herald_handover\ntable ip6 herald_handover {}\ndelete table ip6 herald_handover\n",
    );
    expect(events.at(-1)).toEqual({ type: "removed" });
  });
});

// The handover passes a packet on at most once. The namespaces of netns.ts play two nodes after
// an address moved: "other" (192.0.2.12) is the new owner, which passes mid-stream TCP on to the
// previous owner "node" (192.0.2.11); the node forwards nothing for the address any more and,
// like any router on the LAN, would send what it cannot NAT back to the address's owner (a
// route stands in for the ARP/NDP answer the owner gives). A client sends one crafted ACK; nft
// counters in both nodes count every copy that arrives.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { systemClock } from "../../../src/clock.js";
import { ForwardingApplier } from "../../../src/speaker/forward/applier.js";
import { nftExec } from "../../../src/speaker/forward/nft.js";
import { waitFor } from "../../lab/exec.js";
import { state } from "./fixtures.js";
import { Lab } from "./netns.js";

const lab = new Lab();
const PORTS = [80, 81];
const COUNT_TABLE = "herald_test_count";

/** A raw TCP segment with only ACK set, from the client's `src` to `dst:port` (checksummed). */
const SEND_ACK = String.raw`
import random, socket, struct, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
six = ":" in dst
fam = socket.AF_INET6 if six else socket.AF_INET
tcp = struct.pack("!HHIIBBHHH", random.randint(20000, 60000), port, random.getrandbits(32),
                  random.getrandbits(32), 5 << 4, 0x10, 64240, 0, 0)
pseudo = socket.inet_pton(fam, src) + socket.inet_pton(fam, dst)
pseudo += struct.pack("!I3xB", len(tcp), 6) if six else struct.pack("!xBH", 6, len(tcp))
data = pseudo + tcp
total = sum((data[i] << 8) + data[i + 1] for i in range(0, len(data), 2))
while total >> 16:
    total = (total & 0xFFFF) + (total >> 16)
tcp = tcp[:16] + struct.pack("!H", ~total & 0xFFFF) + tcp[18:]
s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.bind((src, 0))
s.sendto(tcp, (dst, 0))
`;

const families = [
  {
    family: "IPv4",
    vip: () => lab.vip,
    ip: "ip",
    node: "192.0.2.11",
    other: "192.0.2.12",
    client: "192.0.2.100",
  },
  {
    family: "IPv6",
    vip: () => lab.vip6,
    ip: "ip6",
    node: "2001:db8::11",
    other: "2001:db8::12",
    client: "2001:db8::100",
  },
];

/** Counters of every packet for the addresses, per family and port, at the very start of prerouting. */
function installCounters(ns: string): void {
  const names = families.flatMap((f) => PORTS.map((p) => `${f.ip}_${p}`));
  const rules = families.flatMap((f) =>
    PORTS.map((p) => `    ${f.ip} daddr ${f.vip()} tcp dport ${p} counter name "${f.ip}_${p}"`),
  );
  const text = [
    `table inet ${COUNT_TABLE} {`,
    ...names.map((n) => `  counter ${n} {}`),
    "  chain prerouting {",
    "    type filter hook prerouting priority -300; policy accept;",
    ...rules,
    "  }",
    "}",
  ].join("\n");
  lab.in(ns, "sh", "-c", `printf '%s\\n' "$1" | nft -f -`, "sh", text);
}

function counts(ns: string): Record<string, number> {
  const out = JSON.parse(lab.in(ns, "nft", "-j", "list", "counters", "table", "inet", COUNT_TABLE)) as {
    nftables: { counter?: { name: string; packets: number } }[];
  };
  return Object.fromEntries(
    out.nftables.flatMap((o) => (o.counter ? [[o.counter.name, o.counter.packets]] : [])),
  );
}

/**
 * Both nodes' counters once the new owner has counted the packet and they stop changing (a
 * looping packet changes them every few µs): five readings 100 ms apart that agree, so that a
 * copy held back by neighbour discovery on a loaded machine is still counted.
 */
async function settledCounts(
  key: string,
): Promise<{ previous: Record<string, number>; next: Record<string, number> }> {
  let last = "";
  let same = 0;
  const [previous, next] = await waitFor(
    "the counters to settle",
    async () => {
      const now = JSON.stringify([counts(lab.node), counts(lab.other)]);
      same = now === last ? same + 1 : 0;
      last = now;
      const read = JSON.parse(now) as Record<string, number>[];
      return same >= 4 && (read[1]?.[key] ?? 0) > 0 ? read : undefined;
    },
    10_000,
  );
  return { previous: previous ?? {}, next: next ?? {} };
}

/** A node's forwarding, as the speaker runs it, forwarding no Service of its own. */
async function forwardingIn(ns: string, nodeMacs: string[]): Promise<ForwardingApplier> {
  const a = new ForwardingApplier({
    exec: nftExec(["ip", "netns", "exec", ns, "nft"]),
    conntrack: nftExec(["ip", "netns", "exec", ns, "conntrack"]),
    clock: systemClock,
    nodeMacs: () => nodeMacs,
    options: { coalesceMs: 5, driftIntervalMs: 0 },
  });
  a.start();
  a.update(state());
  await a.settled();
  return a;
}

let nodeMac = "";

beforeAll(() => {
  lab.up();
  nodeMac = lab.in(lab.node, "cat", "/sys/class/net/br0/address").trim();
  for (const f of families) {
    // The client's neighbour entry names the new owner; so does the previous owner's.
    const ipv = f.ip === "ip" ? "-4" : "-6";
    lab.in(lab.client, "ip", ipv, "route", "replace", f.vip(), "via", f.other);
    lab.in(lab.node, "ip", ipv, "route", "replace", f.vip(), "via", f.other);
  }
  installCounters(lab.node);
  installCounters(lab.other);
});

afterAll(() => {
  lab.down();
});

describe.each(families)("$family: one crafted ACK after a move", ({ vip, ip, node, client }) => {
  async function send(opts: { port: number; nextKnowsNodes: boolean; previousDrops: boolean }) {
    const next = await forwardingIn(lab.other, opts.nextKnowsNodes ? [nodeMac] : []);
    const previous = await forwardingIn(lab.node, [nodeMac]);
    try {
      next.handover.takenOver(vip(), node, [80]);
      if (opts.previousDrops) previous.handover.released(vip());
      await Promise.all([next.handover.settled(), previous.handover.settled()]);
      for (const ns of [lab.node, lab.other])
        lab.in(ns, "nft", "reset", "counters", "table", "inet", COUNT_TABLE);
      lab.in(lab.client, "/usr/bin/python3", "-c", SEND_ACK, client, vip(), String(opts.port));
      const c = await settledCounts(`${ip}_${opts.port}`);
      return { next: c.next[`${ip}_${opts.port}`], previous: c.previous[`${ip}_${opts.port}`] };
    } finally {
      await Promise.all([next.stop({ removeTable: true }), previous.stop({ removeTable: true })]);
    }
  }

  test("to the Service's port: one copy crosses to the previous owner, which drops it", async () => {
    expect(await send({ port: 80, nextKnowsNodes: true, previousDrops: true })).toEqual({
      next: 1,
      previous: 1,
    });
  });

  test("to a port the Service does not have: nothing is passed on", async () => {
    expect(await send({ port: 81, nextKnowsNodes: true, previousDrops: true })).toEqual({
      next: 1,
      previous: 0,
    });
  });

  test("the previous owner's speaker gone: what it routes back is not passed on again", async () => {
    expect(await send({ port: 80, nextKnowsNodes: true, previousDrops: false })).toEqual({
      next: 2,
      previous: 1,
    });
  });

  test("the speakers' MACs not known yet: the previous owner's drop alone ends it", async () => {
    expect(await send({ port: 80, nextKnowsNodes: false, previousDrops: true })).toEqual({
      next: 1,
      previous: 1,
    });
  });
});

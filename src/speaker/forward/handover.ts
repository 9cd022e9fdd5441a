// Connections survive an address moving between two nodes that are both up.
//
// When an address moves (SIGTERM handover, or the preferred node coming back), the clients'
// next packets reach the new owner, but the connections they belong to were accepted by the
// previous owner: only its conntrack knows their NAT. The new owner would pick them up as new
// (mid-stream TCP counts as new to conntrack) and send them to some backend, which resets them.
// So for a while after such a takeover, the new owner copies TCP packets that its conntrack
// does not know and that are no connection attempt (no SYN) to the previous owner's address,
// unchanged (nft `dup to`, next hop only: the destination stays the address), and drops its
// own copy. The previous owner's conntrack finishes the journey; replies go from there to the
// client directly. New connections (SYN) stay with the new owner.
//
// `dup` exists in the ip and ip6 families only, so this lives in two small tables of its own
// (`ip herald_handover`, `ip6 herald_handover`) next to `inet herald`; each is replaced whole
// on every change (a handful of elements). UDP has no way to tell a new flow from an old one
// and is left to the new owner.
//
// A copy is passed on at most once. Only TCP to the Service's own ports is passed on, and only
// what arrived from outside: a frame from a speaker's MAC (the previous owner forwarding it back,
// or any node passing it on) is never passed on again. And the previous owner drops what its
// conntrack does not know for an address it handed over in the same window, instead of routing
// it back onto the LAN to the new owner: without both, one crafted ACK bounced between the two
// nodes until its TTL ran out.

import type { Clock } from "../../clock.js";
import { type Family, parseAddress } from "../../domain/address.js";
import type { NftExec } from "./nft.js";

export const HANDOVER_TABLE = "herald_handover";

/** One address this node took over, the node address its connections go on to, and its TCP ports. */
export interface HandoverRoute {
  address: string;
  via: string;
  /** TCP ports of the Services on the address: nothing else is passed on. */
  ports: readonly number[];
}

export interface HandoverState {
  routes: readonly HandoverRoute[];
  /** Addresses this node handed over in the window: what its conntrack does not know is dropped. */
  moved?: readonly string[];
  /** MACs of every speaker's links: what arrives from them is never passed on. */
  nodeMacs?: readonly string[];
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** Bounds what Leases can put into one transaction. */
const MAX_MACS = 4096;

function familyOf(text: string): Family | undefined {
  const p = parseAddress(text);
  return p.ok ? p.value.family : undefined;
}

function elements(items: readonly string[]): string {
  return items.length === 0 ? "" : ` elements = { ${items.join(", ")} }`;
}

function table(family: "ip" | "ip6", routes: HandoverRoute[], moved: string[], macs: string[]): string {
  const type = family === "ip" ? "ipv4_addr" : "ipv6_addr";
  const head = [`table ${family} ${HANDOVER_TABLE} {}`, `delete table ${family} ${HANDOVER_TABLE}`];
  if (routes.length === 0 && moved.length === 0) return head.join("\n");
  const pairs = routes.flatMap((r) => r.ports.map((p) => `${r.address} . ${p} : ${r.via}`));
  const notNew = "ct state new,invalid tcp flags & syn == 0";
  return [
    ...head,
    `table ${family} ${HANDOVER_TABLE} {`,
    `  set nodes { type ether_addr;${elements(macs)} }`,
    `  map previous_owner { type ${type} . inet_service : ${type};${elements(pairs)} }`,
    `  set moved { type ${type};${elements(moved)} }`,
    "  chain prerouting {",
    // After conntrack (-200); before Herald's chains (-120, -110) and kube-proxy's DNAT (-100).
    "    type filter hook prerouting priority -150; policy accept;",
    `    ${notNew} ether saddr != @nodes dup to ${family} daddr . tcp dport map @previous_owner drop comment "a connection the previous owner accepted"`,
    `    ${notNew} ${family} daddr @moved counter drop comment "handed over: not this node's to pass on"`,
    "  }",
    "}",
  ].join("\n");
}

/**
 * The nft text that makes the kernel hold exactly this state (nothing: no table), one
 * transaction. Routes whose two addresses are not of one family are left out (an IPv6 address
 * taken over from a node known only by its IPv4 address has nowhere to go), and so are routes
 * without a port.
 */
export function renderHandover(state: HandoverState): string {
  const routes = [...state.routes]
    .map((r) => ({ ...r, ports: [...new Set(r.ports)].filter(validPort).sort((a, b) => a - b) }))
    .filter((r) => r.ports.length > 0)
    .sort((a, b) => a.address.localeCompare(b.address));
  const moved = [...new Set(state.moved ?? [])].sort();
  const macs = [...new Set((state.nodeMacs ?? []).map((m) => m.toLowerCase()).filter((m) => MAC.test(m)))]
    .sort()
    .slice(0, MAX_MACS);
  const of = (f: Family) => ({
    routes: routes.filter((r) => familyOf(r.address) === f && familyOf(r.via) === f),
    moved: moved.filter((a) => familyOf(a) === f),
  });
  const v4 = of("IPv4");
  const v6 = of("IPv6");
  return `${table("ip", v4.routes, v4.moved, macs)}\n${table("ip6", v6.routes, v6.moved, macs)}\n`;
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 1 && p <= 65_535;
}

export interface HandoverOptions {
  exec: NftExec;
  clock: Clock;
  /** MACs of every speaker's links (from their Leases), read at each apply. */
  nodeMacs?: () => readonly string[];
  /** How long after a takeover the previous owner gets the connections it accepted (default 5 min). */
  windowMs?: number;
  /** Delay before retrying a failed apply (default 1 s). */
  retryMs?: number;
  onError?: (message: string) => void;
}

/**
 * Keeps the handover tables equal to the takeovers (and the handovers of this node) of the
 * last `windowMs`.
 */
export class HandoverForwarding {
  private readonly routes = new Map<string, { via: string; ports: readonly number[]; expiry: unknown }>();
  private readonly moved = new Map<string, unknown>();
  private applying: Promise<void> = Promise.resolve();
  private applied: string | undefined;
  private retry: unknown;
  private queued = false;
  private stopped = false;

  constructor(private readonly o: HandoverOptions) {}

  /** Removes tables left by an earlier run. */
  start(): Promise<void> {
    return this.apply();
  }

  /** This node took `address` over from a node still up at `via`; `ports`: its Services' TCP ports. */
  takenOver(address: string, via: string, ports: readonly number[]): void {
    if (this.stopped) return;
    this.forget(address);
    const expiry = this.o.clock.setTimeout(() => {
      if (this.routes.get(address)?.expiry !== expiry) return;
      this.routes.delete(address);
      void this.apply();
    }, this.windowMs());
    this.routes.set(address, { via, ports, expiry });
    void this.apply();
  }

  /** This node answers for `address` (again): it is no longer one this node handed over. */
  owned(address: string): void {
    if (this.forgetMoved(address)) void this.apply();
  }

  /** This node no longer owns `address`: for the window, it drops what it cannot NAT for it. */
  released(address: string): void {
    if (this.stopped) return;
    this.forget(address);
    this.forgetMoved(address);
    const expiry = this.o.clock.setTimeout(() => {
      if (this.moved.get(address) !== expiry) return;
      this.moved.delete(address);
      void this.apply();
    }, this.windowMs());
    this.moved.set(address, expiry);
    void this.apply();
  }

  current(): HandoverRoute[] {
    return [...this.routes].map(([address, r]) => ({ address, via: r.via, ports: r.ports }));
  }

  /** Addresses this node handed over in the window. */
  handedOver(): string[] {
    return [...this.moved.keys()];
  }

  /** Resolves once what is wanted now is what the kernel holds (or the attempt failed). */
  settled(): Promise<void> {
    return this.applying;
  }

  /** Removes the tables and stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const address of [...this.routes.keys()]) this.forget(address);
    for (const address of [...this.moved.keys()]) this.forgetMoved(address);
    if (this.retry !== undefined) this.o.clock.clearTimeout(this.retry);
    this.retry = undefined;
    await this.apply();
  }

  private windowMs(): number {
    return this.o.windowMs ?? 300_000;
  }

  private forget(address: string): boolean {
    const r = this.routes.get(address);
    if (!r) return false;
    this.o.clock.clearTimeout(r.expiry);
    this.routes.delete(address);
    return true;
  }

  private forgetMoved(address: string): boolean {
    if (!this.moved.has(address)) return false;
    this.o.clock.clearTimeout(this.moved.get(address));
    this.moved.delete(address);
    return true;
  }

  /**
   * Serialised: each run applies the state of its own moment, so the last one wins. Changes
   * made while a run waits to start join it (a node releasing thousands of addresses at once
   * renders once, not once per address).
   */
  private apply(): Promise<void> {
    if (this.queued) return this.applying;
    this.queued = true;
    this.applying = this.applying.then(async () => {
      this.queued = false;
      const text = renderHandover({
        routes: this.current(),
        moved: this.handedOver(),
        nodeMacs: this.o.nodeMacs?.() ?? [],
      });
      if (text === this.applied) return;
      // A throwing exec is a failed apply like any other: a rejection here would reject the
      // chain, and every later apply would be skipped.
      const r = await this.o.exec(["-f", "-"], text).catch((e: unknown) => ({
        code: -1,
        stdout: "",
        stderr: e instanceof Error ? e.message : String(e),
      }));
      if (r.code === 0) {
        this.applied = text;
        return;
      }
      this.applied = undefined;
      this.o.onError?.(r.stderr.trim() || `nft exited with ${r.code}`);
      if (this.retry === undefined && !this.stopped)
        this.retry = this.o.clock.setTimeout(() => {
          this.retry = undefined;
          void this.apply();
        }, this.o.retryMs ?? 1000);
    });
    return this.applying;
  }
}

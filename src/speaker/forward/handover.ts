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
import { isIPv4, isIPv6 } from "node:net";
import type { Clock } from "../clock.js";
import type { NftExec } from "./nft.js";

export const HANDOVER_TABLE = "herald_handover";

/** One address this node took over, and the node address its connections go on to. */
export interface HandoverRoute {
  address: string;
  via: string;
}

function table(family: "ip" | "ip6", routes: HandoverRoute[]): string {
  const type = family === "ip" ? "ipv4_addr" : "ipv6_addr";
  const head = [`table ${family} ${HANDOVER_TABLE} {}`, `delete table ${family} ${HANDOVER_TABLE}`];
  if (routes.length === 0) return head.join("\n");
  const elements = routes.map((r) => `${r.address} : ${r.via}`).join(", ");
  return [
    ...head,
    `table ${family} ${HANDOVER_TABLE} {`,
    `  map previous_owner { type ${type} : ${type}; elements = { ${elements} } }`,
    "  chain prerouting {",
    // After conntrack (-200); before Herald's chains (-120, -110) and kube-proxy's DNAT (-100).
    "    type filter hook prerouting priority -150; policy accept;",
    `    ct state new,invalid tcp flags & syn == 0 dup to ${family} daddr map @previous_owner drop comment "a connection the previous owner accepted"`,
    "  }",
    "}",
  ].join("\n");
}

/**
 * The nft text that makes the kernel hold exactly `routes` (none: no table), one transaction.
 * Routes whose two addresses are not of one family are left out (an IPv6 address taken over
 * from a node known only by its IPv4 address has nowhere to go).
 */
export function renderHandover(routes: readonly HandoverRoute[]): string {
  const sorted = [...routes].sort((a, b) => a.address.localeCompare(b.address));
  const v4 = sorted.filter((r) => isIPv4(r.address) && isIPv4(r.via));
  const v6 = sorted.filter((r) => isIPv6(r.address) && isIPv6(r.via));
  return `${table("ip", v4)}\n${table("ip6", v6)}\n`;
}

export interface HandoverOptions {
  exec: NftExec;
  clock: Clock;
  /** How long after a takeover the previous owner gets the connections it accepted (default 5 min). */
  windowMs?: number;
  /** Delay before retrying a failed apply (default 1 s). */
  retryMs?: number;
  onError?: (message: string) => void;
}

/** Keeps the handover tables equal to the takeovers of the last `windowMs`. */
export class HandoverForwarding {
  private readonly routes = new Map<string, { via: string; expiry: unknown }>();
  private applying: Promise<void> = Promise.resolve();
  private applied: string | undefined;
  private retry: unknown;
  private stopped = false;

  constructor(private readonly o: HandoverOptions) {}

  /** Removes tables left by an earlier run. */
  start(): Promise<void> {
    return this.apply();
  }

  /** This node took `address` over from a node still up at `via`. */
  takenOver(address: string, via: string): void {
    if (this.stopped) return;
    this.forget(address);
    const expiry = this.o.clock.setTimeout(() => {
      if (this.routes.get(address)?.expiry !== expiry) return;
      this.routes.delete(address);
      void this.apply();
    }, this.o.windowMs ?? 300_000);
    this.routes.set(address, { via, expiry });
    void this.apply();
  }

  /** This node no longer owns `address`. */
  released(address: string): void {
    if (this.forget(address)) void this.apply();
  }

  current(): HandoverRoute[] {
    return [...this.routes].map(([address, r]) => ({ address, via: r.via }));
  }

  /** Resolves once what is wanted now is what the kernel holds (or the attempt failed). */
  settled(): Promise<void> {
    return this.applying;
  }

  /** Removes the tables and stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const address of [...this.routes.keys()]) this.forget(address);
    if (this.retry !== undefined) this.o.clock.clearTimeout(this.retry);
    this.retry = undefined;
    await this.apply();
  }

  private forget(address: string): boolean {
    const r = this.routes.get(address);
    if (!r) return false;
    this.o.clock.clearTimeout(r.expiry);
    this.routes.delete(address);
    return true;
  }

  /** Serialised: each run applies the state of its own moment, so the last one wins. */
  private apply(): Promise<void> {
    this.applying = this.applying.then(async () => {
      const text = renderHandover(this.current());
      if (text === this.applied) return;
      const r = await this.o.exec(["-f", "-"], text);
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

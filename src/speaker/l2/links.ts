// The node's interfaces as `ip -j -d addr show` reports them, reduced to what the announcement
// rules ask (interfaces.ts). Parsing is pure; only `listLinks` runs the command.
import { type RunCommand, spawnCommand } from "../commands.js";
import { type InterfaceInfo, interfaceAllowed } from "./interfaces.js";

interface IpLink {
  ifname?: string;
  flags?: string[];
  link_type?: string;
  master?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { scope?: string; local?: string }[];
}

/** Ethernet interfaces only (ARP and NDP need a link layer); malformed entries are skipped. */
export function parseLinks(json: string): InterfaceInfo[] {
  let links: unknown;
  try {
    links = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(links)) return [];
  return (links as IpLink[]).flatMap((l) => {
    if (typeof l?.ifname !== "string") return [];
    const flags = l.flags ?? [];
    if (l.link_type !== "ether" && l.link_type !== "loopback") return [];
    if (flags.includes("NOARP") && l.link_type !== "loopback") return [];
    const global = (l.addr_info ?? []).some((a) => a.scope === "global" && !linkLocal(a.local ?? ""));
    return [
      {
        name: l.ifname,
        loopback: l.link_type === "loopback" || flags.includes("LOOPBACK"),
        hasMaster: typeof l.master === "string",
        // A CNI's host end of a pod veth carries no routable address (at most a link-local
        // gateway such as 169.254.1.1); a node's uplink does.
        podVeth: l.linkinfo?.info_kind === "veth" && !global,
        up: flags.includes("UP"),
        lowerUp: flags.includes("LOWER_UP"),
      },
    ];
  });
}

function linkLocal(ip: string): boolean {
  return ip.startsWith("169.254.") || /^fe[89ab]/i.test(ip);
}

/** Interfaces fit to announce on (patterns are applied per address later). */
export function announceableLinks(links: readonly InterfaceInfo[]): string[] {
  return links.filter((l) => interfaceAllowed(l, []) === "").map((l) => l.name);
}

export async function listLinks(run: RunCommand = spawnCommand): Promise<InterfaceInfo[]> {
  const r = await run("ip", ["-j", "-d", "addr", "show"]);
  if (r.code !== 0)
    throw new Error(`ip -j -d addr show: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}`);
  return parseLinks(r.stdout);
}

// The lab's network, built with iproute2 entirely inside the run's namespaces:
// nothing is ever created in the root namespace (veth pairs are created in one lab
// namespace with their peer placed straight into another).
//
//   lab netns:  br0 192.0.2.1/24 2001:db8::1/64, one port per node and one for the client
//   node netns: eth0 192.0.2.1x, default routes via the bridge address, forwarding on,
//               one veth per pod (node end holds 169.254.1.1), /32 routes to every pod
//   pod netns:  eth0 198.51.100.n/32, default route via 169.254.1.1; dual-stack also
//               2001:db8:10::n/128, default route via fe80::1 (on the node's end of the veth)
import { exec } from "./exec.js";
import { LAN_V4, LAN_V6, POD_GATEWAY, POD_GATEWAY_V6 } from "./plan.js";

export const BRIDGE = "br0";

/** Runs iproute2 commands (one per line, without the leading `ip`) in a namespace. */
export function ipBatch(netns: string, commands: readonly string[]): Promise<string> {
  return exec("ip", ["-n", netns, "-batch", "-"], { input: `${commands.join("\n")}\n` });
}

export function sysctl(netns: string, settings: Record<string, string | number>): Promise<string> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  return exec("ip", ["netns", "exec", netns, "sysctl", "-q", "-w", ...args]);
}

export async function createNetns(name: string): Promise<void> {
  await exec("ip", ["netns", "add", name]);
  await ipBatch(name, ["link set lo up"]);
}

/**
 * A new namespace whose `eth0` is the far end of a veth pair made in `parentNetns`
 * (where its end is called `parentEnd` and gets `parentCommands`).
 */
async function createLinkedNetns(
  netns: string,
  parentNetns: string,
  parentEnd: string,
  parentCommands: readonly string[],
): Promise<void> {
  await createNetns(netns);
  await ipBatch(parentNetns, [
    `link add ${parentEnd} type veth peer name eth0 netns ${netns}`,
    ...parentCommands,
  ]);
}

/** The lab namespace with its bridge: the LAN every node and the client sit on. */
export async function createLan(labNetns: string): Promise<void> {
  await createNetns(labNetns);
  await ipBatch(labNetns, [
    // No multicast snooping: NDP's solicited-node multicast must reach every port.
    `link add ${BRIDGE} type bridge mcast_snooping 0`,
    `addr add ${LAN_V4.gateway}/${LAN_V4.prefixLength} dev ${BRIDGE}`,
    `addr add ${LAN_V6.gateway}/${LAN_V6.prefixLength} dev ${BRIDGE} nodad`,
    `link set ${BRIDGE} up`,
  ]);
}

export interface HostSpec {
  labNetns: string;
  netns: string;
  /** Name of the host's port on the bridge, in the lab namespace. */
  bridgePort: string;
  v4: string;
  v6: string;
  /** Nodes route and forward (pods, Services); the client is a plain host. */
  router: boolean;
}

/** A namespace with `eth0` on the bridge. */
export async function addHost(h: HostSpec): Promise<void> {
  await createLinkedNetns(h.netns, h.labNetns, h.bridgePort, [
    `link set ${h.bridgePort} master ${BRIDGE} up`,
  ]);
  const commands = [
    `addr add ${h.v4}/${LAN_V4.prefixLength} dev eth0`,
    `addr add ${h.v6}/${LAN_V6.prefixLength} dev eth0 nodad`,
    "link set eth0 up",
  ];
  if (h.router) {
    // Routes for ClusterIPs must exist before kube-proxy's DNAT; the lab namespace
    // has no route further, so nothing leaves the lab.
    commands.push(`route add default via ${LAN_V4.gateway} dev eth0`);
    commands.push(`route add default via ${LAN_V6.gateway} dev eth0`);
  }
  await ipBatch(h.netns, commands);
  if (h.router) {
    await sysctl(h.netns, {
      "net.ipv4.ip_forward": 1,
      "net.ipv6.conf.all.forwarding": 1,
      "net.ipv4.conf.all.rp_filter": 0,
      "net.ipv4.conf.default.rp_filter": 0,
      "net.ipv4.conf.eth0.rp_filter": 0,
    });
  }
}

export interface PodNetSpec {
  nodeNetns: string;
  podNetns: string;
  /** The pod's veth end in the node namespace. */
  nodePort: string;
  ip: string;
  /** The pod's IPv6 address (dual-stack labs). */
  ipv6?: string;
}

/** A single address as a host route: /32 or /128. */
const host = (ip: string) => `${ip}/${ip.includes(":") ? 128 : 32}`;

/** A pod namespace hanging off its node, reachable at `ip` (and `ipv6`) from the node. */
export async function addPodNetwork(p: PodNetSpec): Promise<void> {
  const v6 = p.ipv6;
  await createLinkedNetns(p.podNetns, p.nodeNetns, p.nodePort, [
    `addr add ${POD_GATEWAY}/32 dev ${p.nodePort}`,
    ...(v6 ? [`addr add ${POD_GATEWAY_V6}/64 dev ${p.nodePort} nodad`] : []),
    `link set ${p.nodePort} up`,
    `route add ${p.ip}/32 dev ${p.nodePort}`,
    ...(v6 ? [`route add ${v6}/128 dev ${p.nodePort}`] : []),
  ]);
  await sysctl(p.nodeNetns, { [`net.ipv4.conf.${p.nodePort}.rp_filter`]: 0 });
  await ipBatch(p.podNetns, [
    `addr add ${p.ip}/32 dev eth0`,
    ...(v6 ? [`addr add ${v6}/128 dev eth0 nodad`] : []),
    "link set eth0 up",
    `route add ${POD_GATEWAY} dev eth0 scope link`,
    `route add default via ${POD_GATEWAY} dev eth0`,
    ...(v6 ? [`route add default via ${POD_GATEWAY_V6} dev eth0`] : []),
  ]);
}

/** What a CNI does across nodes: every other host routes the pod's /32 (or /128) via its node. */
export function routePod(netns: string, ip: string, via: string): Promise<string> {
  return ipBatch(netns, [`route replace ${host(ip)} via ${via}`]);
}

export async function unroutePod(netns: string, ip: string): Promise<void> {
  await exec("ip", ["-n", netns, "route", "del", host(ip)]).catch(() => undefined);
}

export function setLink(netns: string, link: string, up: boolean): Promise<string> {
  return ipBatch(netns, [`link set ${link} ${up ? "up" : "down"}`]);
}

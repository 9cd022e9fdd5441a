// The lab's names and addresses, as pure functions of the run's prefix and indexes.
// Every address is in a documentation range: the LAN is 192.0.2.0/24 and
// 2001:db8::/64, pods take 198.51.100.0/25, Services 203.0.113.0/24 (room for a
// few hundred), and 198.51.100.128/25 plus the LAN above .100 are left free for
// the tests' load-balancer pools (announced addresses belong on the LAN). A dual-stack
// lab adds an IPv6 pod range 2001:db8:10::/112 and Service range 2001:db8:20::/112, both
// apart from the LAN (Kubernetes 1.20 refuses an IPv6 Service range larger than /108).
import { randomBytes } from "node:crypto";
import { LabError } from "./errors.js";

/** Every namespace of every lab starts with this, so a crashed run can be found. */
export const LAB_NAME_PREFIX = "hlab";

export const LAN_V4 = { gateway: "192.0.2.1", prefixLength: 24 } as const;
export const LAN_V6 = { gateway: "2001:db8::1", prefixLength: 64 } as const;
export const CLIENT_V4 = "192.0.2.100";
export const CLIENT_V6 = "2001:db8::100";
export const POD_CIDR = "198.51.100.0/25";
export const SERVICE_CIDR = "203.0.113.0/24";
export const POD_CIDR_V6 = "2001:db8:10::/112";
export const SERVICE_CIDR_V6 = "2001:db8:20::/112";
/** The pods' IPv6 default gateway: a link-local address on the node's end of every pod veth. */
export const POD_GATEWAY_V6 = "fe80::1";
/** First address of the Service range: the `kubernetes` Service's ClusterIP. */
export const KUBERNETES_SERVICE_IP = "203.0.113.1";
/** The pods' default gateway, on the node's end of every pod veth (as Calico does). */
export const POD_GATEWAY = "169.254.1.1";
export const API_PORT = 6443;
export const MAX_NODES = 80;
/** Pod addresses 198.51.100.1 .. .126. */
export const MAX_PODS = 126;

/** A fresh prefix, such as `hlab3f9a0c`: short, because it ends up in namespace names. */
export function newPrefix(): string {
  return `${LAB_NAME_PREFIX}${randomBytes(3).toString("hex")}`;
}

/** The run prefix of a namespace name made by any lab, or undefined for other namespaces. */
export function prefixOfNamespace(netns: string): string | undefined {
  const m = new RegExp(`^(${LAB_NAME_PREFIX}[0-9a-f]{6})-`).exec(netns);
  return m?.[1];
}

export function nodeName(index: number): string {
  return `node-${index}`;
}

export function nodeIndex(name: string): number | undefined {
  const m = /^node-([1-9][0-9]*)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function nodeAddresses(index: number): { v4: string; v6: string } {
  if (!Number.isInteger(index) || index < 1 || index > MAX_NODES) {
    throw new LabError("LAB_BAD_ARGUMENT", `node index must be 1..${MAX_NODES}, got ${index}`);
  }
  return { v4: `192.0.2.${10 + index}`, v6: `2001:db8::${10 + index}` };
}

/** Pod address number n (1..MAX_PODS). */
export function podAddress(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PODS) {
    throw new LabError("LAB_BAD_ARGUMENT", `pod address number must be 1..${MAX_PODS}, got ${n}`);
  }
  return `198.51.100.${n}`;
}

/** IPv6 pod address number n (1..MAX_PODS), in POD_CIDR_V6. */
export function podAddressV6(n: number): string {
  podAddress(n);
  return `2001:db8:10::${n.toString(16)}`;
}

/** The lowest free pod address number, or LAB_ADDRESSES_EXHAUSTED. */
export function nextPodAddress(used: ReadonlySet<number>): number {
  for (let n = 1; n <= MAX_PODS; n++) if (!used.has(n)) return n;
  throw new LabError("LAB_ADDRESSES_EXHAUSTED", `all ${MAX_PODS} pod addresses in ${POD_CIDR} are in use`);
}

export interface NetnsNames {
  lab: string;
  client: string;
  node(index: number): string;
  pod(addressNumber: number): string;
}

export function netnsNames(prefix: string): NetnsNames {
  return {
    lab: `${prefix}-lab`,
    client: `${prefix}-client`,
    node: (i) => `${prefix}-node-${i}`,
    pod: (n) => `${prefix}-pod-${n}`,
  };
}

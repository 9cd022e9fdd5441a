// Which interfaces may carry announcements: those the L2Advertisement names (exact names or
// shell-style patterns such as "eth*"), and never loopback, a bridge's ports (the bridge itself
// answers) or the host end of a pod's veth. A pure decision with a reason, like the election.

export interface InterfaceInfo {
  name: string;
  loopback: boolean;
  /** Enslaved to a bridge or bond: the master interface answers for it. */
  hasMaster: boolean;
  /** The host end of a pod's veth (a veth whose peer lives in another network namespace). */
  podVeth: boolean;
  up: boolean;
  /** False when the link has no carrier (a cut cable, a peer that is down): nothing is heard there. */
  lowerUp?: boolean;
}

export type InterfaceReason = "" | "loopback" | "hasMaster" | "podVeth" | "down" | "notSelected";

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

/** Whether a name matches one of the patterns; no patterns select every name. */
export function interfaceSelected(name: string, patterns: readonly string[]): boolean {
  return patterns.length === 0 || patterns.some((p) => globToRegExp(p).test(name));
}

/** `patterns` empty means every interface that is otherwise fit. */
export function interfaceAllowed(iface: InterfaceInfo, patterns: readonly string[]): InterfaceReason {
  if (iface.loopback) return "loopback";
  if (iface.hasMaster) return "hasMaster";
  if (iface.podVeth) return "podVeth";
  if (!iface.up || iface.lowerUp === false) return "down";
  if (!interfaceSelected(iface.name, patterns)) return "notSelected";
  return "";
}

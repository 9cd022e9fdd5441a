// Network namespaces for root tests: unique names per run under one prefix, removed afterwards,
// and leftovers of a crashed run removed before the next one starts.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

export const PREFIX = "heraldl2-";

export function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function inNs(ns: string, command: string, ...args: string[]) {
  return execFileSync("ip", ["netns", "exec", ns, command, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 20_000,
  });
}

/** Like inNs, but returns the exit status and output instead of throwing on failure. */
export function tryInNs(ns: string, command: string, ...args: string[]): { status: number; out: string } {
  try {
    return { status: 0, out: inNs(ns, command, ...args) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { status: e.status ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

export function removeLeftovers(): void {
  for (const line of ip("netns", "list").split("\n")) {
    const name = line.split(" ")[0];
    if (name?.startsWith(PREFIX)) ip("netns", "delete", name);
  }
}

export function runId(): string {
  return randomBytes(3).toString("hex");
}

/** Two new namespaces joined by a veth pair (`aIf` in `a`, `bIf` in `b`), both ends up. */
export function joinedNamespaces(a: string, aIf: string, b: string, bIf: string): void {
  ip("netns", "add", a);
  ip("netns", "add", b);
  ip("link", "add", aIf, "netns", a, "type", "veth", "peer", "name", bIf, "netns", b);
  inNs(a, "ip", "link", "set", aIf, "up");
  inNs(b, "ip", "link", "set", bIf, "up");
}

// Network namespaces for the forwarding tests: a client, the node running Herald's table,
// two pods on that node, and a second node standing in for another node's NodePort.
//
//   client 192.0.2.100, .101 --+
//          2001:db8::100       br0 192.0.2.11, 2001:db8::11 (node) --- pod-a 198.51.100.5, 2001:db8:2::5
//   other node 192.0.2.12 -----+                                        pod-b 198.51.100.6, 2001:db8:2::6
//              2001:db8::12        (pods: default routes via 169.254.1.1 and fe80::1 on the node)
//
// Names carry the test process id; a later run removes namespaces of runs that are gone.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { nftExec } from "../../../src/speaker/forward/nft.js";
import { alive } from "../../lab/cleanup.js";

const family = "hfwd";
const here = new URL(".", import.meta.url).pathname;

function run(...argv: string[]): string {
  const [file = "", ...args] = argv;
  return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function removeNamespace(ns: string): void {
  for (const pid of run("ip", "netns", "pids", ns).split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {}
  }
  run("ip", "netns", "delete", ns);
}

/** Removes namespaces left behind by runs whose process is gone. */
export function removeStale(): void {
  for (const line of run("ip", "netns", "list").split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = new RegExp(`^${family}(\\d+)-`).exec(name);
    if (m && !alive(Number(m[1]))) removeNamespace(name);
  }
}

export interface Reply {
  reply?: string;
  error?: string;
  ms: number;
}

export class Lab {
  readonly prefix = `${family}${process.pid}-`;
  readonly node = `${this.prefix}node`;
  readonly client = `${this.prefix}client`;
  readonly other = `${this.prefix}other`;
  readonly pods = [`${this.prefix}pod-a`, `${this.prefix}pod-b`];
  readonly vip = "192.0.2.200";
  readonly vip6 = "2001:db8::200";
  private readonly children: ChildProcess[] = [];

  in(ns: string, ...argv: string[]): string {
    return run("ip", "netns", "exec", ns, ...argv);
  }

  up(): void {
    removeStale();
    for (const ns of [this.node, this.client, this.other, ...this.pods]) run("ip", "netns", "add", ns);
    const n = this.node;
    this.in(n, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1");
    // The bridge is the LAN: frames between other hosts pass it without the node's netfilter
    // seeing them (br_netfilter would otherwise hand bridged traffic to the node's hooks).
    this.in(
      n,
      "sysctl",
      "-qw",
      "net.bridge.bridge-nf-call-iptables=0",
      "net.bridge.bridge-nf-call-ip6tables=0",
    );
    this.in(n, "ip", "link", "add", "br0", "type", "bridge");
    this.in(n, "ip", "addr", "add", "192.0.2.11/24", "dev", "br0");
    this.in(n, "ip", "addr", "add", "2001:db8::11/64", "dev", "br0", "nodad");
    this.in(n, "ip", "link", "set", "br0", "up");
    this.in(n, "ip", "link", "set", "lo", "up");
    const lan = (ns: string, port: string, addrs: string[]) => {
      run("ip", "link", "add", port, "netns", n, "type", "veth", "peer", "name", "eth0", "netns", ns);
      this.in(n, "ip", "link", "set", port, "master", "br0", "up");
      for (const a of addrs)
        this.in(ns, "ip", "addr", "add", a, "dev", "eth0", ...(a.includes(":") ? ["nodad"] : []));
      this.in(ns, "ip", "link", "set", "eth0", "up");
      this.in(ns, "ip", "link", "set", "lo", "up");
    };
    lan(this.client, "lan-client", ["192.0.2.100/24", "192.0.2.101/24", "2001:db8::100/64"]);
    this.in(this.client, "ip", "route", "add", `${this.vip}/32`, "via", "192.0.2.11");
    this.in(this.client, "ip", "-6", "route", "add", `${this.vip6}/128`, "via", "2001:db8::11");
    lan(this.other, "lan-other", ["192.0.2.12/24", "2001:db8::12/64"]);
    this.pods.forEach((pod, i) => {
      const addr = `198.51.100.${5 + i}`;
      const addr6 = `2001:db8:2::${5 + i}`;
      const port = `pod${i}`;
      run("ip", "link", "add", port, "netns", n, "type", "veth", "peer", "name", "eth0", "netns", pod);
      this.in(n, "ip", "addr", "add", "169.254.1.1/32", "dev", port);
      this.in(n, "ip", "link", "set", port, "up");
      this.in(n, "ip", "route", "add", `${addr}/32`, "dev", port);
      this.in(n, "ip", "addr", "add", "fe80::1/64", "dev", port, "nodad");
      this.in(n, "ip", "-6", "route", "add", `${addr6}/128`, "dev", port);
      this.in(pod, "ip", "addr", "add", `${addr}/32`, "dev", "eth0");
      this.in(pod, "ip", "link", "set", "eth0", "up");
      this.in(pod, "ip", "link", "set", "lo", "up");
      this.in(pod, "ip", "route", "add", "169.254.1.1", "dev", "eth0");
      this.in(pod, "ip", "route", "add", "default", "via", "169.254.1.1");
      this.in(pod, "ip", "addr", "add", `${addr6}/128`, "dev", "eth0", "nodad");
      this.in(pod, "ip", "-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0");
    });
  }

  /** Starts an echo server in `ns` named `name`; resolves when it listens. */
  async echo(ns: string, name: string, ports: number[]): Promise<void> {
    const child = spawn(
      "ip",
      ["netns", "exec", ns, process.execPath, `${here}echo-server.mjs`, name, ...ports.map(String)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    this.children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`echo server ${name} exited with ${code}`)));
      createInterface({ input: child.stdout }).once("line", () => resolve());
    });
  }

  /** Requests from the client namespace, one connection each. */
  request(
    protocol: "tcp" | "udp",
    port: number,
    count = 1,
    source?: string,
    host = this.vip,
    sourcePort?: number,
  ): Reply[] {
    const args = [process.execPath, `${here}echo-client.mjs`, protocol, host, String(port), String(count)];
    if (source || sourcePort) args.push(source ?? "", String(sourcePort ?? ""));
    return this.in(this.client, ...args)
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Reply);
  }

  /** A long-lived TCP connection from the client: `ask()` sends a line and returns the reply. */
  async hold(port: number, host = this.vip): Promise<{ ask: () => Promise<string>; close: () => void }> {
    const child = spawn(
      "ip",
      ["netns", "exec", this.client, process.execPath, `${here}echo-client.mjs`, "hold", host, String(port)],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    this.children.push(child);
    const lines = createInterface({ input: child.stdout });
    const queue: Array<(l: string) => void> = [];
    lines.on("line", (l) => queue.shift()?.(l));
    const next = () => new Promise<string>((r) => queue.push(r));
    const connected = await next();
    if (!connected.includes("connected")) throw new Error(`hold: ${connected}`);
    return {
      ask: () => {
        child.stdin?.write("x\n");
        return Promise.race([
          next(),
          new Promise<string>((r) => setTimeout(() => r('{"error":"TIMEOUT"}'), 1500)),
        ]);
      },
      close: () => child.stdin?.end(),
    };
  }

  nft() {
    return nftExec(["ip", "netns", "exec", this.node, "nft"]);
  }

  conntrack() {
    return nftExec(["ip", "netns", "exec", this.node, "conntrack"]);
  }

  down(): void {
    for (const c of this.children) {
      if (c.exitCode === null && c.pid) process.kill(c.pid, "SIGKILL");
    }
    for (const ns of [this.node, this.client, this.other, ...this.pods]) {
      try {
        removeNamespace(ns);
      } catch {}
    }
  }
}

// How the root namespace reaches the lab's API server. socat in the lab namespace
// serves 192.0.2.1:6443 on a unix socket in the run directory (paths cross network
// namespaces); socat in the root namespace serves that socket on 127.0.0.1:<free port>.
// No address is added to the root namespace, and two labs never share a port.
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { join } from "node:path";
import { LabError } from "./errors.js";
import { tryExec, waitFor } from "./exec.js";
import { API_PORT, LAN_V4 } from "./plan.js";
import type { LabProcess } from "./process.js";

/** Starts a named process, in a namespace or (undefined) in the root namespace. */
export type Spawner = (
  netns: string | undefined,
  name: string,
  command: string,
  args: string[],
) => LabProcess;

export interface ApiForwarder {
  /** https://127.0.0.1:<port> */
  server: string;
  /** The socat in the root namespace. */
  root: LabProcess;
}

export async function startApiForwarder(
  spawn: Spawner,
  labNetns: string,
  runDir: string,
): Promise<ApiForwarder> {
  const socket = join(runDir, "apiserver.sock");
  spawn(labNetns, "forward-inner", "socat", [
    `UNIX-LISTEN:${socket},fork,mode=600`,
    `TCP:${LAN_V4.gateway}:${API_PORT}`,
  ]);
  await waitFor("the API socket", async () => (existsSync(socket) ? true : undefined), 5000, 20);
  // The free port may be taken between asking and listening: try again with another.
  for (let attempt = 1; ; attempt++) {
    const port = await freeLoopbackPort();
    const root = spawn(undefined, "forward-root", "socat", [
      `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`,
      `UNIX-CONNECT:${socket}`,
    ]);
    const listening = await waitFor(
      "the API forwarder",
      async () => {
        if (!root.running()) return false;
        const r = await tryExec("ss", ["-Hltn", `sport = :${port}`]);
        return r.stdout.includes(`127.0.0.1:${port}`) ? true : undefined;
      },
      5000,
      20,
    );
    if (listening) return { server: `https://127.0.0.1:${port}`, root };
    if (attempt >= 5) {
      throw new LabError("LAB_PROCESS_FAILED", `socat could not listen on 127.0.0.1: ${root.output()}`);
    }
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** One GET with a client certificate; resolves with any HTTP status, rejects on network errors. */
export function httpsGet(url: URL, tls: TlsFiles): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        ca: readFileSync(tls.ca),
        cert: readFileSync(tls.cert),
        key: readFileSync(tls.key),
        timeout: 5000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

// Talking to the lab's echo servers from inside the lab, the way a user on the LAN
// would: curl for HTTP, socat for UDP, run in a node or the client namespace.
import type { Lab, Place } from "./lab.js";

/** What an echo server answers (see echo-server.ts). */
export interface EchoReply {
  pod: string;
  namespace: string;
  node: string;
  protocol: "http" | "udp";
  client: string;
  clientPort: number;
  path?: string;
  echo?: string;
}

/** One HTTP GET from `place`; undefined when nothing answered within `timeoutS`. */
export async function httpEcho(
  lab: Lab,
  place: Place,
  url: string,
  timeoutS = 2,
): Promise<EchoReply | undefined> {
  const r = await lab.tryExec(place, ["curl", "-sS", "--max-time", String(timeoutS), url]);
  return r.code === 0 ? parseReply(r.stdout) : undefined;
}

/** One UDP datagram from `place` and the first reply; undefined when none came within `timeoutS`. */
export async function udpEcho(
  lab: Lab,
  place: Place,
  host: string,
  port: number,
  payload: string,
  timeoutS = 2,
): Promise<EchoReply | undefined> {
  const target = host.includes(":") ? `UDP6:[${host}]:${port}` : `UDP4:${host}:${port}`;
  const r = await lab.tryExec(place, ["socat", "-T", String(timeoutS), "-", target], { input: payload });
  return r.code === 0 ? parseReply(r.stdout) : undefined;
}

function parseReply(text: string): EchoReply | undefined {
  const line = text.trim().split("\n")[0];
  if (!line) return undefined;
  try {
    return JSON.parse(line) as EchoReply;
  } catch {
    return undefined;
  }
}

/** Pod names seen in `count` fresh HTTP requests (one connection each). */
export async function podsAnswering(lab: Lab, place: Place, url: string, count: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < count; i++) {
    const reply = await httpEcho(lab, place, url);
    seen.push(reply?.pod ?? "(no answer)");
  }
  return seen;
}

// A small LAN in network namespaces: a client namespace holding a bridge (192.0.2.100,
// 2001:db8::64) and speaker namespaces, each with a veth on the bridge (192.0.2.11, .12, ...).
import { inNs, ip, PREFIX, removeLeftovers, runId, tryInNs } from "./netns.js";

export interface Lan {
  client: string;
  bridge: string;
  speakers: { ns: string; ifname: string; ipv4: string; ipv6: string }[];
  /** Takes a speaker's link down or up (a cut cable). */
  setLink(index: number, up: boolean): void;
  destroy(): void;
}

export function createLan(speakerCount: number, withAddresses = true): Lan {
  removeLeftovers();
  const id = runId();
  const client = `${PREFIX}${id}-c`;
  const bridge = `br${id}`;
  ip("netns", "add", client);
  inNs(client, "ip", "link", "add", bridge, "type", "bridge");
  const speakers = Array.from({ length: speakerCount }, (_, i) => {
    const ns = `${PREFIX}${id}-s${i}`;
    const ifname = `hs${i}${id}`;
    const port = `hp${i}${id}`;
    ip("netns", "add", ns);
    ip("link", "add", ifname, "netns", ns, "type", "veth", "peer", "name", port, "netns", client);
    inNs(client, "ip", "link", "set", port, "master", bridge, "up");
    const ipv4 = `192.0.2.${11 + i}`;
    const ipv6 = `2001:db8::${(0x11 + i).toString(16)}`;
    if (withAddresses) {
      inNs(ns, "ip", "addr", "add", `${ipv4}/24`, "dev", ifname);
      inNs(ns, "ip", "addr", "add", `${ipv6}/64`, "dev", ifname, "nodad");
    }
    inNs(ns, "ip", "link", "set", ifname, "up");
    return { ns, ifname, ipv4, ipv6, port };
  });
  inNs(client, "ip", "addr", "add", "192.0.2.100/24", "dev", bridge);
  inNs(client, "ip", "addr", "add", "2001:db8::64/64", "dev", bridge, "nodad");
  inNs(client, "ip", "link", "set", bridge, "up");
  return {
    client,
    bridge,
    speakers: speakers.map(({ port: _, ...s }) => s),
    setLink(index, up) {
      const s = speakers[index];
      if (s) inNs(client, "ip", "link", "set", s.port, up ? "up" : "down");
    },
    destroy() {
      for (const ns of [client, ...speakers.map((s) => s.ns)]) {
        if (tryInNs(ns, "true").status === 0) ip("netns", "delete", ns);
      }
    },
  };
}

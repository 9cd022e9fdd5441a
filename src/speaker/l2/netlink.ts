// Link change notifications from the kernel (rtnetlink RTM_NEWLINK / RTM_DELLINK), reduced to
// what the speaker acts on: which interface, whether it is administratively up and has carrier.
// Pure and total: a truncated or malformed datagram yields the messages before the damage.
import { endianness } from "node:os";

export interface LinkMessage {
  kind: "new" | "del";
  index: number;
  /** IFLA_IFNAME; absent if the kernel left it out. */
  name?: string;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_LOWER_UP: the link has carrier. */
  lowerUp: boolean;
}

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const IFLA_IFNAME = 3;
const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const align4 = (n: number) => (n + 3) & ~3;

/** Netlink uses the host's byte order. */
const little = endianness() === "LE";

export function parseLinkMessages(datagram: Uint8Array): LinkMessage[] {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const out: LinkMessage[] = [];
  let offset = 0;
  while (offset + NLMSG_HDRLEN <= view.byteLength) {
    const length = view.getUint32(offset, little);
    const type = view.getUint16(offset + 4, little);
    if (length < NLMSG_HDRLEN || offset + length > view.byteLength) break;
    const body = offset + NLMSG_HDRLEN;
    if ((type === RTM_NEWLINK || type === RTM_DELLINK) && length >= NLMSG_HDRLEN + IFINFOMSG_LEN) {
      const flags = view.getUint32(body + 8, little);
      const message: LinkMessage = {
        kind: type === RTM_NEWLINK ? "new" : "del",
        index: view.getInt32(body + 4, little),
        up: (flags & IFF_UP) !== 0,
        lowerUp: (flags & IFF_LOWER_UP) !== 0,
      };
      const name = attribute(datagram, view, body + IFINFOMSG_LEN, offset + length, IFLA_IFNAME);
      if (name !== undefined) message.name = name;
      out.push(message);
    }
    offset += align4(length);
  }
  return out;
}

/** A NUL-terminated string attribute between `start` and `end`, if present and well formed. */
function attribute(bytes: Uint8Array, view: DataView, start: number, end: number, wanted: number) {
  let at = start;
  while (at + 4 <= end) {
    const length = view.getUint16(at, little);
    const type = view.getUint16(at + 2, little) & 0x3fff;
    if (length < 4 || at + length > end) return undefined;
    if (type === wanted) {
      const value = bytes.subarray(at + 4, at + length);
      const nul = value.indexOf(0);
      return Buffer.from(value.subarray(0, nul < 0 ? value.length : nul)).toString("latin1");
    }
    at += align4(length);
  }
  return undefined;
}

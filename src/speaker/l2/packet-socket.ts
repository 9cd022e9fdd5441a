// The link-layer socket the responder and announcer talk through. `PacketSocket` is the narrow
// interface they take; `openPacketSocket` is the real one, backed by the AF_PACKET addon in
// native/ (ARP and ICMPv6 NS/NA only, filtered in the kernel). Tests pass their own PacketSocket.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HeraldError } from "../../errors.js";

/** How the kernel classified a received frame (sll_pkttype). */
export enum FrameType {
  /** Unicast to this host's MAC. */
  Host = 0,
  Broadcast = 1,
  Multicast = 2,
  /** Unicast to another MAC, seen only in promiscuous mode: never answered. */
  OtherHost = 3,
}

export type FrameHandler = (frame: Uint8Array, type: FrameType) => void;

export interface PacketSocket {
  readonly interfaceName: string;
  readonly interfaceIndex: number;
  /** The interface's own MAC, 6 bytes. */
  readonly mac: Uint8Array;
  /** Starts delivering received frames to `onFrame`; once per socket. */
  start(onFrame: FrameHandler): void;
  /** Sends one complete Ethernet frame. Throws PacketSocketError (code e.g. ENETDOWN). */
  send(frame: Uint8Array): void;
  /** Receives frames sent to this link-layer multicast address (IPv6 solicited-node groups). */
  joinMulticast(mac: Uint8Array): void;
  leaveMulticast(mac: Uint8Array): void;
  /**
   * Since the previous call: frames the kernel passed and dropped (queue full), and frames whose
   * handler threw (caught here, as a throw from the native callback would end the process).
   */
  stats(): PacketSocketStats;
  close(): void;
}

export interface PacketSocketStats {
  packets: number;
  drops: number;
  handlerErrors: number;
}

/** A packet socket call failed; `errno` says why. */
export class PacketSocketError extends HeraldError<"HERALD_PACKET_SOCKET" | "HERALD_PACKET_ADDON"> {
  /** The errno name from the kernel ("EPERM", "ENODEV", ...), "EADDON" when the addon is missing. */
  readonly errno: string;
  constructor(errno: string, message: string) {
    super(errno === "EADDON" ? "HERALD_PACKET_ADDON" : "HERALD_PACKET_SOCKET", `${errno}: ${message}`);
    this.name = "PacketSocketError";
    this.errno = errno;
  }
}

interface Addon {
  open(ifname: string): { handle: unknown; ifindex: number; mac: Buffer };
  openLinkMonitor(): { handle: unknown };
  start(
    handle: unknown,
    onFrame: (frame: Buffer, type: number) => void,
    onError?: (code: string, message: string) => void,
  ): void;
  send(handle: unknown, frame: Buffer): number;
  addMembership(handle: unknown, mac: Buffer): void;
  dropMembership(handle: unknown, mac: Buffer): void;
  stats(handle: unknown): { packets: number; drops: number };
  close(handle: unknown): void;
}

const ADDON_PATH = join("native", "build", "Release", "herald_packet.node");
let addon: Addon | undefined;

// The addon sits at the package root, which is two or four levels up depending on whether this
// runs from src/ or from the compiled dist/src/.
function loadAddon(): Addon {
  if (addon) return addon;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, ADDON_PATH);
    if (existsSync(candidate)) {
      addon = createRequire(import.meta.url)(candidate) as Addon;
      return addon;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new PacketSocketError("EADDON", `${ADDON_PATH} not found: run npm install to build it`);
    }
    dir = parent;
  }
}

function rethrow(err: unknown): never {
  const e = err as { code?: unknown; message?: unknown };
  throw new PacketSocketError(typeof e.code === "string" ? e.code : "EUNKNOWN", String(e.message ?? err));
}

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    rethrow(err);
  }
}

export interface PacketSocketOptions {
  /**
   * The socket failed (ENETDOWN: its interface went down or away) and receives nothing more: the
   * owner closes it and opens a new one once the link is back. Called at most once.
   */
  onError?: (error: PacketSocketError) => void;
}

/** Opens an AF_PACKET socket on `interfaceName` (needs CAP_NET_RAW). */
export function openPacketSocket(interfaceName: string, options: PacketSocketOptions = {}): PacketSocket {
  const native = loadAddon();
  const opened = call(() => native.open(interfaceName));
  const handle = opened.handle;
  let closed = false;
  let handlerErrors = 0;
  return {
    interfaceName,
    interfaceIndex: opened.ifindex,
    mac: new Uint8Array(opened.mac),
    start(onFrame) {
      call(() =>
        native.start(
          handle,
          (frame, type) => {
            try {
              onFrame(frame, type as FrameType);
            } catch {
              handlerErrors++;
            }
          },
          (code, message) => reportError(options.onError, code, message),
        ),
      );
    },
    send(frame) {
      call(() => native.send(handle, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)));
    },
    joinMulticast(mac) {
      call(() => native.addMembership(handle, Buffer.from(mac)));
    },
    leaveMulticast(mac) {
      call(() => native.dropMembership(handle, Buffer.from(mac)));
    },
    stats() {
      const kernel = call(() => native.stats(handle));
      const result = { ...kernel, handlerErrors };
      handlerErrors = 0;
      return result;
    },
    close() {
      if (closed) return;
      closed = true;
      native.close(handle);
    },
  };
}

function reportError(onError: PacketSocketOptions["onError"], code: string, message: string): void {
  try {
    onError?.(new PacketSocketError(code, message));
  } catch {
    // The owner's handler must not end the process from inside the native callback.
  }
}

export interface LinkMonitor {
  close(): void;
}

/**
 * Receives the kernel's link change notifications (rtnetlink, RTNLGRP_LINK): each datagram holds
 * RTM_NEWLINK / RTM_DELLINK messages (netlink.ts parses them). `onError` once if the socket fails
 * (ENOBUFS: notifications were lost): re-list the links and open a new monitor.
 */
export function openLinkMonitor(
  onMessage: (datagram: Uint8Array) => void,
  onError: (error: PacketSocketError) => void,
): LinkMonitor {
  const native = loadAddon();
  const { handle } = call(() => native.openLinkMonitor());
  let closed = false;
  call(() =>
    native.start(
      handle,
      (datagram) => {
        try {
          onMessage(datagram);
        } catch {
          // Parsing is total; a throw here is a bug in the caller, not a reason to stop.
        }
      },
      (code, message) => reportError(onError, code, message),
    ),
  );
  return {
    close() {
      if (closed) return;
      closed = true;
      native.close(handle);
    },
  };
}

// What the speaker's /readyz and /healthz say, and why. Ready: the caches are synced and the
// heartbeat socket is bound (without it this node neither hears its peers nor tells them it is
// alive, so it must not count as serving). Healthy: the process can still do its job; it is not
// when the heartbeat socket has failed to bind for longer than `failBoundMs` (a restart may get
// the port back), or when the event loop was blocked longer than `loopBoundMs` within the last
// `loopWindowMs` (every deadline of the heartbeats and the handover slipped meanwhile).
import type { Clock } from "../clock.js";
import type { ProbeResult } from "../http/server.js";
import type { TransportState } from "./l2/udp-transport.js";

export interface SpeakerHealthOptions {
  clock: Clock;
  /** The informers' caches are synced and the first full pass ran. */
  synced: () => boolean;
  heartbeatSocket: () => TransportState;
  /** Shutting down: no longer healthy nor ready. */
  stopping: () => boolean;
  /** Default 60 s. */
  failBoundMs?: number;
  /** Default 10 s. */
  loopBoundMs?: number;
  /** Default 60 s. */
  loopWindowMs?: number;
  /** The watchdog's period (default 1000 ms). */
  tickMs?: number;
}

export class SpeakerHealth {
  private timer: unknown;
  private lastTick: number | undefined;
  /** The last time the event loop was found blocked longer than the bound, and for how long. */
  private blocked: { at: number; ms: number } | undefined;

  constructor(private readonly o: SpeakerHealthOptions) {}

  /** Starts the event-loop watchdog. */
  start(): void {
    this.lastTick = this.o.clock.now();
    this.schedule();
  }

  stop(): void {
    this.o.clock.clearTimeout(this.timer);
  }

  ready(): ProbeResult {
    if (this.o.stopping()) return { ok: false, detail: "shutting down" };
    if (!this.o.synced()) return { ok: false, detail: "caches not synced yet" };
    const socket = this.o.heartbeatSocket();
    if (!socket.bound)
      return { ok: false, detail: `heartbeat socket not bound: ${socket.error ?? "starting"}` };
    return true;
  }

  healthy(): ProbeResult {
    if (this.o.stopping()) return { ok: false, detail: "shutting down" };
    const now = this.o.clock.now();
    const socket = this.o.heartbeatSocket();
    const failing = now - socket.since;
    if (!socket.bound && socket.error !== undefined && failing > (this.o.failBoundMs ?? 60_000))
      return {
        ok: false,
        detail: `heartbeat socket not bound for ${Math.round(failing / 1000)} s: ${socket.error}`,
      };
    const blocked = this.blocked;
    if (blocked && now - blocked.at <= (this.o.loopWindowMs ?? 60_000))
      return {
        ok: false,
        detail: `event loop blocked for ${Math.round(blocked.ms)} ms, ${Math.round(now - blocked.at)} ms ago`,
      };
    return true;
  }

  private schedule(): void {
    const tick = this.o.tickMs ?? 1000;
    this.timer = this.o.clock.setTimeout(() => {
      const now = this.o.clock.now();
      const late = now - (this.lastTick ?? now) - tick;
      if (late > (this.o.loopBoundMs ?? 10_000)) this.blocked = { at: now, ms: late };
      this.lastTick = now;
      this.schedule();
    }, tick);
  }
}

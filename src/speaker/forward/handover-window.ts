// What the handover tables hold at this moment: the takeovers (and the handovers of this
// node) of the last `windowMs`, on the injected clock. The applier puts this state into the
// ruleset at each sync; a change here asks it for a sync at once.
import type { Clock } from "../../clock.js";
import type { HandoverRoute, HandoverState } from "./handover.js";

export interface HandoverWindowOptions {
  clock: Clock;
  /** How long after a takeover the previous owner gets the connections it accepted. */
  windowMs: number;
  /** Called after every change (a takeover, a release, an expiry). */
  onChange: () => void;
  /** Whether changes are being applied (not before the first sync's state is known, nor after stop). */
  applying: () => boolean;
}

export class HandoverWindow {
  private readonly routes = new Map<string, { via: string; ports: readonly number[]; expiry: unknown }>();
  private readonly moved = new Map<string, unknown>();
  private stopped = false;
  /** Counts changes; `triedVersion`: the count the last finished sync carried. */
  private changes = 0;
  private triedVersion = 0;
  private waiters: Array<{ version: number; resolve: () => void }> = [];

  constructor(private readonly o: HandoverWindowOptions) {}

  get version(): number {
    return this.changes;
  }

  /**
   * Resolves once the state as it is now has been tried (applied, or the attempt failed),
   * without waiting for Service changes queued behind it: a takeover waits for this.
   */
  settled(): Promise<void> {
    const version = this.changes;
    if (version <= this.triedVersion || !this.o.applying()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ version, resolve }));
  }

  /** A sync that carried the state of `version` has finished. */
  tried(version: number): void {
    this.triedVersion = Math.max(this.triedVersion, version);
    const waiting = this.waiters;
    this.waiters = waiting.filter((w) => w.version > this.triedVersion);
    for (const w of waiting) if (w.version <= this.triedVersion) w.resolve();
  }

  private changed(): void {
    this.changes++;
    this.o.onChange();
  }

  /** This node took `address` over from a node still up at `via`; `ports`: its Services' TCP ports. */
  takenOver(address: string, via: string, ports: readonly number[]): void {
    if (this.stopped) return;
    this.forget(address);
    const expiry = this.o.clock.setTimeout(() => {
      if (this.routes.get(address)?.expiry !== expiry) return;
      this.routes.delete(address);
      this.changed();
    }, this.o.windowMs);
    this.routes.set(address, { via, ports, expiry });
    this.changed();
  }

  /** This node answers for `address` (again): it is no longer one this node handed over. */
  owned(address: string): void {
    if (this.forgetMoved(address)) this.changed();
  }

  /** This node no longer owns `address`: for the window, it drops what it cannot NAT for it. */
  released(address: string): void {
    if (this.stopped) return;
    this.forget(address);
    this.forgetMoved(address);
    const expiry = this.o.clock.setTimeout(() => {
      if (this.moved.get(address) !== expiry) return;
      this.moved.delete(address);
      this.changed();
    }, this.o.windowMs);
    this.moved.set(address, expiry);
    this.changed();
  }

  /** The takeovers of the window. */
  current(): HandoverRoute[] {
    return [...this.routes].map(([address, r]) => ({ address, via: r.via, ports: r.ports }));
  }

  /** Addresses this node handed over in the window. */
  handedOver(): string[] {
    return [...this.moved.keys()];
  }

  state(nodeMacs: readonly string[]): HandoverState {
    return { routes: this.current(), moved: this.handedOver(), nodeMacs };
  }

  /** Forgets everything, cancels the timers and ignores later changes. */
  stop(): void {
    this.stopped = true;
    for (const address of [...this.routes.keys()]) this.forget(address);
    for (const address of [...this.moved.keys()]) this.forgetMoved(address);
  }

  private forget(address: string): boolean {
    const r = this.routes.get(address);
    if (!r) return false;
    this.o.clock.clearTimeout(r.expiry);
    this.routes.delete(address);
    return true;
  }

  private forgetMoved(address: string): boolean {
    if (!this.moved.has(address)) return false;
    this.o.clock.clearTimeout(this.moved.get(address));
    this.moved.delete(address);
    return true;
  }
}

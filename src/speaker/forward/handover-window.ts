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
  /** Resolves once what is wanted now is what the kernel holds (or the attempt failed). */
  settled: () => Promise<void>;
}

export class HandoverWindow {
  private readonly routes = new Map<string, { via: string; ports: readonly number[]; expiry: unknown }>();
  private readonly moved = new Map<string, unknown>();
  private stopped = false;

  constructor(private readonly o: HandoverWindowOptions) {}

  /** This node took `address` over from a node still up at `via`; `ports`: its Services' TCP ports. */
  takenOver(address: string, via: string, ports: readonly number[]): void {
    if (this.stopped) return;
    this.forget(address);
    const expiry = this.o.clock.setTimeout(() => {
      if (this.routes.get(address)?.expiry !== expiry) return;
      this.routes.delete(address);
      this.o.onChange();
    }, this.o.windowMs);
    this.routes.set(address, { via, ports, expiry });
    this.o.onChange();
  }

  /** This node answers for `address` (again): it is no longer one this node handed over. */
  owned(address: string): void {
    if (this.forgetMoved(address)) this.o.onChange();
  }

  /** This node no longer owns `address`: for the window, it drops what it cannot NAT for it. */
  released(address: string): void {
    if (this.stopped) return;
    this.forget(address);
    this.forgetMoved(address);
    const expiry = this.o.clock.setTimeout(() => {
      if (this.moved.get(address) !== expiry) return;
      this.moved.delete(address);
      this.o.onChange();
    }, this.o.windowMs);
    this.moved.set(address, expiry);
    this.o.onChange();
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

  settled(): Promise<void> {
    return this.o.settled();
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

// Tells each refused value once: a log line, a metric and, when it concerns a Service, a Warning
// event on it. Reported from state: what is refused now and was not at the last look is new,
// so a value refused on every recompute costs one report, and the memory is bounded by what
// the caches hold now.
import type { V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Refusal, RefusalReason } from "./admission.js";

export interface RefusalReporterDeps {
  log: Logger;
  event(svc: V1Service, type: "Warning", reason: string, message: string): void;
  counted?: (reason: RefusalReason) => void;
}

export class RefusalReporter {
  private reported = new Set<string>();

  constructor(private readonly d: RefusalReporterDeps) {}

  /** The refusals of the latest recompute. */
  report(refusals: readonly Refusal[]): void {
    const now = new Set<string>();
    for (const r of refusals) {
      const key = `${r.object}\0${r.value}\0${r.reason}`;
      if (now.has(key)) continue;
      now.add(key);
      if (this.reported.has(key)) continue;
      this.d.log.warn({ object: r.object, value: r.value, reason: r.reason }, r.message);
      this.d.counted?.(r.reason);
      if (r.service) this.d.event(r.service, "Warning", r.reason, r.message);
    }
    this.reported = now;
  }
}

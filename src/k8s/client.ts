// The API client both components run with: the JSON client behind a concurrency bound, an
// event recorder on a narrower lane of its own (a burst of events never delays a status write
// or a Lease renewal), and their counters as Prometheus metrics.
import { Counter, type Registry } from "prom-client";
import { AnswerSignal, announcingAnswers } from "./answers.js";
import { EventRecorder } from "./events.js";
import type { Rest } from "./rest.js";
import { type ThrottledRest, throttle } from "./throttle.js";

const timers = {
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
};

export interface ApiClient {
  rest: ThrottledRest;
  events: EventRecorder;
  /** Fires whenever a request of this client is answered (informers end their backoff on it). */
  answers: AnswerSignal;
}

export function apiClient(
  raw: Rest,
  o: {
    component: string;
    instance: string;
    registry: Registry;
    onEventError: (reason: string, err: unknown) => void;
  },
): ApiClient {
  const answers = new AnswerSignal();
  const rest = throttle(announcingAnswers(raw, answers), { maxInFlight: 8, maxQueued: 512, timers });
  const eventLane = throttle(rest, { maxInFlight: 2, maxQueued: 64, maxRetries: 0, timers });
  const events = new EventRecorder({
    rest: eventLane,
    component: o.component,
    instance: o.instance,
    now: () => new Date(),
    timers,
    onError: o.onEventError,
  });
  const registers = [o.registry];
  new Counter({
    name: "herald_api_requests_refused_total",
    help: "API requests refused before sending because too many were in flight and queued, by lane",
    labelNames: ["lane"],
    registers,
    collect() {
      this.reset();
      this.inc({ lane: "all" }, rest.stats().dropped);
      this.inc({ lane: "events" }, eventLane.stats().dropped);
    },
  });
  new Counter({
    name: "herald_api_retries_total",
    help: "API requests sent again after the server answered 429 (or 503 with Retry-After)",
    registers,
    collect() {
      this.reset();
      this.inc(rest.stats().retried);
    },
  });
  new Counter({
    name: "herald_events_total",
    help: "Kubernetes Events: occurrences recorded, Events created, repeats patched, writes throttled, writes failed",
    labelNames: ["outcome"],
    registers,
    collect() {
      this.reset();
      for (const [outcome, n] of Object.entries(events.stats())) this.inc({ outcome }, n);
    },
  });
  return { rest, events, answers };
}

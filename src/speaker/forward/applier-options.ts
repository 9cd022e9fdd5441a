// What the forwarding applier takes and what it reports: its options and dependencies, the
// events it emits (each failure with its code) and its counters.
import type { Clock } from "../../clock.js";
import type { NftExec } from "./nft.js";
import type { Problem } from "./state.js";

export type ApplyMode = "full" | "update";

export type ForwardingEvent =
  | { type: "applied"; mode: ApplyMode; durationMs: number; frontends: number; problems: Problem[] }
  | {
      type: "applyFailed";
      code: "NFT_APPLY_FAILED";
      mode: ApplyMode;
      attempt: number;
      retryInMs: number;
      message: string;
    }
  | {
      type: "serviceRefused";
      code: "NFT_SERVICE_REFUSED";
      service: string;
      attempt: number;
      retryInMs: number;
      message: string;
    }
  | { type: "serviceRestored"; service: string }
  | { type: "driftDetected"; reason: string }
  | { type: "driftCheckFailed"; code: "NFT_LIST_FAILED"; message: string }
  | { type: "conntrackFailed"; code: "CONNTRACK_FAILED"; message: string }
  /** More new frontends than one transaction cleans up after (stale.ts MAX_UNTRANSLATED_CLEANUPS). */
  | { type: "untranslatedNotForgotten"; frontends: number }
  | { type: "removed" };

export interface ApplierOptions {
  coalesceMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** 0 turns drift checks off. */
  driftIntervalMs: number;
  /** Every how many drift checks the whole table is listed and compared. */
  driftFullEvery: number;
  /** First and longest wait before a refused Service is tried again. */
  refusedRetryInitialMs: number;
  refusedRetryMaxMs: number;
  /** How long after a takeover the previous owner gets the connections it accepted. */
  handoverWindowMs: number;
}

export const defaultApplierOptions: ApplierOptions = {
  coalesceMs: 100,
  retryInitialMs: 500,
  retryMaxMs: 30_000,
  driftIntervalMs: 5_000,
  driftFullEvery: 12,
  refusedRetryInitialMs: 5_000,
  refusedRetryMaxMs: 60_000,
  handoverWindowMs: 300_000,
};

/** A Service the kernel refused, left out of the table until `retryAt`. */
export interface RefusedService {
  message: string;
  attempt: number;
  /** Clock time of the first refusal in a row. */
  since: number;
  retryAt: number;
}

export interface ApplierStats {
  transactions: Record<ApplyMode, number>;
  failures: number;
  driftRepairs: number;
  lastDurationMs: number | null;
}

export interface ApplierDeps {
  exec?: NftExec;
  /** Runs `conntrack` (to forget UDP flows to removed targets). */
  conntrack?: NftExec;
  clock?: Clock;
  /** MACs of every speaker's links (from their Leases), read at each sync: never passed on. */
  nodeMacs?: () => readonly string[];
  onEvent?: (event: ForwardingEvent) => void;
  options?: Partial<ApplierOptions>;
}

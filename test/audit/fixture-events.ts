// The events of test/audit/fixtures/schema-v1.parquet, a file written by Herald's
// encoder as it stood when the fixture was made: reading it checks that files already
// on disk stay readable. It was written with encodeParquet(fixtureEvents(), 5).
import type { AuditEvent } from "../../src/audit/event.js";
import { event } from "./helpers.js";

export function fixtureEvents(): AuditEvent[] {
  return Array.from({ length: 23 }, (_, i) => ({
    ...event(i % 2 === 0 ? "announce" : "allocated", i),
    seq: i + 1,
    timeNs: 1_795_000_000_123_456_789n + BigInt(i) * 1_000_000_007n,
  }));
}

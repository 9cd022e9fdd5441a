// `herald audit query --since/--until` count back from the command's clock, not from the
// machine's: with a fake clock, "the last hour" is the fake clock's last hour.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AuditEvent } from "../../src/audit/event.js";
import { parquetName } from "../../src/audit/layout.js";
import { encodeParquet } from "../../src/audit/parquet-file.js";
import { auditCommand } from "../../src/cli/audit.js";
import { event, tempDir } from "../audit/helpers.js";
import { FakeClock } from "../clock.js";

const MINUTE_NS = 60_000_000_000n;

test("--since 1h and --until 10m select by the injected clock", async () => {
  const clock = new FakeClock();
  clock.advance(1000);
  const nowNs = BigInt(clock.wall()) * 1_000_000n;
  const { dir, cleanup } = await tempDir();
  try {
    const agoMinutes = [120, 30, 5];
    const events: AuditEvent[] = agoMinutes.map((m, i) => ({
      ...event("allocated", i + 1),
      seq: i + 1,
      timeNs: nowNs - BigInt(m) * MINUTE_NS,
    }));
    await writeFile(join(dir, parquetName(1, 3)), await encodeParquet(events, 5));
    const out: string[] = [];
    const err: string[] = [];
    const run = auditCommand(new AbortController().signal, clock);
    const code = await run(["query", "--dir", dir, "--since", "1h", "--until", "10m", "--format", "json"], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    expect({ code, err }).toEqual({ code: 0, err: [] });
    expect(out.map((l) => JSON.parse(l).seq)).toEqual([2]);
  } finally {
    await cleanup();
  }
});

import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openAuditFile } from "../../src/audit/parquet-file.js";
import { queryEvents } from "../../src/audit/query.js";
import { newLog, tempDir } from "./helpers.js";

const here = fileURLToPath(new URL(".", import.meta.url));

/** Runs the writer, kills it with SIGKILL after `ms`, returns the acknowledged seqs. */
function writeThenKill(dir: string, ms: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", join(here, "ts-resolve.mjs"), join(here, "crash-writer.ts"), dir],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const acked: number[] = [];
    let partial = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") setTimeout(() => child.kill("SIGKILL"), ms);
        else if (line.startsWith("ack ")) acked.push(Number(line.slice(4)));
      }
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      if (signal === "SIGKILL") resolve(acked);
      else reject(new Error(`writer exited by itself: ${stderr}`));
    });
  });
}

test("kill -9 while writing heavily: every acknowledged event is there exactly once, every file readable", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const acked: number[] = [];
    for (let round = 0; round < 3; round++) {
      // each round restarts on the previous round's leftovers (recovery), then is killed again
      acked.push(...(await writeThenKill(dir, 300 + Math.floor(Math.random() * 1200))));
    }
    expect(acked.length).toBeGreaterThan(1000);
    // a last start that only recovers
    const { log } = newLog(dir);
    await log.start();
    await log.stop();
    // Count raw rows file by file (the query API would hide duplicates).
    expect(await readdir(join(dir, "journal"))).toEqual([]);
    const seen = new Map<number, number>();
    for (const name of (await readdir(dir)).filter((n) => n.endsWith(".parquet"))) {
      const file = await openAuditFile(join(dir, name));
      for (let g = 0; g < file.rowGroups.length; g++) {
        const rows = await file.readRowGroup(g);
        expect(rows.length).toBe(file.rowGroups[g]?.rows);
        for (const e of rows) seen.set(e.seq, (seen.get(e.seq) ?? 0) + 1);
      }
      await file.close();
    }
    expect(acked.filter((s) => !seen.has(s))).toEqual([]);
    expect([...seen.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    const queried: number[] = [];
    for await (const e of queryEvents(dir, {})) queried.push(e.seq);
    expect(queried).toEqual([...seen.keys()].sort((a, b) => a - b));
  } finally {
    await cleanup();
  }
}, 60_000);

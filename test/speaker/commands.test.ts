// The speaker's commands, started from its command worker: what a command prints, reads and
// exits with comes back as from a child of the main thread, and a worker that goes away
// answers what it had and is replaced.
import { afterEach, expect, test } from "@jest/globals";
import { CommandWorker, spawnCommand } from "../../src/speaker/commands.js";

let worker: CommandWorker;
afterEach(async () => {
  await worker?.close();
});

test("a command's output, input and exit code come back from the worker", async () => {
  worker = new CommandWorker();
  const r = await worker.run("sh", ["-c", 'read x; echo "got $x"; echo oops >&2; exit 3'], "table\n");
  expect(r).toEqual({ code: 3, stdout: "got table\n", stderr: "oops\n" });
  // The same as started from this thread.
  expect(await spawnCommand("sh", ["-c", 'read x; echo "got $x"; echo oops >&2; exit 3'], "table\n")).toEqual(
    r,
  );
});

test("a program that is not there is code 127, not a rejection", async () => {
  worker = new CommandWorker();
  const r = await worker.run("/nonexistent/nft", ["list", "ruleset"]);
  expect(r.code).toBe(127);
  expect(r.stderr).toContain("ENOENT");
});

test("many commands at once are each answered with their own result", async () => {
  worker = new CommandWorker();
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => worker.run("sh", ["-c", `echo ${i}; exit ${i % 4}`])),
  );
  expect(results.map((r) => [r.stdout.trim(), r.code])).toEqual(
    Array.from({ length: 40 }, (_, i) => [String(i), i % 4]),
  );
  expect(worker.inFlight).toBe(0);
});

test("a worker stopped with a command in flight answers it (127), and the next command gets a new worker", async () => {
  worker = new CommandWorker();
  const slow = worker.run("sleep", ["5"]);
  await new Promise((r) => setTimeout(r, 200));
  await worker.close();
  expect(await slow).toEqual({ code: 127, stdout: "", stderr: "the command worker was stopped" });
  expect(await worker.run("echo", ["again"])).toEqual({ code: 0, stdout: "again\n", stderr: "" });
});

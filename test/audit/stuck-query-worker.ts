// A query worker whose query never ends: it spins on its thread, as a query over a huge
// directory would, and never answers.
import { parentPort } from "node:worker_threads";

parentPort?.on("message", () => {
  for (;;) {
    // busy
  }
});

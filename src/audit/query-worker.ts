// Worker thread of queryPool: answers one audit query per message, so that decoding
// Parquet never runs on the thread that answers ARP, heartbeats and probes.
import { parentPort } from "node:worker_threads";
import { nodeDisk } from "./disk.js";
import { AuditError, describe } from "./errors.js";
import { queryPage } from "./query.js";
import type { QueryReply, QueryRequest } from "./query-pool.js";

const port = parentPort;
if (!port) throw new Error("query-worker runs as a worker thread");
port.on("message", async (request: QueryRequest) => {
  let reply: QueryReply;
  try {
    reply = { id: request.id, page: await queryPage(request.dir, request.filter, request.limit, nodeDisk) };
  } catch (error) {
    const code = error instanceof AuditError ? error.code : "HERALD_AUDIT_QUERY_FAILED";
    reply = { id: request.id, error: { code, message: describe(error) } };
  }
  port.postMessage(reply);
});

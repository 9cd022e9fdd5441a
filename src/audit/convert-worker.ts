// Worker thread of workerConverter: converts one segment per message.
import { parentPort } from "node:worker_threads";
import type { ConvertReply, ConvertRequest } from "./converter.js";
import { nodeDisk } from "./disk.js";
import { AuditError, describe, systemCode } from "./errors.js";
import { convertSegment } from "./segment.js";

const port = parentPort;
if (!port) throw new Error("convert-worker runs as a worker thread");
port.on("message", async (request: ConvertRequest) => {
  let reply: ConvertReply;
  try {
    const result = await convertSegment(nodeDisk, request.dir, request.segment, request.rowGroupRows);
    reply = { id: request.id, result };
  } catch (error) {
    const sysCode = error instanceof AuditError ? error.sysCode : systemCode(error);
    const code = error instanceof AuditError ? error.code : "HERALD_AUDIT_PARQUET_WRITE";
    reply = { id: request.id, error: { code, message: describe(error), ...(sysCode ? { sysCode } : {}) } };
  }
  port.postMessage(reply);
});

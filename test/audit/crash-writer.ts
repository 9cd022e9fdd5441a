// Child process of the kill -9 test: writes events as fast as it can and prints
// "ack <seq>" for each one the log acknowledged as durable.
import { pino } from "pino";
import { Registry } from "prom-client";
import { workerConverter } from "../../src/audit/converter.js";
import { AuditLog } from "../../src/audit/log.js";

const dir = process.argv[2];
if (!dir) throw new Error("usage: crash-writer DIR");
const log = new AuditLog({
  dir,
  logger: pino({ level: "warn" }, pino.destination(2)),
  registry: new Registry(),
  segmentBytes: 64 * 1024, // roll often, so the kill also lands in conversions
  rowGroupRows: 500,
  converter: workerConverter(),
});
await log.start();
process.stdout.write("ready\n");
let i = 0;
const worker = async () => {
  for (;;) {
    const n = i++;
    const ack = await log.record({
      component: "speaker",
      node: "node-a",
      kind: "announce",
      service: { namespace: "crash", name: `svc-${n % 97}` },
      addresses: [`203.0.113.${n % 256}`],
      message: `event ${n}`,
    });
    if (ack.durable) process.stdout.write(`ack ${ack.seq}\n`);
  }
};
await Promise.all(Array.from({ length: 64 }, worker));

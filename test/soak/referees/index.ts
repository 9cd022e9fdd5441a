// The referees of a soak run, each a pure function of the record, and the windows and bounds
// they judge by.
import type { SoakRecord, Verdict } from "../model.js";
import { judgeAddresses } from "./addresses.js";
import { judgeAudit } from "./audit.js";
import { judgeResources } from "./resources.js";
import { judgeTraffic } from "./traffic.js";
import { judgeWire } from "./wire.js";

export { judgeAddresses, sharesLegitimately } from "./addresses.js";
export {
  ANSWER_KINDS,
  AUDIT_DISK_GRACE_MS,
  AUDIT_WIRE_SLACK_MS,
  GAIN_KINDS,
  judgeAudit,
  type WireChange,
  wireChanges,
} from "./audit.js";
export { FD_SLACK, judgeResources, RSS_FACTOR, RSS_SLACK_BYTES } from "./resources.js";
export {
  type ChargedTo,
  chargeOutages,
  FAILOVER_BUDGET_MS,
  FOREIGN_CLAIM_BUDGET_MS,
  judgeTraffic,
  NO_TRAFFIC_FAULT_KINDS,
  OP_BUDGET_MS,
  type OutageCharge,
  PROBE_IN_FLIGHT_MS,
} from "./traffic.js";
export {
  CONTROLLER_FAULT_KINDS,
  HEARTBEAT_BLOCK_SETTLE_MS,
  liveNodes,
  MAX_VIOLATIONS,
  NODE_DOWN_KINDS,
  NODE_FAULT_KINDS,
  OP_SETTLE_MS,
  SETTLE_MS,
  settleWindows,
  viewAt,
} from "./windows.js";
export { judgeWire, WIRE_BUCKET_MS } from "./wire.js";

/** Every referee's verdict on the record, in a fixed order. */
export function judge(record: SoakRecord): Verdict[] {
  return [
    judgeWire(record),
    judgeAddresses(record),
    judgeTraffic(record),
    judgeAudit(record),
    judgeResources(record),
  ];
}

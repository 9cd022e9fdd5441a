// The audit event: what callers hand in, what is stored, and the checks between the two.
// Pure: no I/O, no clock.
import { parseCanonical } from "../domain/address.js";
import { AuditError } from "./errors.js";

/** Bumped only for changes old readers cannot ignore; adding an optional column is not one. */
export const AUDIT_SCHEMA_VERSION = 1;

export const COMPONENTS = ["controller", "speaker"] as const;
export type Component = (typeof COMPONENTS)[number];

export const EVENT_KINDS = [
  // controller
  "allocated",
  "released",
  "moved",
  "request-refused",
  "shared",
  "pool-invalid",
  // speaker
  "announce",
  "withdraw",
  "takeover",
  "handover",
  "conflict-detected",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface ServiceRef {
  namespace: string;
  name: string;
  uid?: string;
}

/** What a component records: one decision. */
export interface AuditEventInput {
  component: Component;
  /** The node the deciding component runs on. */
  node?: string;
  kind: EventKind;
  service?: ServiceRef;
  addresses?: string[];
  pool?: string;
  fromNode?: string;
  toNode?: string;
  /** Machine-readable reason, e.g. "AddressInUse" or "NotOwner". */
  reason?: string;
  message?: string;
  resourceVersion?: string;
}

/** A stored event: the input plus its place in the log. */
export interface AuditEvent extends AuditEventInput {
  /** Position in this directory's log; strictly increasing, never reused. */
  seq: number;
  /** Nanoseconds since the Unix epoch, UTC. */
  timeNs: bigint;
}

const MAX_TEXT = 4096;
const MAX_ADDRESSES = 64;

/** Checks an input and returns a copy holding only known fields, or throws HERALD_AUDIT_BAD_EVENT. */
export function validateEvent(input: AuditEventInput): AuditEventInput {
  const bad = (why: string): never => {
    throw new AuditError("HERALD_AUDIT_BAD_EVENT", `audit event: ${why}`);
  };
  if (typeof input !== "object" || input === null) bad("not an object");
  if (!(COMPONENTS as readonly string[]).includes(input.component))
    bad(`unknown component "${input.component}"`);
  if (!(EVENT_KINDS as readonly string[]).includes(input.kind)) bad(`unknown kind "${input.kind}"`);
  const out: AuditEventInput = { component: input.component, kind: input.kind };
  const text = (name: string, value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== "string") return bad(`${name} must be a string`);
    if (value.length > MAX_TEXT) return bad(`${name} is longer than ${MAX_TEXT} characters`);
    return value;
  };
  const assign = <K extends keyof AuditEventInput>(key: K, value: AuditEventInput[K] | undefined) => {
    if (value !== undefined) out[key] = value;
  };
  assign("node", text("node", input.node));
  assign("pool", text("pool", input.pool));
  assign("fromNode", text("fromNode", input.fromNode));
  assign("toNode", text("toNode", input.toNode));
  assign("reason", text("reason", input.reason));
  assign("message", text("message", input.message));
  assign("resourceVersion", text("resourceVersion", input.resourceVersion));
  if (input.service !== undefined) {
    const namespace = text("service.namespace", input.service.namespace) ?? "";
    const name = text("service.name", input.service.name) ?? "";
    if (!namespace || !name) bad("service needs a namespace and a name");
    const uid = text("service.uid", input.service.uid);
    out.service = uid === undefined ? { namespace, name } : { namespace, name, uid };
  }
  if (input.addresses !== undefined) {
    if (!Array.isArray(input.addresses)) bad("addresses must be a list");
    if (input.addresses.length > MAX_ADDRESSES) bad(`more than ${MAX_ADDRESSES} addresses`);
    out.addresses = input.addresses.map((a, i) => {
      const parsed = parseCanonical(text(`addresses[${i}]`, a) ?? "");
      return parsed.ok ? parsed.value : bad(`addresses[${i}]: ${parsed.error}`);
    });
  }
  return out;
}

/** RFC 3339 with nanoseconds: 2026-11-22T04:47:09.123456789Z. */
export function formatTimeNs(timeNs: bigint): string {
  const ms = timeNs / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // ...T04:47:09.123Z
  const frac = (((timeNs % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, "0");
  return `${iso.slice(0, 19)}.${frac}Z`;
}

// Which values from the API the speaker acts on. Whoever may write a Service's status could
// otherwise make every node answer ARP for any LAN address (the gateway's included), and one
// malformed address (a zoned IPv6 InternalIP) could break forwarding for everyone. So every
// address from the API goes through the one parser, and a Service's ingress address is
// announced only when the controller assigned it: the Service's `herald.dev/allocated-from-pool`
// names a pool, that pool is valid (the controller's own pool parse: an overlap invalidates both
// pools), and the address lies inside it. Anything refused becomes a Refusal, which the speaker
// reports once; the rest goes on.
import type { V1Service } from "@kubernetes/client-node";
import { type PoolParse, validatePools } from "../api/ipaddresspool.js";
import { allocatedPool, serviceKey } from "../api/service.js";
import { formatAddress, parseAddress } from "../domain/address.js";
import type { Pool } from "../domain/pool.js";
import { rangeContains } from "../domain/range.js";

/** Why a value is not acted on; also the Warning event's reason and the metric's label. */
export const SPEAKER_REFUSAL_REASONS = [
  "InvalidIngressAddress",
  "AddressNotAllocated",
  "AllocatedPoolNotFound",
  "AllocatedPoolInvalid",
  "AddressOutsideAllocatedPool",
  "InvalidNodeAddress",
  "InvalidEndpointAddress",
] as const;

export type RefusalReason = (typeof SPEAKER_REFUSAL_REASONS)[number];

export interface Refusal {
  /** The object the value came from: "Service shop/web", "Node n1", "EndpointSlice shop/web-abc". */
  object: string;
  /** The Service the refusal is told on (a Warning event), when it concerns one. */
  service?: V1Service;
  value: string;
  reason: RefusalReason;
  message: string;
}

/** A pool as the speaker needs it: the controller's parse, and its labels for advertisements. */
export interface AdmissionPool {
  parse: PoolParse;
  labels: Record<string, string>;
}

interface PoolLike {
  metadata?: { name?: string; labels?: Record<string, string> };
}

/** Pools by name, parsed and checked against each other exactly as the controller does. */
export function admissionPools(objects: readonly PoolLike[]): Map<string, AdmissionPool> {
  const parses = validatePools(objects);
  const result = new Map<string, AdmissionPool>();
  parses.forEach((parse, i) => {
    if (parse.name !== "") result.set(parse.name, { parse, labels: objects[i]?.metadata?.labels ?? {} });
  });
  return result;
}

/** The canonical text of an address from the API, or why it is not one (zones are refused). */
export function apiAddress(text: string): { ok: true; address: string } | { ok: false; error: string } {
  const p = parseAddress(text);
  return p.ok ? { ok: true, address: formatAddress(p.value) } : { ok: false, error: p.error };
}

export interface AdmittedAddress {
  address: string;
  pool: { name: string; labels: Record<string, string>; ignoreConflicts: boolean };
}

/** The Service's ingress addresses the speaker may announce, with the pool each came from. */
export function admittedAddresses(
  svc: V1Service,
  pools: ReadonlyMap<string, AdmissionPool>,
  refusals: Refusal[],
): AdmittedAddress[] {
  const object = `Service ${serviceKey(svc)}`;
  const refuse = (value: string, reason: RefusalReason, message: string) =>
    refusals.push({ object, service: svc, value, reason, message });
  const named = allocatedPool(svc);
  const admitted: AdmittedAddress[] = [];
  for (const ingress of svc.status?.loadBalancer?.ingress ?? []) {
    if (!ingress.ip) continue;
    const parsed = parseAddress(ingress.ip);
    if (!parsed.ok) {
      refuse(ingress.ip, "InvalidIngressAddress", `ingress address not announced: ${parsed.error}`);
      continue;
    }
    const address = formatAddress(parsed.value);
    const not = `${address} is not announced`;
    if (named === undefined) {
      refuse(address, "AddressNotAllocated", `${not}: no herald.dev/allocated-from-pool names its pool`);
      continue;
    }
    const pool = pools.get(named);
    if (pool === undefined) {
      refuse(address, "AllocatedPoolNotFound", `${not}: its pool ${named} does not exist`);
      continue;
    }
    if (!pool.parse.ok) {
      const why = pool.parse.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
      refuse(address, "AllocatedPoolInvalid", `${not}: its pool ${named} is invalid (${why})`);
      continue;
    }
    if (!inPool(pool.parse.pool, parsed.value.family, parsed.value.value)) {
      refuse(address, "AddressOutsideAllocatedPool", `${not}: it lies outside its pool ${named}`);
      continue;
    }
    if (!admitted.some((a) => a.address === address))
      admitted.push({
        address,
        pool: {
          name: named,
          labels: pool.labels,
          ignoreConflicts: pool.parse.pool.ignoreAddressConflicts === true,
        },
      });
  }
  return admitted;
}

function inPool(pool: Pool, family: "IPv4" | "IPv6", value: bigint): boolean {
  return pool.ranges.some((r) => rangeContains(r, family, value));
}

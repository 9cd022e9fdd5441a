// IPAddressPool (herald.dev/v1alpha1): the one place that knows its YAML shape.
// A pool's spec becomes a validated domain Pool or a list of field errors, never
// both and never an exception; overlaps between pools invalidate both sides.
import { FAMILY_BITS } from "../domain/address.js";
import type { Pool } from "../domain/pool.js";
import { type AddressRange, formatRange, parseRange, rangesOverlap } from "../domain/range.js";
import type { FieldError } from "./field-error.js";
import { isObject, parseLabelSelector } from "./selector.js";

export const GROUP = "herald.dev";
export const VERSION = "v1alpha1";
export const POOL_KIND = "IPAddressPool";
export const POOL_PLURAL = "ipaddresspools";

export type PoolParse =
  | { readonly ok: true; readonly name: string; readonly pool: Pool }
  | {
      readonly ok: false;
      readonly name: string;
      readonly errors: readonly FieldError[];
      /** The entries that did parse: addresses already held inside them stay held. */
      readonly ranges: readonly AddressRange[];
    };

/** Parses one pool object (`metadata.name` plus `spec`) as read from YAML or the API. */
export function parsePool(obj: unknown): PoolParse {
  const errors: FieldError[] = [];
  const metadata = isObject(obj) && isObject(obj.metadata) ? obj.metadata : {};
  const name = typeof metadata.name === "string" && metadata.name !== "" ? metadata.name : "";
  if (name === "") errors.push({ field: "metadata.name", message: "is required" });
  const spec = isObject(obj) ? obj.spec : undefined;
  if (!isObject(spec)) {
    errors.push({ field: "spec", message: "is required (spec.addresses lists the pool's addresses)" });
    return { ok: false, name, errors, ranges: [] };
  }
  const ranges = parseAddresses(spec.addresses, errors);
  const autoAssign = parseBool(spec, "autoAssign", true, errors);
  const avoidBuggyIPs = parseBool(spec, "avoidBuggyIPs", false, errors);
  const disabled = parseBool(spec, "disabled", false, errors);
  const ignoreAddressConflicts = parseBool(spec, "ignoreAddressConflicts", false, errors);
  const allocation = parseAllocation(spec.allocation, errors);
  if (errors.length > 0) return { ok: false, name, errors, ranges };
  return {
    ok: true,
    name,
    pool: { name, ranges, autoAssign, avoidBuggyIPs, disabled, ignoreAddressConflicts, ...allocation },
  };
}

/**
 * Parses every pool and checks them against each other. A pool that overlaps
 * another is invalid, and so is the other one: which of two was meant is not
 * for Herald to guess.
 */
export function validatePools(objs: readonly unknown[]): PoolParse[] {
  const parsed = objs.map(parsePool);
  const extra = new Map<number, FieldError[]>();
  const all = parsed.flatMap((p, i) => rangesOf(p).map((r) => ({ r, i })));
  for (let a = 0; a < all.length; a++) {
    for (let b = a + 1; b < all.length; b++) {
      const x = all[a];
      const y = all[b];
      if (x === undefined || y === undefined || x.i === y.i || !rangesOverlap(x.r, y.r)) continue;
      const nx = parsed[x.i]?.name ?? "";
      const ny = parsed[y.i]?.name ?? "";
      if (nx === ny) {
        addError(extra, y.i, { field: "metadata.name", message: `pool ${ny} is defined more than once` });
        continue;
      }
      addError(extra, x.i, overlapError(formatRange(x.r), ny, formatRange(y.r)));
      addError(extra, y.i, overlapError(formatRange(y.r), nx, formatRange(x.r)));
    }
  }
  return parsed.map((p, i) => {
    const more = extra.get(i);
    if (more === undefined) return p;
    return { ok: false, name: p.name, errors: [...(p.ok ? [] : p.errors), ...more], ranges: rangesOf(p) };
  });
}

/**
 * What the allocator gets: valid pools as they are, invalid ones disabled with
 * the ranges that parsed, so they give nothing new but take nothing away.
 */
export function allocatorPools(parses: readonly PoolParse[]): Pool[] {
  return parses
    .filter((p) => p.name !== "")
    .map((p) =>
      p.ok
        ? p.pool
        : {
            name: p.name,
            ranges: p.ranges,
            autoAssign: false,
            avoidBuggyIPs: false,
            disabled: true,
            priority: undefined,
            namespaces: [],
            namespaceSelector: undefined,
            serviceSelector: undefined,
            allowSharingAcrossNamespaces: false,
          },
    );
}

function rangesOf(p: PoolParse): readonly AddressRange[] {
  return p.ok ? p.pool.ranges : p.ranges;
}

function overlapError(mine: string, other: string, theirs: string): FieldError {
  return { field: "spec.addresses", message: `${mine} overlaps ${theirs} of pool ${other}` };
}

function addError(map: Map<number, FieldError[]>, i: number, e: FieldError): void {
  const list = map.get(i) ?? [];
  if (!list.some((x) => x.field === e.field && x.message === e.message)) list.push(e);
  map.set(i, list);
}

function parseAddresses(value: unknown, errors: FieldError[]): AddressRange[] {
  if (!Array.isArray(value) || value.length === 0) {
    errors.push({ field: "spec.addresses", message: "must list at least one CIDR, range or address" });
    return [];
  }
  const entries: { r: AddressRange; i: number }[] = [];
  value.forEach((item: unknown, i) => {
    const field = `spec.addresses[${i}]`;
    if (typeof item !== "string") {
      errors.push({ field, message: "must be a string such as 192.0.2.0/28 or 192.0.2.10-192.0.2.20" });
      return;
    }
    const parsed = parseRange(item);
    if (parsed.ok) entries.push({ r: parsed.value, i });
    else errors.push({ field, message: parsed.error });
  });
  entries.sort((a, b) => familyRank(a.r) - familyRank(b.r) || (a.r.first < b.r.first ? -1 : 1));
  for (let k = 1; k < entries.length; k++) {
    const prev = entries[k - 1];
    const cur = entries[k];
    if (prev && cur && rangesOverlap(prev.r, cur.r)) {
      const [early, late] = prev.i < cur.i ? [prev, cur] : [cur, prev];
      errors.push({
        field: `spec.addresses[${late.i}]`,
        message: `${formatRange(late.r)} overlaps spec.addresses[${early.i}] (${formatRange(early.r)})`,
      });
    }
  }
  return entries.map((e) => e.r);
}

function familyRank(r: AddressRange): number {
  return FAMILY_BITS[r.family];
}

function parseBool(
  spec: Record<string, unknown>,
  key: string,
  fallback: boolean,
  errors: FieldError[],
): boolean {
  const v = spec[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === "boolean") return v;
  errors.push({ field: `spec.${key}`, message: "must be true or false" });
  return fallback;
}

function parseAllocation(
  value: unknown,
  errors: FieldError[],
): Pick<
  Pool,
  "priority" | "namespaces" | "namespaceSelector" | "serviceSelector" | "allowSharingAcrossNamespaces"
> {
  const none = {
    priority: undefined,
    namespaces: [],
    namespaceSelector: undefined,
    serviceSelector: undefined,
    allowSharingAcrossNamespaces: false,
  };
  if (value === undefined || value === null) return none;
  if (!isObject(value)) {
    errors.push({ field: "spec.allocation", message: "must be an object" });
    return none;
  }
  let priority: number | undefined;
  if (value.priority !== undefined && value.priority !== null) {
    if (typeof value.priority === "number" && Number.isInteger(value.priority) && value.priority >= 0) {
      priority = value.priority;
    } else errors.push({ field: "spec.allocation.priority", message: "must be a whole number, 0 or more" });
  }
  let namespaces: string[] = [];
  if (value.namespaces !== undefined && value.namespaces !== null) {
    if (Array.isArray(value.namespaces) && value.namespaces.every((n) => typeof n === "string" && n !== "")) {
      namespaces = value.namespaces as string[];
    } else errors.push({ field: "spec.allocation.namespaces", message: "must be a list of namespace names" });
  }
  const across = value.allowSharingAcrossNamespaces;
  let allowSharingAcrossNamespaces = false;
  if (typeof across === "boolean") allowSharingAcrossNamespaces = across;
  else if (across !== undefined && across !== null)
    errors.push({ field: "spec.allocation.allowSharingAcrossNamespaces", message: "must be true or false" });
  return {
    priority,
    namespaces,
    allowSharingAcrossNamespaces,
    namespaceSelector: parseLabelSelector(
      value.namespaceSelector,
      "spec.allocation.namespaceSelector",
      errors,
    ),
    serviceSelector: parseLabelSelector(value.serviceSelector, "spec.allocation.serviceSelector", errors),
  };
}

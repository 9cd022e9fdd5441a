// L2Advertisement (herald.dev/v1alpha1): which pools are announced, from which nodes, on which
// interfaces. The one place that knows its YAML shape; bad fields are collected, never thrown.
import { EVERYTHING, type LabelSelector, type Labels, matches } from "../domain/selector.js";
import type { FieldError } from "./field-error.js";
import { isObject, parseLabelSelector } from "./selector.js";

export const L2ADV_PLURAL = "l2advertisements";

export interface L2Advertisement {
  name: string;
  /** Pool names; with poolSelector undefined and this empty, every pool. */
  pools: readonly string[];
  poolSelector: LabelSelector | undefined;
  nodeSelector: LabelSelector;
  /** Interface names or patterns; empty: every fit interface. */
  interfaces: readonly string[];
}

export type L2AdvertisementParse =
  | { ok: true; advertisement: L2Advertisement }
  | { ok: false; name: string; errors: FieldError[] };

export function parseL2Advertisement(obj: unknown): L2AdvertisementParse {
  const errors: FieldError[] = [];
  const metadata = isObject(obj) && isObject(obj.metadata) ? obj.metadata : {};
  const name = typeof metadata.name === "string" ? metadata.name : "";
  const spec = isObject(obj) && isObject(obj.spec) ? obj.spec : {};
  const strings = (field: string): string[] => {
    const v = spec[field];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x === "")) {
      errors.push({ field: `spec.${field}`, message: "must be a list of names" });
      return [];
    }
    return v as string[];
  };
  const pools = strings("ipAddressPools");
  const interfaces = strings("interfaces");
  const poolSelector = parseLabelSelector(spec.ipAddressPoolSelector, "spec.ipAddressPoolSelector", errors);
  const nodeSelector = parseLabelSelector(spec.nodeSelector, "spec.nodeSelector", errors) ?? EVERYTHING;
  if (errors.length > 0) return { ok: false, name, errors };
  return { ok: true, advertisement: { name, pools, poolSelector, nodeSelector, interfaces } };
}

/** Whether the advertisement covers a pool (by name or labels; naming none covers all). */
export function coversPool(adv: L2Advertisement, pool: string, poolLabels: Labels): boolean {
  if (adv.pools.length === 0 && adv.poolSelector === undefined) return true;
  if (adv.pools.includes(pool)) return true;
  return adv.poolSelector !== undefined && matches(adv.poolSelector, poolLabels);
}

// What the soak's client-side probes read on stdin: one JSON array per line, each line replacing
// the whole set. Parsed once here into canonical text (so "2001:DB8::1" and "2001:db8:0::1" are
// one target); a bad line is refused whole with a reason and leaves the previous set in place.
import { type Family, formatAddress, parseAddress } from "../../src/domain/address.js";

/** More targets than any soak uses; a line beyond it is refused rather than probed. */
export const MAX_TARGETS = 1024;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export interface WatchAddress {
  address: string;
  family: Family;
}

export interface TcpTarget {
  address: string;
  port: number;
}

function parseArray(line: string): Parsed<unknown[]> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(value)) return { ok: false, error: "not a JSON array" };
  if (value.length > MAX_TARGETS) return { ok: false, error: `more than ${MAX_TARGETS} targets` };
  return { ok: true, value };
}

function canonical(text: unknown): Parsed<WatchAddress> {
  if (typeof text !== "string") return { ok: false, error: `not an address: ${JSON.stringify(text)}` };
  const p = parseAddress(text);
  if (!p.ok) return { ok: false, error: `${JSON.stringify(text)}: ${p.error}` };
  return { ok: true, value: { address: formatAddress(p.value), family: p.value.family } };
}

/** `["203.0.113.5", "2001:db8::5"]`: the addresses wire-watch asks for, duplicates dropped. */
export function parseAddressSet(line: string): Parsed<WatchAddress[]> {
  const a = parseArray(line);
  if (!a.ok) return a;
  const out = new Map<string, WatchAddress>();
  for (const item of a.value) {
    const c = canonical(item);
    if (!c.ok) return c;
    out.set(c.value.address, c.value);
  }
  return { ok: true, value: [...out.values()] };
}

/** `[{"address":"203.0.113.5","port":80}]`: the tcp-prober's targets, duplicates dropped. */
export function parseTargetSet(line: string): Parsed<TcpTarget[]> {
  const a = parseArray(line);
  if (!a.ok) return a;
  const out = new Map<string, TcpTarget>();
  for (const item of a.value) {
    const o = item as { address?: unknown; port?: unknown } | null;
    if (typeof o !== "object" || o === null)
      return { ok: false, error: `not a target: ${JSON.stringify(item)}` };
    const c = canonical(o.address);
    if (!c.ok) return c;
    const port = o.port;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      return { ok: false, error: `bad port: ${JSON.stringify(port)}` };
    }
    const target = { address: c.value.address, port };
    out.set(targetKey(target), target);
  }
  return { ok: true, value: [...out.values()] };
}

export function targetKey(t: TcpTarget): string {
  return `${t.address} ${t.port}`;
}

// loadBalancerSourceRanges as an nftables interval set can hold them: per family, the fewest
// CIDRs that cover exactly the addresses listed. The API server accepts a /24 together with a
// /25 inside it (or the same range twice); the kernel refuses such a pair in one interval set
// ("File exists") and with it the whole transaction, every other Service's rules included.
// Pure; addresses go through the one parser of the domain.
import {
  type Family as AddressFamily,
  FAMILY_BITS,
  formatValue,
  parseAddress,
} from "../../domain/address.js";

/**
 * Most CIDRs one Service may have per family after merging. Inserting into a concatenated
 * interval set costs the kernel more per element the larger the set is (measured: 20,000
 * ranges of one Service took `nft -c` 4 s), so one Service's list would slow every sync.
 */
export const maxSourceRanges = 1000;

/** Most allowed-set entries (ranges times ports) of one Service: 4,000 took `nft -c` 0.3 s, 10,000 1 s. */
export const maxSourceElements = 4096;

export type SourceRangeProblemReason = "badSourceRange" | "sourceRangeHostBits" | "tooManySourceRanges";

export interface SourceRangeProblem {
  reason: SourceRangeProblemReason;
  message: string;
}

export interface SourceRanges {
  /** Canonical CIDRs, sorted by address, none overlapping, none adjacent to a mergeable one. */
  4: string[];
  6: string[];
  problems: SourceRangeProblem[];
}

interface Interval {
  first: bigint;
  last: bigint;
}

const familyOf: Record<AddressFamily, 4 | 6> = { IPv4: 4, IPv6: 6 };

/**
 * Parses, merges and re-cuts a Service's source ranges. A range that is not a CIDR is left
 * out and reported (fewer clients get in, never more); one with host bits set counts as its
 * network, as kube-proxy reads it, and is reported. More than `limit` CIDRs in a family let
 * nobody of that family in, reported: failing open would ignore the restriction.
 */
export function sourceRanges(list: readonly string[], limit = maxSourceRanges): SourceRanges {
  const problems: SourceRangeProblem[] = [];
  const bad: string[] = [];
  const hostBits: string[] = [];
  const intervals: Record<4 | 6, Interval[]> = { 4: [], 6: [] };
  for (const text of list) {
    const parsed = parseCidr(text);
    if ("error" in parsed) bad.push(`"${text}" ${parsed.error}`);
    else {
      if (parsed.hostBits) hostBits.push(`"${text}" as ${parsed.network}`);
      intervals[parsed.family].push(parsed.interval);
    }
  }
  // One problem per kind, whatever the length of the list: a problem becomes an event.
  if (bad.length > 0)
    problems.push({ reason: "badSourceRange", message: `source ranges ignored: ${examples(bad)}` });
  if (hostBits.length > 0)
    problems.push({
      reason: "sourceRangeHostBits",
      message: `source ranges with host bits set, read as their network: ${examples(hostBits)}`,
    });
  const result: SourceRanges = { 4: [], 6: [], problems };
  for (const family of [4, 6] as const) {
    const cidrs = merge(intervals[family]).flatMap((i) => toCidrs(i, family));
    if (cidrs.length > limit) {
      problems.push({
        reason: "tooManySourceRanges",
        message: `${cidrs.length} IPv${family} source ranges after merging, more than ${limit}; no IPv${family} client is let in`,
      });
      continue;
    }
    result[family] = cidrs;
  }
  return result;
}

function examples(list: string[]): string {
  const shown = list.slice(0, 3).join("; ");
  return list.length > 3 ? `${shown}; and ${list.length - 3} more` : shown;
}

type Parsed = { family: 4 | 6; interval: Interval; network: string; hostBits: boolean } | { error: string };

function parseCidr(text: string): Parsed {
  const parts = text.trim().split("/");
  if (parts.length > 2) return { error: `has more than one "/"` };
  const [addressText = "", prefixText] = parts;
  const address = parseAddress(addressText);
  if (!address.ok) return { error: `is not a CIDR: ${address.error}` };
  const { family, value } = address.value;
  const bits = FAMILY_BITS[family];
  if (prefixText !== undefined && (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits))
    return { error: `has prefix length "${prefixText}"; ${family} takes 0 to ${bits}` };
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  const host = BigInt(bits - prefix);
  const first = (value >> host) << host;
  return {
    family: familyOf[family],
    interval: { first, last: first + (1n << host) - 1n },
    network: `${formatValue(family, first)}/${prefix}`,
    hostBits: first !== value,
  };
}

/** Sorted, and joined where they overlap or touch. */
function merge(list: Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: Interval[] = [];
  for (const i of sorted) {
    const prev = out.at(-1);
    if (prev && i.first <= prev.last + 1n) {
      if (i.last > prev.last) prev.last = i.last;
    } else out.push({ ...i });
  }
  return out;
}

/** The fewest aligned prefixes that cover exactly the interval. */
function toCidrs(interval: Interval, family: 4 | 6): string[] {
  const bits = family === 4 ? 32 : 128;
  const name: AddressFamily = family === 4 ? "IPv4" : "IPv6";
  const out: string[] = [];
  let first = interval.first;
  while (first <= interval.last) {
    // The largest block aligned at `first` that does not run past the end.
    let host = 0;
    while (
      host < bits &&
      (first >> BigInt(host + 1)) << BigInt(host + 1) === first &&
      first + (1n << BigInt(host + 1)) - 1n <= interval.last
    )
      host++;
    out.push(`${formatValue(name, first)}/${bits - host}`);
    first += 1n << BigInt(host);
  }
  return out;
}

// Command-line flags: --name value or --name=value (node:util parseArgs reads them), with
// environment fallbacks and defaults. Unknown flags, stray arguments and missing values are
// errors, so a typo never silently runs with defaults.
import { parseArgs } from "node:util";
import { codedError } from "../errors.js";

export interface FlagSpec {
  env?: string;
  default?: string;
  help: string;
}

export class FlagError extends codedError("HERALD_FLAG") {}

/** `--help` or `-h` anywhere before a `--`: the command prints its usage and exits 0. */
export function helpRequested(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === "--") return false;
    if (arg === "--help" || arg === "-h") return true;
  }
  return false;
}

export function parseFlags<K extends string>(
  argv: string[],
  spec: Record<K, FlagSpec>,
  env: NodeJS.ProcessEnv,
): Record<K, string | undefined> {
  const names = Object.keys(spec) as K[];
  const options = Object.fromEntries(names.map((name) => [name, { type: "string" as const }]));
  // Not strict: parseArgs splits the arguments into tokens, and the checks below turn what it
  // would refuse into messages that name the flag and say what to write instead.
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const values = {} as Record<K, string | undefined>;
  for (const t of tokens) {
    if (t.kind === "option-terminator") continue;
    if (t.kind === "positional") throw new FlagError(`unexpected argument "${t.value}"`);
    if (!Object.hasOwn(spec, t.name)) throw new FlagError(`unknown flag ${t.rawName}`);
    if (t.value === undefined) throw new FlagError(`${t.rawName} needs a value`);
    if (!t.inlineValue && t.value.startsWith("-")) {
      throw new FlagError(
        `${t.rawName} needs a value, got the flag "${t.value}" (write ${t.rawName}=${t.value} if that is the value)`,
      );
    }
    values[t.name as K] = t.value;
  }
  for (const name of names) {
    const s = spec[name];
    if (values[name] === undefined) values[name] = (s.env ? env[s.env] : undefined) ?? s.default;
  }
  return values;
}

export function flagHelp(spec: Record<string, FlagSpec>): string {
  const rows = Object.entries(spec).map(([name, s]) => {
    const extra = [s.env ? `env ${s.env}` : "", s.default !== undefined ? `default ${s.default}` : ""]
      .filter((x) => x)
      .join(", ");
    return `  --${name.padEnd(22)} ${s.help}${extra ? ` (${extra})` : ""}`;
  });
  return [...rows, `  -h, --${"help".padEnd(18)} print this help and exit`].join("\n");
}

export function portFlag(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value ?? "") || n > 65535)
    throw new FlagError(`--${name} must be a port number, got "${value}"`);
  return n;
}

const BYTE_UNITS: Record<string, number> = { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A size as Kubernetes writes one (512Mi, 2Gi, or bytes); "0" means no limit (undefined). */
export function bytesFlag(name: string, value: string | undefined): number | undefined {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(value ?? "");
  if (!m?.[1]) throw new FlagError(`--${name} must be a size such as 512Mi or 2Gi, got "${value}"`);
  const n = Number(m[1]) * (BYTE_UNITS[m[2] ?? ""] ?? 1);
  if (!Number.isSafeInteger(n)) throw new FlagError(`--${name}: "${value}" is too large`);
  return n === 0 ? undefined : n;
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as 90s, 12h or 30d; "0" means no limit (undefined). */
export function durationFlag(name: string, value: string | undefined): number | undefined {
  if (value === "0") return undefined;
  const m = /^(\d+)(s|m|h|d)$/.exec(value ?? "");
  if (!m?.[1] || !m[2])
    throw new FlagError(`--${name} must be a duration such as 12h or 30d, got "${value}"`);
  const n = Number(m[1]) * (DURATION_UNITS[m[2]] ?? 1);
  if (!Number.isSafeInteger(n)) throw new FlagError(`--${name}: "${value}" is too large`);
  return n === 0 ? undefined : n;
}

/** A whole number in [min, max], written in decimal digits only. */
export function integerFlag(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d{1,9}$/.test(value ?? "") || n < min || n > max)
    throw new FlagError(`--${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

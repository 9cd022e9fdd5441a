// Command-line flags: --name value or --name=value, with environment fallbacks.
// Unknown flags are errors, so a typo never silently runs with defaults.
import { codedError } from "../errors.js";

export interface FlagSpec {
  env?: string;
  default?: string;
  help: string;
}

export class FlagError extends codedError("HERALD_FLAG") {}

export function parseFlags<K extends string>(
  argv: string[],
  spec: Record<K, FlagSpec>,
  env: NodeJS.ProcessEnv,
): Record<K, string | undefined> {
  const values = {} as Record<K, string | undefined>;
  const known = new Set(Object.keys(spec));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (!arg.startsWith("--")) throw new FlagError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!known.has(name)) throw new FlagError(`unknown flag --${name}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new FlagError(`--${name} needs a value`);
    values[name as K] = value;
  }
  for (const [name, s] of Object.entries(spec) as [K, FlagSpec][]) {
    if (values[name] === undefined) values[name] = (s.env ? env[s.env] : undefined) ?? s.default;
  }
  return values;
}

export function flagHelp(spec: Record<string, FlagSpec>): string {
  return Object.entries(spec)
    .map(([name, s]) => {
      const extra = [s.env ? `env ${s.env}` : "", s.default !== undefined ? `default ${s.default}` : ""]
        .filter((x) => x)
        .join(", ");
      return `  --${name.padEnd(22)} ${s.help}${extra ? ` (${extra})` : ""}`;
    })
    .join("\n");
}

export function portFlag(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
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

// One way to configure a command: a table of settings read from flags, a YAML --config file, then defaults.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';

/** A setting as the user sees it: the flag `--name` and the YAML key `name` are the same string. */
export interface SettingSpec {
  name: string;
  description: string;
  /** A duration resolves to milliseconds; a size (512MiB, 10GiB or plain bytes) to bytes. */
  kind: 'string' | 'strings' | 'integer' | 'boolean' | 'duration' | 'size';
  default?: string | string[] | number | boolean;
  /** Placeholder in --help, e.g. HOST:PORT. */
  value?: string;
}

export type SettingValue = string | string[] | number | boolean | undefined;
export type Settings = Record<string, SettingValue>;

/** A configuration problem the user must fix; the CLI prints the message and exits 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Merges flags given on the command line over the --config file over defaults.
 * `cli` holds only the flags the user actually typed (keyed by setting name).
 */
export function resolveSettings(specs: readonly SettingSpec[], cli: Settings, configFile?: string): Settings {
  const fromFile =
    configFile === undefined
      ? {}
      : readSettingsFile(
          configFile,
          specs.map((s) => s.name),
        );
  const out: Settings = {};
  for (const spec of specs) {
    const raw = cli[spec.name] ?? fromFile[spec.name] ?? spec.default;
    out[spec.name] =
      raw === undefined
        ? undefined
        : coerce(spec, raw, cli[spec.name] !== undefined ? `--${spec.name}` : `${configFile}: ${spec.name}`);
  }
  return out;
}

/** Reads a YAML mapping of setting names to values; a key not in `known` is refused, naming the file. */
export function readSettingsFile(path: string, known: readonly string[]): Settings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const where = e.linePos?.[0] ? `:${e.linePos[0].line}` : '';
    throw new ConfigError(`config file ${path}${where}: ${e.message.split('\n')[0]}`);
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`config file ${path}: expected a mapping of setting names to values`);
  }
  for (const key of Object.keys(data)) {
    if (!known.includes(key)) {
      throw new ConfigError(`config file ${path}: unknown setting "${key}" (known: ${[...known].sort().join(', ')})`);
    }
  }
  return data as Settings;
}

function coerce(spec: SettingSpec, raw: unknown, where: string): SettingValue {
  switch (spec.kind) {
    case 'string':
      if (typeof raw === 'string' || typeof raw === 'number') return String(raw);
      break;
    case 'strings':
      // YAML reads `[80, 8080]` as numbers; as text they mean what the flag's words would.
      if (Array.isArray(raw) && raw.every((v) => typeof v === 'string' || typeof v === 'number'))
        return raw.map(String);
      if (typeof raw === 'string' || typeof raw === 'number') return [String(raw)];
      break;
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 'false') return raw === 'true';
      break;
    case 'integer': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (Number.isSafeInteger(n) && n >= 0) return n;
      break;
    }
    case 'duration': {
      if (typeof raw === 'number' || typeof raw === 'string') return parseDurationMs(String(raw), where);
      break;
    }
    case 'size': {
      const n = typeof raw === 'number' || typeof raw === 'string' ? parseSize(String(raw)) : undefined;
      if (n !== undefined) return n;
      break;
    }
  }
  throw new ConfigError(`${where}: expected ${describeKind(spec.kind)}, got ${JSON.stringify(raw)}`);
}

function describeKind(kind: SettingSpec['kind']): string {
  switch (kind) {
    case 'strings':
      return 'a string or a list of strings';
    case 'integer':
      return 'a non-negative integer';
    case 'duration':
      return 'a duration such as 500ms, 10s, 5m or 1h';
    case 'size':
      return 'a size in bytes such as 1048576, 512MiB or 10GiB';
    default:
      return `a ${kind}`;
  }
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses Go-style durations ("1m30s", "500ms", "2h"); a bare number means seconds. */
export function parseDurationMs(text: string, where = 'duration'): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== text.length) {
    throw new ConfigError(`${where}: "${text}" is not a duration (use e.g. 500ms, 10s, 5m, 1h30m)`);
  }
  return Math.round(total);
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Parses "1048576", "512MiB", "10G" or "2TiB" (binary units, case-insensitive); undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)\s*(?:([kmgt])(?:i?b)?|b)?$/i.exec(text.trim());
  if (m === null) return undefined;
  const n = Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()]!;
  return Number.isSafeInteger(n) ? n : undefined;
}

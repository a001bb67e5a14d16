// Where the client commands' settings come from besides the command line, as hubble's (viper) do: flags win over
// HUBBLE_TS_* environment variables, which win over the config file (~/.config/hubble-ts/config.yaml or --config).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { ConfigError, readSettingsFile, type Settings } from '../server/config.js';

const ENV_PREFIX = 'HUBBLE_TS_';

/** The server flags every client command reads from HUBBLE_TS_* variables and the config file too. */
export const CONNECTION_SETTINGS = [
  'server',
  'tls',
  'tls-allow-insecure',
  'tls-ca-cert-files',
  'tls-client-cert-file',
  'tls-client-key-file',
  'tls-server-name',
  'timeout',
  'request-timeout',
] as const;

/**
 * Every key the client config file may hold. One file serves every client command: each reads the keys it has and
 * leaves the others (`allowlist` means nothing to `status`); a key no command knows is a mistake worth saying.
 */
export const CLIENT_CONFIG_KEYS = [...CONNECTION_SETTINGS, 'allowlist', 'denylist'] as const;

export type ClientConfigKey = (typeof CLIENT_CONFIG_KEYS)[number];

/** The environment variable of a setting: `tls-server-name` is HUBBLE_TS_TLS_SERVER_NAME. */
export function envName(setting: string): string {
  return ENV_PREFIX + setting.toUpperCase().replace(/-/g, '_');
}

/** $XDG_CONFIG_HOME/hubble-ts/config.yaml, else ~/.config/hubble-ts/config.yaml. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
  return join(base, 'hubble-ts', 'config.yaml');
}

/** Reads the client config file; the default one may be missing, one named by --config may not. */
function readClientConfig(path: string, named: boolean): Settings {
  if (!named && !existsSync(path)) return {};
  return readSettingsFile(path, CLIENT_CONFIG_KEYS);
}

/** A value from the environment or the file, parsed as the flag would parse it when typed. */
function parseSetting(option: Option, raw: unknown, where: string): unknown {
  if (!option.required && !option.optional) {
    if (raw === true || raw === 'true' || raw === '1') return true;
    if (raw === false || raw === 'false' || raw === '0' || raw === '') return false;
    throw new ConfigError(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
  }
  const values = Array.isArray(raw) ? raw : [raw];
  let parsed: unknown = undefined;
  for (const value of values) {
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new ConfigError(`${where}: expected a string, got ${JSON.stringify(value)}`);
    try {
      parsed = option.parseArg ? option.parseArg(String(value), parsed) : String(value);
    } catch (err) {
      // The parser words its refusal for the command line ("--timeout: ..."); here the value came from `where`.
      const message = (err as Error).message;
      const flag = `${option.long}: `;
      throw new ConfigError(`${where}: ${message.startsWith(flag) ? message.slice(flag.length) : message}`);
    }
  }
  return parsed;
}

/**
 * Makes `settings` of `cmd` (flag names without dashes) readable from the environment and the config file: before
 * the command runs, each one not typed on the command line takes HUBBLE_TS_<NAME> when set, else the file's value.
 * Adds `--config FILE`.
 */
export function readSettingsFromEnvAndFile(
  cmd: Command,
  settings: readonly ClientConfigKey[],
  env: NodeJS.ProcessEnv = process.env,
): Command {
  cmd.option('--config <FILE>', `YAML file with client settings (default: ${defaultConfigPath(env)})`);
  return cmd.hook('preAction', (self) => {
    const named = self.opts()['config'] as string | undefined;
    const path = named ?? defaultConfigPath(env);
    const file = readClientConfig(path, named !== undefined);
    for (const name of settings) {
      const option = self.options.find((o) => o.long === `--${name}`);
      if (option === undefined) throw new Error(`${self.name()} has no --${name} to configure`);
      const key = option.attributeName();
      if (self.getOptionValueSource(key) === 'cli') continue;
      const fromEnv = env[envName(name)];
      if (fromEnv !== undefined && fromEnv !== '') {
        self.setOptionValueWithSource(key, parseSetting(option, fromEnv, envName(name)), 'env');
      } else if (file[name] !== undefined && file[name] !== null) {
        self.setOptionValueWithSource(key, parseSetting(option, file[name], `${path}: ${name}`), 'config');
      }
    }
  });
}

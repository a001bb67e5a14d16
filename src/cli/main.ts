// The hubble-ts command: parses the command line and runs the chosen subcommand.
import { Command, Option } from 'commander';
import { ConfigError, resolveSettings, type SettingSpec, type Settings } from '../server/config.js';
import { RELAY_SETTINGS, toRelayOptions } from '../server/relayOptions.js';
import { SERVE_SETTINGS, toServeOptions } from '../server/serveOptions.js';
import { VERSION } from '../server/version.js';
import { pflagArgs } from './goFlagSyntax.js';
import { observeCommand } from './observe.js';
import { statusCommand } from './status.js';
import { listCommand } from './list.js';
import { recordCommand } from './record.js';
import { recordingsCommand } from './recordings.js';
import { versionCommand } from './version.js';
import { watchCommand } from './watch.js';

/** Adds one commander option per setting; no defaults here, so only typed flags reach `resolveSettings`. */
function addSettings(cmd: Command, specs: readonly SettingSpec[]): Command {
  for (const spec of specs) {
    const shown =
      spec.default === undefined
        ? ''
        : ` (default: ${Array.isArray(spec.default) ? spec.default.join(',') : spec.default})`;
    const flag = spec.kind === 'boolean' ? `--${spec.name}` : `--${spec.name} <${spec.value ?? 'VALUE'}>`;
    const opt = new Option(flag, spec.description + shown);
    if (spec.kind === 'strings') opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    cmd.addOption(opt);
  }
  return cmd.option('--config <FILE>', 'YAML file with the same settings (flags win over the file)');
}

/** Reads back the typed flags, keyed by setting name. */
function typedSettings(cmd: Command, specs: readonly SettingSpec[]): Settings {
  const values = cmd.opts();
  const out: Settings = {};
  for (const spec of specs) {
    const key = spec.name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (values[key] !== undefined) out[spec.name] = values[key];
  }
  return out;
}

// grpc-js sends the host of the server address as TLS SNI even when it is an IP address, and Node warns about that
// (DEP0123) on every such connection: noise for everyone who runs `--server 127.0.0.1:4245 --tls`. Only that one goes.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((...args: unknown[]) => {
  const [, typeOrOptions, code] = args;
  const warningCode = typeof typeOrOptions === 'object' ? (typeOrOptions as { code?: string } | null)?.code : code;
  if (warningCode !== 'DEP0123') emitWarning(...args);
}) as typeof process.emitWarning;

/**
 * Ends serve and relay once their shutdown is done: what may still hold the event loop then is past use (a read from
 * a pipe whose writer is open and quiet; a client that stopped reading, its connection held open by what was queued
 * for it), and would otherwise keep the process alive until the other side moved.
 */
function exitAfterShutdown(): never {
  process.exit(0);
}

const program = new Command('hubble-ts')
  .description('Hubble-compatible network flow observer and packet recorder for Linux hosts')
  .version(VERSION)
  .showHelpAfterError()
  // Options belong to the command named last before them: `observe flows --server X` gives --server to `flows`.
  // Without this on the root, commander lets `observe` take the options of `observe flows`, and `flows` runs with
  // its defaults.
  .enablePositionalOptions();

addSettings(program.command('serve').description('observe this host and serve the Hubble API'), SERVE_SETTINGS).action(
  async (_opts: unknown, cmd: Command) => {
    const settings = resolveSettings(SERVE_SETTINGS, typedSettings(cmd, SERVE_SETTINGS), cmd.opts()['config']);
    // Loaded here so client commands never load the capture stack (and its native binding).
    const { runNode } = await import('../server/node.js');
    await runNode(toServeOptions(settings));
    exitAfterShutdown();
  },
);

addSettings(
  program.command('relay').description('serve the Hubble API for every node the Peer service lists (Hubble Relay)'),
  RELAY_SETTINGS,
).action(async (_opts: unknown, cmd: Command) => {
  const settings = resolveSettings(RELAY_SETTINGS, typedSettings(cmd, RELAY_SETTINGS), cmd.opts()['config']);
  const options = toRelayOptions(settings);
  const { runRelay } = await import('../server/relay.js');
  await runRelay(options);
  exitAfterShutdown();
});

program.addCommand(observeCommand());
program.addCommand(statusCommand());
program.addCommand(listCommand());
program.addCommand(recordCommand());
program.addCommand(recordingsCommand());
program.addCommand(watchCommand());
program.addCommand(versionCommand());

// A reader that went away (`observe | head`) ends the output quietly, as a Go program dies of SIGPIPE; the download
// command handles its own stream.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

/** Commands that run a server; the others are clients, which exit as hubble does. */
const SERVER_COMMANDS: readonly string[] = ['serve', 'relay'];

try {
  await program.parseAsync(pflagArgs(program, process.argv.slice(2)), { from: 'user' });
} catch (err) {
  // Problems the user must fix (bad flags or config, a missing capture file, no libpcap, a server not there): one
  // line. A client exits 1 as hubble does on any error; serve and relay exit 2 (1 is left to crashes).
  // SourceError is matched by name so client commands never load the capture modules.
  if (
    err instanceof ConfigError ||
    (err as Error).name === 'SourceError' ||
    (err as { code?: string }).code === 'ERR_HUBBLE_TS'
  ) {
    process.stderr.write(`hubble-ts: ${(err as Error).message}\n`);
    const named = process.argv.slice(2).find((arg) => program.commands.some((c) => c.name() === arg));
    process.exit(named !== undefined && SERVER_COMMANDS.includes(named) ? 2 : 1);
  }
  throw err;
}

// The flags `observe` and its agent-events and debug-events subcommands share: which events (--last, --first, --all,
// --follow, --since, --until) and how they are printed (-o, --time-format, --print-node-name, -s), with hubble's
// checks and defaults.
import { Command, Option } from 'commander';
import type { Timestamp } from '../api/google/protobuf/timestamp.js';
import { CliError } from './client.js';
import { OUTPUT_FORMATS, type OutputFormat } from './flowPrinter.js';
import { parseTimeArg, TIME_FORMATS, timeFormatNamed, type TimeFormat } from './timeFormats.js';

export const DEFAULT_EVENT_COUNT = 20;
/** `--all` asks for the last 2^64-1 flows, as hubble does (the generated field is a decimal string). */
const ALL_EVENTS = '18446744073709551615';
export function parseCount(flag: string): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
      throw new CliError(`--${flag} expects a non-negative number, got "${v}"`);
    return Number(v);
  };
}

/** What --last/--first/--all/--follow/--since/--until ask for, as the request fields every Get*Events call shares. */
export interface Selection {
  number: string;
  first: boolean;
  follow: boolean;
  since: Timestamp | undefined;
  until: Timestamp | undefined;
}

/**
 * The selector flags with hubble's checks and defaults: without a time range, --first or --all, the last 20 events
 * (for flows only when not following; agent and debug events always, as hubble asks).
 */
export function planSelection(opts: Record<string, unknown>, now: Date, defaultWhenFollowing: boolean): Selection {
  const first = (opts['first'] as number | undefined) ?? 0;
  const last = (opts['last'] as number | undefined) ?? 0;
  const all = opts['all'] === true;
  const follow = opts['follow'] === true;
  if (first > 0 && last > 0) throw new CliError('cannot set both --first and --last');
  if (first > 0 && all) throw new CliError('cannot set both --first and --all');
  if (first > 0 && follow) throw new CliError('cannot set both --first and --follow');
  if (last > 0 && all) throw new CliError('cannot set both --last and --all');
  const since = opts['since'] === undefined ? undefined : parseTimeArg(String(opts['since']), 'since', now);
  // As in hubble: --until means nothing while following; without it the server stops at "now".
  const until = opts['until'] === undefined || follow ? undefined : parseTimeArg(String(opts['until']), 'until', now);
  let number = String(last);
  if (since === undefined && until === undefined && first === 0) {
    if (all) number = ALL_EVENTS;
    // As hubble: a file of flows (--input-file) is printed whole unless --last says otherwise.
    else if (last === 0 && opts['inputFile'] === undefined && (!follow || defaultWhenFollowing))
      number = String(DEFAULT_EVENT_COUNT);
  }
  if (first > 0) number = String(first);
  return { number, first: first > 0, follow, since, until };
}

/** -o and --time-format, checked; tables cannot follow (they print when the stream ends). */
export function planFormat(opts: Record<string, unknown>): { output: OutputFormat; timeFormat: TimeFormat } {
  const outputFlag = String(opts['output'] ?? 'compact');
  let output: OutputFormat;
  switch (outputFlag) {
    case 'compact':
    case 'dict':
      output = outputFlag;
      break;
    case 'json':
    case 'JSON':
    case 'jsonpb':
      output = 'jsonpb';
      break;
    case 'tab':
    case 'table':
      if (opts['follow'] === true) throw new CliError('table output format is not compatible with follow mode');
      output = 'table';
      break;
    default:
      throw new CliError(`invalid output format: ${outputFlag} (one of ${OUTPUT_FORMATS.join(', ')})`);
  }
  const name = String(opts['timeFormat'] ?? 'StampMilli');
  const timeFormat = timeFormatNamed(name);
  if (timeFormat === undefined)
    throw new CliError(`invalid --time-format ${name} (one of ${TIME_FORMATS.join(', ')}, in any case)`);
  return { output, timeFormat };
}

/** --last/--first/--all/--follow/--since/--until, for `what` (flows, agent events, debug events). */
export function addSelectorOptions(cmd: Command, what: string, defaultCount: string): Command {
  return cmd
    .option('--last <N>', `get the last N ${what} stored in the server's buffer (${defaultCount})`, parseCount('last'))
    .option('--first <N>', `get the first N ${what} stored in the server's buffer`, parseCount('first'))
    .option('--all', `get all ${what} stored in the server's buffer`, false)
    .option('-f, --follow', `follow ${what} output`, false)
    .option('--since <TIME>', `${what} since this time: relative (30s, 5m, 1h) or absolute (RFC3339, 2006-01-02, ...)`)
    .option('--until <TIME>', `${what} until this time: relative (30s, 5m, 1h) or absolute (RFC3339, 2006-01-02, ...)`);
}

/** -o, --time-format, --print-node-name, --print-policy-names, -s. */
export function addFormatOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('-o, --output <FORMAT>', 'output format: compact, dict, json, jsonpb (same as json), table').default(
        'compact',
      ),
    )
    .option(
      '--time-format <FORMAT>',
      `time layout for compact, dict and table output: ${TIME_FORMATS.join(', ')}`,
      'StampMilli',
    )
    .option('--print-node-name', 'print the node name in the output', false)
    .option('--print-policy-names', 'name the policies that allowed or denied policy verdict events', false)
    .option('-s, --silent-errors', 'print no errors or warnings from the stream (node status events)', false);
}

// `hubble-ts observe`: hubble's observe command. Builds the GetFlowsRequest from the same flags
// hubble has, streams the answer, prints it, and stops cleanly on Ctrl-C.
import { Command, Option } from 'commander';
import * as grpc from '@grpc/grpc-js';
import { FlowFilter } from '../api/flow/flow.js';
import { GetFlowsRequest, type GetFlowsResponse } from '../api/observer/observer.js';
import { stringify as stringifyYaml } from 'yaml';
import { fromProtoJson, goJsonLine, messageToJson, ProtoJsonError } from '../protojson/protojson.js';
import { readFlowsFile } from './flowsFile.js';
import { parseGoBool } from './goFlagSyntax.js';
import {
  addConnectionOptions,
  CliError,
  connectionOptionsFrom,
  describeCallError,
  HubbleConnection,
  isServiceError,
} from './client.js';
import { FILTER_FLAGS, FlowFilterFlags } from './flowFilterFlags.js';
import { FlowPrinter, type FlowPrinterOptions, type OutputFormat, type TextSink } from './flowPrinter.js';
import { COLOR_CHOICES, colorsEnabled, type ColorChoice } from './terminalText.js';
import {
  addFormatOptions,
  addSelectorOptions,
  DEFAULT_EVENT_COUNT,
  planFormat,
  planSelection,
} from './observeOptions.js';
import { eventsCommand } from './observeEvents.js';

/** Where a client command writes, and what stops it; tests pass their own. */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  /** Aborting it ends a running request the way Ctrl-C does. */
  signal?: AbortSignal;
}

export const PROCESS_IO: CliIo = { stdout: process.stdout, stderr: process.stderr };

/** Fields the printers use, requested with --use-default-field-masks (hubble's list). */
const DEFAULT_FIELD_MASK = [
  'time',
  'source.identity',
  'source.namespace',
  'source.pod_name',
  'destination.identity',
  'destination.namespace',
  'destination.pod_name',
  'source_service',
  'destination_service',
  'l4',
  'IP',
  'ethernet',
  'l7',
  'Type',
  'node_name',
  'is_reply',
  'event_type',
  'verdict',
  'Summary',
];

export interface ObservePlan {
  request: GetFlowsRequest;
  printer: Omit<FlowPrinterOptions, 'out' | 'err' | 'color'>;
  /** --color; `auto` is decided against the output when printing. */
  color: ColorChoice;
  /** --silent-errors: node status events and warnings are not printed. */
  silentErrors: boolean;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const collectCommaSeparated = (v: string, prev: string[] = []): string[] => [
  ...prev,
  ...v.split(',').filter((s) => s !== ''),
];

/**
 * The JSON texts one after another in `text` (whitespace between them optional), as Go's json.Decoder reads a stream:
 * hubble's --allowlist and --denylist take one or more filters per value. An object or array ends at its matching
 * bracket outside strings; anything else runs to the next whitespace, for JSON.parse to judge.
 */
function jsonTexts(text: string): string[] {
  const texts: string[] = [];
  let i = 0;
  const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  for (;;) {
    while (isSpace(text[i])) i++;
    if (i >= text.length) return texts;
    const start = i;
    if (text[i] === '{' || text[i] === '[') {
      let depth = 0;
      let inString = false;
      for (; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') depth++;
        else if ((c === '}' || c === ']') && --depth === 0) {
          i++;
          break;
        }
      }
    } else {
      while (i < text.length && !isSpace(text[i])) i++;
    }
    texts.push(text.slice(start, i));
  }
}

function parseRawFilters(values: readonly string[], flag: string): FlowFilter[] {
  return values.flatMap((value) =>
    jsonTexts(value).map((text) => {
      let json;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new CliError(`invalid --${flag} flag: failed to decode '${text}': ${(err as Error).message}`);
      }
      try {
        return FlowFilter.decode(fromProtoJson('flow.FlowFilter', json));
      } catch (err) {
        if (err instanceof ProtoJsonError) throw new CliError(`invalid --${flag} flag: ${err.message}`);
        throw err;
      }
    }),
  );
}

/** Turns the parsed flags into the request and printer settings, with hubble's checks and defaults. */
export function planObserve(
  opts: Record<string, unknown>,
  filters: FlowFilterFlags,
  now: Date = new Date(),
): ObservePlan {
  const selection = planSelection(opts, now, false);
  const { output, timeFormat } = planFormat(opts);
  const outputFlag = String(opts['output'] ?? 'compact');

  const color = String(opts['color'] ?? 'auto').toLowerCase();
  if (!(COLOR_CHOICES as readonly string[]).includes(color))
    throw new CliError(`invalid --color ${String(opts['color'])} (one of ${COLOR_CHOICES.join(', ')})`);

  const { whitelist, blacklist } = filters.lists();
  whitelist.push(...parseRawFilters((opts['allowlist'] as string[] | undefined) ?? [], 'allowlist'));
  blacklist.push(...parseRawFilters((opts['denylist'] as string[] | undefined) ?? [], 'denylist'));

  let fieldMask = (opts['fieldMask'] as string[] | undefined) ?? [];
  let experimentalFieldMask = (opts['experimentalFieldMask'] as string[] | undefined) ?? [];
  if (output !== 'jsonpb') {
    if (fieldMask.length > 0 || experimentalFieldMask.length > 0) {
      throw new CliError(`${outputFlag} output format is not compatible with custom field mask`);
    }
    if (opts['useDefaultFieldMasks'] === true) fieldMask = DEFAULT_FIELD_MASK;
    if (opts['experimentalUseDefaultFieldMasks'] === true) experimentalFieldMask = DEFAULT_FIELD_MASK;
  }

  const request = GetFlowsRequest.fromPartial({
    ...selection,
    whitelist,
    blacklist,
    fieldMask: fieldMask.length > 0 ? fieldMask : undefined,
    experimental: experimentalFieldMask.length > 0 ? { fieldMask: experimentalFieldMask } : undefined,
  });
  return {
    request,
    printer: {
      output,
      timeFormat,
      ipTranslation: opts['numeric'] !== true && opts['ipTranslation'] !== false,
      nodeName: opts['printNodeName'] === true,
      policyNames: opts['printPolicyNames'] === true,
      debug: opts['debug'] === true,
    },
    color: color as ColorChoice,
    silentErrors: opts['silentErrors'] === true,
  };
}

/**
 * The observe command. `run` receives the finished plan; the default connects and streams.
 * Filter flags are applied in command-line order (that is what makes `--not` work).
 */
export function observeCommand(
  io: CliIo = PROCESS_IO,
  run?: (plan: ObservePlan, cmd: Command) => Promise<void>,
): Command {
  // Positional options: `observe flows --server X` gives --server to `flows`, not to `observe`, which has its own.
  return flowsCommand('observe', 'observe flows and events of a Hubble server', io, run)
    .enablePositionalOptions()
    .addCommand(flowsCommand('flows', 'observe flows of a Hubble server', io, run))
    .addCommand(eventsCommand('agent-events', io))
    .addCommand(eventsCommand('debug-events', io));
}

/**
 * `observe` and `observe flows`. `run` receives the finished plan; the default connects and streams.
 * Filter flags are applied in command-line order (that is what makes `--not` work).
 */
function flowsCommand(
  name: string,
  description: string,
  io: CliIo,
  run?: (plan: ObservePlan, cmd: Command) => Promise<void>,
): Command {
  const filters = new FlowFilterFlags();
  const cmd = addFormatOptions(
    addSelectorOptions(
      new Command(name).description(description),
      'flows',
      `default ${DEFAULT_EVENT_COUNT} when not following`,
    ),
  )
    .option('--color <WHEN>', "colorize compact and dict output: 'auto' (on a terminal), 'always' or 'never'", 'auto')
    .option('--numeric', 'show IP addresses and numbers only (no pod, service or DNS names)', false)
    .option(
      '--ip-translation [BOOL]',
      'translate IP addresses to pod, service or DNS names; --ip-translation=false (or --no-ip-translation) shows IPs',
      parseGoBool('ip-translation'),
    )
    .option('--no-ip-translation', 'same as --ip-translation=false')
    .option(
      '--field-mask <FIELDS>',
      'comma-separated flow fields the server should fill in (json output only)',
      collectCommaSeparated,
    )
    .option(
      '--experimental-field-mask <FIELDS>',
      "like --field-mask, in the request's experimental section (older servers)",
      collectCommaSeparated,
    )
    .option('--use-default-field-masks', 'request only the fields compact, dict and table output show', false)
    .option(
      '--experimental-use-default-field-masks',
      'like --use-default-field-masks, in the experimental section',
      false,
    )
    .option('--allowlist <JSON>', 'an allowlist FlowFilter as JSON; repeatable', collect)
    .option('--denylist <JSON>', 'a denylist FlowFilter as JSON; repeatable', collect)
    .option('-D, --debug', 'also print informational node status events', false)
    .option(
      '--print-raw-filters',
      'print the allowlist/denylist the filter flags make, as YAML for --config, and exit without asking the server',
      false,
    )
    .option(
      '--input-file <FILE>',
      "read flows saved with -o json from FILE ('-': stdin) instead of a server; filters and --first/--last apply",
    );

  for (const spec of FILTER_FLAGS) {
    const flags = `${spec.short === undefined ? '' : `-${spec.short}, `}--${spec.name}${spec.boolean ? '' : ` <${spec.name.replace(/^(from|to)-/, '').toUpperCase()}>`}`;
    cmd.addOption(new Option(flags, spec.description).helpGroup('Filter Flags:'));
    // Commander emits one event per occurrence in command-line order: exactly what --not needs.
    cmd.on(`option:${spec.name}`, (value: string | boolean | undefined) => {
      filters.set(spec.name, typeof value === 'string' ? value : '');
    });
  }
  addConnectionOptions(cmd, ['allowlist', 'denylist']);

  return cmd.action(async (_opts: unknown, self: Command) => {
    const opts = self.opts();
    const plan = planObserve(opts, filters);
    if (opts['printRawFilters'] === true) {
      io.stdout.write(rawFiltersYaml(plan.request));
      return;
    }
    if (run !== undefined) return run(plan, self);
    const inputFile = opts['inputFile'] as string | undefined;
    if (inputFile !== undefined) return printFlowsFile(plan, inputFile, io);
    return streamFlows(plan, connectionOptionsFrom(opts), io);
  });
}

/**
 * The request's filters as `hubble observe --print-raw-filters` prints them: YAML (yaml.v3's layout) of each
 * FlowFilter as Go's json.Marshal writes it, ready to be the allowlist/denylist of a --config file.
 */
export function rawFiltersYaml(request: GetFlowsRequest): string {
  const asJson = (f: FlowFilter): string => goJsonLine(messageToJson(FlowFilter, 'flow.FlowFilter', f)).trimEnd();
  const lists: Record<string, string[]> = {};
  if (request.whitelist.length > 0) lists['allowlist'] = request.whitelist.map(asJson);
  if (request.blacklist.length > 0) lists['denylist'] = request.blacklist.map(asJson);
  return stringifyYaml(lists, { indent: 4, lineWidth: 0, singleQuote: true });
}

function printerFor(plan: ObservePlan, io: CliIo): FlowPrinter {
  return new FlowPrinter({
    ...plan.printer,
    color: colorsEnabled(plan.color, io.stdout as { isTTY?: boolean }),
    out: io.stdout,
    err: plan.silentErrors ? { write: () => true } : io.stderr,
  });
}

/** Prints the flows of a file written by `observe -o json`, selected as the request says. */
async function printFlowsFile(plan: ObservePlan, path: string, io: CliIo): Promise<void> {
  const printer = printerFor(plan, io);
  try {
    await readFlowsFile(path, plan.request, (res) => printer.write(res), {
      stderr: plan.silentErrors ? { write: () => true } : io.stderr,
    });
  } finally {
    printer.close();
  }
}

/** Sends the request and prints responses until the stream ends, fails, or the user interrupts. */
export async function streamFlows(
  plan: ObservePlan,
  connection: ReturnType<typeof connectionOptionsFrom>,
  io: CliIo,
): Promise<void> {
  const conn = HubbleConnection.open(connection);
  const printer = printerFor(plan, io);
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  const outer = io.signal;
  outer?.addEventListener('abort', onSigint, { once: true });
  if (outer === undefined) process.once('SIGINT', onSigint);
  try {
    await conn.waitConnected(stop.signal);
    if (stop.signal.aborted) return;
    await new Promise<void>((resolve, reject) => {
      const call = conn.observer.getFlows(plan.request);
      stop.signal.addEventListener('abort', () => call.cancel(), { once: true });
      call.on('data', (res: GetFlowsResponse) => {
        try {
          printer.write(res);
        } catch (err) {
          call.cancel();
          reject(err);
        }
      });
      call.on('error', (err: Error) => {
        if (isServiceError(err) && err.code === grpc.status.CANCELLED && stop.signal.aborted) resolve();
        else reject(new CliError(describeCallError(err, conn.server, 'GetFlows', conn.tls)));
      });
      call.on('end', () => resolve());
    });
  } finally {
    process.removeListener('SIGINT', onSigint);
    outer?.removeEventListener('abort', onSigint);
    printer.close();
    conn.close();
  }
}

// `hubble-ts record`: hubble's record command. Starts a recording on the server from 5-tuple filters, prints the
// live statistics line, stops on Ctrl-C (or a limit) and prints where the pcap file is.
import { Command } from 'commander';
import * as grpc from '@grpc/grpc-js';
import {
  Protocol,
  RecordRequest,
  type Filter,
  type RecordingStatistics,
  type RecordResponse,
  type StartRecording,
} from '../api/recorder/recorder.js';
import type { Timestamp } from '../api/google/protobuf/timestamp.js';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DownloadRequest } from '../api/hubblets/recordings/v1/recordings.js';
import { RECORDING_NAME_METADATA } from '../recorder/fileNames.js';
import { parseDurationMs } from '../server/config.js';
import {
  addConnectionOptions,
  CliError,
  connectionOptionsFrom,
  describeCallError,
  HubbleConnection,
  isServiceError,
} from './client.js';
import { PROCESS_IO, type CliIo } from './observe.js';
import { openDestination, runDownload } from './recordingDownload.js';
import { goDuration } from './status.js';

/** What a terminal needs to overwrite the previous status line (cursor up, erase line), as hubble does. */
const CLEAR_LAST_LINE = '\x1b[A\x1b[2K';
const MAX_UINT32 = 0xffff_ffff;

function parseProtocol(text: string): Protocol {
  switch (text.toUpperCase()) {
    case 'TCP':
      return Protocol.PROTOCOL_TCP;
    case 'UDP':
      return Protocol.PROTOCOL_UDP;
    case 'SCTP':
      return Protocol.PROTOCOL_SCTP;
    case 'ANY':
      return Protocol.PROTOCOL_ANY;
    default:
      throw new CliError(`unsupported protocol: ${text}`);
  }
}

function parsePort(text: string, side: 'source' | 'destination'): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new CliError(`invalid ${side} port: ${text}`);
  return Number(text);
}

/** Go's strings.SplitN(s, " ", n): at most n parts, the last one holding the rest. */
function splitN(s: string, n: number): string[] {
  const parts: string[] = [];
  let rest = s;
  while (parts.length < n - 1) {
    const at = rest.indexOf(' ');
    if (at === -1) break;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

/** hubble record's filter arguments: "SRC_PREFIX SRC_PORT DST_PREFIX DST_PORT PROTO" each. */
export function parseRecordFilters(args: readonly string[]): Filter[] {
  if (args.length === 0) throw new CliError('need to specify at least one filter');
  return args.map((arg) => {
    const f = splitN(arg, 5);
    if (f.length !== 5) throw new CliError(`invalid 5-tuple filter: [${f.map((p) => JSON.stringify(p)).join(' ')}]`);
    return {
      sourceCidr: f[0]!,
      sourcePort: parsePort(f[1]!, 'source'),
      destinationCidr: f[2]!,
      destinationPort: parsePort(f[3]!, 'destination'),
      protocol: parseProtocol(f[4]!),
    };
  });
}

/** hubble's statistics text: "N packets (B bytes) written", plus what was lost when anything was. */
export function formatRecordingStatistics(stats: RecordingStatistics | undefined): string {
  const s = stats ?? { packetsCaptured: 0, bytesCaptured: 0, packetsLost: 0, bytesLost: 0 };
  let text = `${s.packetsCaptured} packets (${s.bytesCaptured} bytes) written`;
  if (s.packetsLost > 0 || s.bytesLost > 0) text += ` and ${s.packetsLost} packets (${s.bytesLost} bytes) lost`;
  return text;
}

/** Go's time.RFC3339 layout of a response time, in UTC, whole seconds. */
export function formatResponseTime(time: Timestamp | undefined): string {
  return new Date((time?.seconds ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function count(flag: string, max: number): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v) || Number(v) > max) throw new CliError(`invalid argument "${v}" for "--${flag}" flag`);
    return Number(v);
  };
}

/** The StartRecording the flags and arguments describe. */
export function planRecord(args: readonly string[], opts: Record<string, unknown>): StartRecording {
  const include = parseRecordFilters(args);
  let timeLimitMs = 0;
  if (opts['timeLimit'] !== undefined) {
    try {
      timeLimitMs = parseDurationMs(String(opts['timeLimit']), '--time-limit');
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  return {
    filesink: { filePrefix: String(opts['filePrefix'] ?? 'hubble') },
    include,
    maxCaptureLength: (opts['maxCaptureLen'] as number | undefined) ?? 0,
    stopCondition: {
      bytesCapturedCount: (opts['bytesLimit'] as number | undefined) ?? 0,
      packetsCapturedCount: (opts['packetLimit'] as number | undefined) ?? 0,
      timeElapsed: { seconds: Math.floor(timeLimitMs / 1000), nanos: (timeLimitMs % 1000) * 1_000_000 },
    },
  };
}

function describeRecordError(err: unknown, server: string): string {
  if (isServiceError(err)) {
    switch (err.code) {
      case grpc.status.INVALID_ARGUMENT:
      case grpc.status.RESOURCE_EXHAUSTED:
      case grpc.status.FAILED_PRECONDITION:
      case grpc.status.DATA_LOSS:
      case grpc.status.INTERNAL:
        // The recorder's own refusals and failures say why in full; the code name tells scripts which one it was.
        return `recording failed (${grpc.status[err.code]}): ${err.details}`;
    }
  }
  return describeCallError(err, server, 'Record');
}

/** The status line a terminal shows while recording: hubble's, plus what was lost and how long it has run. */
export function formatLiveStatus(time: string, stats: RecordingStatistics | undefined, elapsedMs: number): string {
  const s = stats ?? { packetsCaptured: 0, bytesCaptured: 0, packetsLost: 0, bytesLost: 0 };
  const elapsed = goDuration(Math.floor(elapsedMs / 1000) * 1e9);
  return (
    `${time} Status: ${s.packetsCaptured} packets (${s.bytesCaptured} bytes) written, ` +
    `${s.packetsLost} packets (${s.bytesLost} bytes) lost, ${elapsed} elapsed`
  );
}

/** How often the terminal's status line is redrawn when no statistics arrive (the elapsed time still moves). */
const LIVE_REDRAW_MS = 1000;
/** How long a failed recording's download may take to fetch the rest of its file before it is cut short. */
const FAILED_DOWNLOAD_TAIL_MS = 5000;

/**
 * Runs one recording until the server reports it stopped; SIGINT/SIGTERM (or io.signal) asks it to stop, a second
 * one gives up waiting. With `output`, the pcap is downloaded from the recordings store as it is written (a new
 * FILE, or `-` for stdout, where the human-readable lines then go to stderr).
 */
export async function runRecord(
  conn: HubbleConnection,
  start: StartRecording,
  io: CliIo,
  output?: string,
): Promise<void> {
  const text = output === '-' ? io.stderr : io.stdout;
  const live = (text as { isTTY?: boolean }).isTTY === true;
  if (output !== undefined && output !== '-' && existsSync(output)) {
    throw new CliError(`${output} already exists: choose another --output (recordings are never written over files)`);
  }
  const dest = output === undefined ? undefined : openDestination(output, io);
  await conn.waitConnected();
  const call = conn.recorder().record();
  // The download follows the recording; only giving up (a second Ctrl-C) or a failed recording stops it early.
  const abandonDownload = new AbortController();
  let download: Promise<void> | undefined;
  const startDownload = (name: string, follow: boolean): void => {
    if (dest === undefined || download !== undefined) return;
    download = runDownload(conn, DownloadRequest.fromPartial({ name, follow }), dest, {
      ...io,
      signal: abandonDownload.signal,
    });
    // Awaited below; until then a failure must not surface as an unhandled rejection.
    download.catch(() => undefined);
  };
  let stopRequests = 0;
  const stop = (): void => {
    // A second interrupt gives up waiting: cancelling the stream also stops the recording on the server.
    if (++stopRequests > 1) {
      call.cancel();
      abandonDownload.abort();
      return;
    }
    io.stderr.write('Stopping recording...\n');
    call.write(RecordRequest.fromPartial({ stop: {} }));
  };
  const outer = io.signal;
  outer?.addEventListener('abort', stop);
  if (outer === undefined) {
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  }
  let redraw: NodeJS.Timeout | undefined;
  let filePath = '';
  try {
    await new Promise<void>((resolve, reject) => {
      let statusPrinted = false;
      let finished = false;
      let startedAt = 0;
      let lastStats: RecordingStatistics | undefined;
      let lastTime = '';
      const drawStatus = (): void => {
        if (statusPrinted) text.write(CLEAR_LAST_LINE);
        text.write(`${formatLiveStatus(lastTime, lastStats, Date.now() - startedAt)}\n`);
        statusPrinted = true;
      };
      call.on('metadata', (metadata: grpc.Metadata) => {
        const name = metadata.get(RECORDING_NAME_METADATA)[0];
        if (typeof name === 'string' && name !== '') startDownload(name, true);
      });
      call.on('data', (res: RecordResponse) => {
        if (res.running !== undefined) {
          if (!live) {
            text.write(`${formatResponseTime(res.time)} Status: ${formatRecordingStatistics(res.running.stats)}\n`);
            return;
          }
          if (startedAt === 0) {
            startedAt = Date.now();
            redraw = setInterval(drawStatus, LIVE_REDRAW_MS);
            redraw.unref();
          }
          lastStats = res.running.stats;
          lastTime = formatResponseTime(res.time);
          drawStatus();
        } else if (res.stopped !== undefined) {
          clearInterval(redraw);
          const time = formatResponseTime(res.time);
          filePath = res.stopped.filesink?.filePath ?? '';
          text.write(`${time} Result: ${formatRecordingStatistics(res.stopped.stats)}\n`);
          text.write(`${time} Output: ${filePath}\n`);
          finished = true;
          call.cancel();
          resolve();
        }
      });
      call.on('error', (err: Error) => {
        if (finished) return;
        if (isServiceError(err) && err.code === grpc.status.CANCELLED && stopRequests > 1) {
          reject(new CliError('recording abandoned; the server stops it and keeps its file'));
          return;
        }
        reject(new CliError(describeRecordError(err, conn.server)));
      });
      call.on('end', () => {
        if (!finished) reject(new CliError('the server ended the recording without a result'));
      });
      call.write(RecordRequest.fromPartial({ start }));
      io.stderr.write('Started recording. Press CTRL+C to stop.\n');
    });
  } catch (err) {
    // A recording that failed (the server's disk full, its file removed) ends its download where its file ends: let
    // the download get there, then keep what it got, a valid pcap. Given up (a second Ctrl-C): cut it short.
    if (stopRequests <= 1 && download !== undefined) {
      await Promise.race([download.catch(() => undefined), delay(FAILED_DOWNLOAD_TAIL_MS, undefined, { ref: false })]);
    }
    abandonDownload.abort();
    await download?.catch(() => undefined);
    if (
      dest !== undefined &&
      output !== '-' &&
      dest.written > 0 &&
      (await dest.finish().then(
        () => true,
        () => false,
      ))
    ) {
      const kept = `${output} holds the ${dest.written} bytes downloaded until then, a valid pcap`;
      throw err instanceof CliError ? new CliError(`${err.message}; ${kept}`) : err;
    }
    dest?.discard();
    throw err;
  } finally {
    clearInterval(redraw);
    outer?.removeEventListener('abort', stop);
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
  if (dest === undefined) return;
  // A server that did not name the recording up front (not hubble-ts): fetch the finished file by its name.
  startDownload(basename(filePath), false);
  try {
    await download;
  } catch (err) {
    if (err instanceof CliError) {
      throw new CliError(`${err.message}; the recording is on the server at ${filePath}`);
    }
    throw err;
  }
  if (output !== '-') io.stderr.write(`wrote ${output}\n`);
}

export function recordCommand(io: CliIo = PROCESS_IO): Command {
  const cmd = new Command('record')
    .usage('[flags] filter1 filter2 ... filterN')
    .description('capture and record network packets into a pcap file stored on the server')
    .addHelpText(
      'after',
      [
        '',
        'Each filter is "SRC_PREFIX SRC_PORT DST_PREFIX DST_PORT PROTO": port 0 is any port, PROTO one of',
        'TCP, UDP, SCTP, ANY. A packet matching any filter is recorded. Record all TCP traffic from',
        '192.168.1.0/24 (any source port) to 10.0.0.0/16 port 80:',
        '',
        '  hubble-ts record "192.168.1.0/24 0 10.0.0.0/16 80 TCP"',
        '',
      ].join('\n'),
    )
    .argument('[filters...]')
    .option('--file-prefix <PREFIX>', 'file prefix of the resulting pcap file', 'hubble')
    .option(
      '--max-capture-len <BYTES>',
      'sets the maximum capture length (zero for full capture)',
      count('max-capture-len', MAX_UINT32),
    )
    .option(
      '--packet-limit <N>',
      'sets a limit on how many packets to capture',
      count('packet-limit', Number.MAX_SAFE_INTEGER),
    )
    .option(
      '--bytes-limit <N>',
      'sets a limit on how many bytes to capture',
      count('bytes-limit', Number.MAX_SAFE_INTEGER),
    )
    .option('--time-limit <DURATION>', 'sets a limit on how long to capture (e.g. 30s, 5m)')
    .option(
      '-o, --output <FILE>',
      'also download the pcap as it is written: a new FILE, or - for stdout (e.g. `| wireshark -k -i -`)',
    );
  addConnectionOptions(cmd);
  return cmd.action(async (filters: string[], _opts: unknown, self: Command) => {
    const opts = self.opts();
    const start = planRecord(filters, opts);
    const conn = HubbleConnection.open(connectionOptionsFrom(opts));
    try {
      await runRecord(conn, start, io, opts['output'] as string | undefined);
    } finally {
      conn.close();
    }
  });
}

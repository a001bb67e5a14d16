// Validates a recorder.StartRecording as Hubble's recorder does and turns it into what a sink needs: a file prefix,
// compiled 5-tuple filters (the contract's RecordingFilter), the capture length and the stop conditions.
import * as grpc from '@grpc/grpc-js';
import type { Duration } from '../api/google/protobuf/duration.js';
import { Protocol, type Filter, type StartRecording } from '../api/recorder/recorder.js';
import { parsePrefix, type Prefix } from '../packet/ipAddress.js';
import { RecordingProtocol, type RecordingFilter, type StopCondition } from '../sink/types.js';
import { ApiError } from './apiError.js';

/** A file name prefix that passed `^[a-z][a-z0-9]{0,19}$`: safe in a file name, no separators. */
export type FilePrefix = string & { readonly __brand: 'FilePrefix' };

export const DEFAULT_FILE_PREFIX = 'hubble' as FilePrefix;
const FILE_PREFIX = /^[a-z][a-z0-9]{0,19}$/;
const MAX_PORT = 65535;
const MAX_TIME_LIMIT_MS = 2_147_483_647;
/**
 * Filters one recording may hold: each costs memory (about 1 KB compiled) and start-up time, and a request of a few MB
 * could name hundreds of thousands (180,000 took 200 MB and held the event loop for seconds).
 */
export const MAX_RECORDING_FILTERS = 10_000;

export interface RecordingRequest {
  filePrefix: FilePrefix;
  filters: RecordingFilter[];
  /** 0 keeps whole packets. */
  maxCaptureLength: number;
  stop: StopCondition;
}

function invalid(message: string): ApiError {
  return new ApiError(grpc.status.INVALID_ARGUMENT, message);
}

/** The prefix a request asks for, "hubble" when empty; refuses anything outside `^[a-z][a-z0-9]{0,19}$`. */
export function parseFilePrefix(prefix: string): FilePrefix {
  if (prefix === '') return DEFAULT_FILE_PREFIX;
  if (!FILE_PREFIX.test(prefix)) {
    throw invalid(`invalid file sink prefix: ${JSON.stringify(prefix)} (must match ^[a-z][a-z0-9]{0,19}$)`);
  }
  return prefix as FilePrefix;
}

const PROTOCOLS: ReadonlyMap<number, RecordingProtocol> = new Map([
  [Protocol.PROTOCOL_ANY, RecordingProtocol.ANY],
  [Protocol.PROTOCOL_TCP, RecordingProtocol.TCP],
  [Protocol.PROTOCOL_UDP, RecordingProtocol.UDP],
  [Protocol.PROTOCOL_SCTP, RecordingProtocol.SCTP],
]);

function parseCidr(text: string, side: 'source' | 'destination'): Prefix {
  const prefix = parsePrefix(text);
  if (typeof prefix === 'string') throw invalid(`failed to parse ${side} cidr ${JSON.stringify(text)}: ${prefix}`);
  return prefix;
}

/** One recorder.Filter: both CIDRs parse and share a family, ports fit 16 bits, the protocol is one we match. */
export function parseRecorderFilter(f: Filter): RecordingFilter {
  const source = parseCidr(f.sourceCidr, 'source');
  const destination = parseCidr(f.destinationCidr, 'destination');
  if (source.family !== destination.family) {
    throw invalid(`source (${f.sourceCidr}) and destination cidr (${f.destinationCidr}) must be same protocol version`);
  }
  if (f.sourcePort > MAX_PORT) throw invalid(`source port ${f.sourcePort} out of range (0-${MAX_PORT})`);
  if (f.destinationPort > MAX_PORT) throw invalid(`destination port ${f.destinationPort} out of range (0-${MAX_PORT})`);
  const protocol = PROTOCOLS.get(f.protocol);
  if (protocol === undefined) {
    throw invalid(
      `unsupported protocol ${f.protocol} (one of PROTOCOL_ANY, PROTOCOL_TCP, PROTOCOL_UDP, PROTOCOL_SCTP)`,
    );
  }
  return {
    source,
    sourcePort: f.sourcePort,
    destination,
    destinationPort: f.destinationPort,
    protocol,
  };
}

function durationMs(d: Duration | undefined): number {
  if (d === undefined) return 0;
  if (d.seconds < 0 || d.nanos < 0) throw invalid('stop_condition.time_elapsed must not be negative');
  if (d.nanos > 999_999_999) throw invalid(`stop_condition.time_elapsed: nanos ${d.nanos} out of range`);
  // Round up so a sub-millisecond limit still stops the recording rather than meaning "no limit".
  const ms = d.seconds * 1000 + Math.ceil(d.nanos / 1e6);
  // Node's timers cannot wait longer; a longer limit would fire at once instead.
  if (ms > MAX_TIME_LIMIT_MS) {
    throw invalid(
      `stop_condition.time_elapsed ${d.seconds}s is longer than the longest time limit (${MAX_TIME_LIMIT_MS / 1000}s, about 24 days)`,
    );
  }
  return ms;
}

/** A uint64 limit as a safe integer: beyond 2^53 no recording could reach it anyway, so it stays "that many". */
function count(value: number | undefined): number {
  return Math.min(value ?? 0, Number.MAX_SAFE_INTEGER);
}

/** Validates a start request in Hubble's order: prefix, then filters; each refusal is INVALID_ARGUMENT saying why. */
export function parseStartRecording(req: StartRecording): RecordingRequest {
  const filePrefix = parseFilePrefix(req.filesink?.filePrefix ?? '');
  if (req.include.length === 0) throw invalid('need to specify at least one include filter');
  if (req.include.length > MAX_RECORDING_FILTERS) {
    throw invalid(`${req.include.length} include filters; a recording may have at most ${MAX_RECORDING_FILTERS}`);
  }
  const filters = req.include.map(parseRecorderFilter);
  return {
    filePrefix,
    filters,
    maxCaptureLength: req.maxCaptureLength,
    stop: {
      packets: count(req.stopCondition?.packetsCapturedCount),
      bytes: count(req.stopCondition?.bytesCapturedCount),
      durationMs: durationMs(req.stopCondition?.timeElapsed),
    },
  };
}

// One recording: a bounded queue of pcap records in front of a PcapWriter, the stop conditions (packets, bytes,
// duration — whichever comes first, exactly), statistics coalesced for the recorder's stream, and one promise that
// says how it ended. The dispatcher hands it packets synchronously; everything slow happens in the writer's loop.

import { ETHERNET_HEADER_LENGTH, LINKTYPE_ETHERNET, PcapWriter, type PcapWriterOptions } from './pcapWriter.js';
import { SinkError } from './sinkError.js';
import {
  RecordingProtocol,
  type RecordingFilter,
  type RecordingStatistics,
  type Sink,
  type SinkEnd,
  type SinkEndReason,
  type SinkOptions,
  type StopCondition,
} from './types.js';

/** How often, at most, onStatistics is called while the statistics keep changing. */
export const STATISTICS_INTERVAL_MS = 200;
export const MIN_RULE_ID = 1;
export const MAX_RULE_ID = 65534;
/** Node's timers wait at most this long; a longer time limit would fire at once. */
export const MAX_TIME_LIMIT_MS = 2_147_483_647;

/**
 * Parts of the queue: from WRITE_AT full the writer writes what it has, full batch or not; from WAIT_AT full offer()
 * asks a source that can wait (a replay) to wait until the queue is below that again. A replay thus never fills the
 * queue, and the writes it waits for were mostly started long before.
 */
const WRITE_AT = 0.25;
const WAIT_AT = 0.75;

/** Knobs for tests and benchmarks; the defaults are what the server uses. */
export interface SinkTuning {
  writer?: Pick<PcapWriterOptions, 'batchBytes' | 'flushDelayMs' | 'identityCheckMs'>;
  statisticsIntervalMs?: number;
}

/** What the dispatcher learns from a sink it started. */
export interface SinkHooks {
  /** The sink stopped taking packets (it is closing its file): take it out of the matching index now. */
  onClosing(sink: RecordingSink): void;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Throws SinkError('BAD_OPTIONS') for options no recorder should send. */
export function checkSinkOptions(options: SinkOptions): void {
  const bad = (what: string) => {
    throw new SinkError('BAD_OPTIONS', `recording for ${options.path}: ${what}`);
  };
  if (!Number.isInteger(options.ruleId) || options.ruleId < MIN_RULE_ID || options.ruleId > MAX_RULE_ID)
    bad(`rule id ${options.ruleId} is not in ${MIN_RULE_ID}..${MAX_RULE_ID}`);
  if (!Number.isSafeInteger(options.queueSize) || options.queueSize < 1)
    bad(`queue size ${options.queueSize} is not a positive integer`);
  if (!isCount(options.maxCaptureLength)) bad(`max capture length ${options.maxCaptureLength} is not a byte count`);
  const stop: StopCondition = options.stop;
  if (!isCount(stop.packets)) bad(`packet limit ${stop.packets} is not a count`);
  if (!isCount(stop.bytes)) bad(`byte limit ${stop.bytes} is not a count`);
  if (!Number.isFinite(stop.durationMs) || stop.durationMs < 0 || stop.durationMs > MAX_TIME_LIMIT_MS)
    bad(`time limit ${stop.durationMs} ms is not a duration up to ${MAX_TIME_LIMIT_MS} ms (Node's longest timer)`);
  for (const f of options.filters) {
    if (f.source.family !== f.destination.family)
      bad(`filter ${f.source.text} -> ${f.destination.text} mixes families`);
    if (!PROTOCOLS.includes(f.protocol)) bad(`filter protocol ${f.protocol} is not ANY, TCP, UDP or SCTP`);
    if (!isPort(f.sourcePort) || !isPort(f.destinationPort))
      bad(`filter ports ${f.sourcePort} -> ${f.destinationPort} are not 0..65535`);
  }
}

const PROTOCOLS: readonly number[] = Object.values(RecordingProtocol);

function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

/** A running recording (see Sink in types.ts); started by SinkDispatcher.startSink. */
export class RecordingSink implements Sink {
  readonly ruleId: number;
  readonly path: string;
  readonly filters: readonly RecordingFilter[];
  readonly ended: Promise<SinkEnd>;
  /** The dispatcher's stamp of the last packet offered, so a packet several filters match is recorded once. */
  seen = 0;
  /** False from the moment the sink starts ending: the dispatcher offers it nothing more. */
  accepting = true;

  private readonly maxCaptureLength: number;
  private readonly queueSize: number;
  /** Queued records from which offer() asks the source to wait (see WAIT_AT). */
  private readonly waitAt: number;
  private readonly packetLimit: number;
  private readonly byteLimit: number;
  private readonly durationMs: number;
  /** performance.now() past which nothing more is taken; 0 without a time limit. */
  private deadline = 0;
  private durationTimer: NodeJS.Timeout | undefined;
  private writer: PcapWriter | undefined;

  // Statistics: captured = in the file (as upstream counts written records); accepted = queued or written.
  private packetsCaptured = 0;
  private bytesCaptured = 0;
  private packetsLost = 0;
  private bytesLost = 0;
  private packetsAccepted = 0;
  private bytesAccepted = 0;

  private readonly onStatistics: SinkOptions['onStatistics'];
  private readonly statisticsIntervalMs: number;
  private statisticsTimer: NodeJS.Timeout | undefined;
  private statisticsDirty = false;
  private lastStatisticsAt = -Infinity;

  private readonly growthListeners = new Set<(fileSize: number) => void>();
  private ending = false;
  /** The file is closed and `ended` resolved. */
  private closed = false;
  private resolveEnded!: (end: SinkEnd) => void;

  private constructor(
    options: SinkOptions,
    private readonly hooks: SinkHooks,
    tuning: SinkTuning,
  ) {
    this.ruleId = options.ruleId;
    this.path = options.path;
    this.filters = options.filters;
    this.maxCaptureLength = options.maxCaptureLength;
    this.queueSize = options.queueSize;
    this.waitAt = Math.ceil(options.queueSize * WAIT_AT);
    this.packetLimit = options.stop.packets;
    this.byteLimit = options.stop.bytes;
    this.durationMs = options.stop.durationMs;
    this.onStatistics = options.onStatistics;
    this.statisticsIntervalMs = tuning.statisticsIntervalMs ?? STATISTICS_INTERVAL_MS;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** Creates the file (header written) and starts the clock of the time limit; rejects with a SinkError. */
  static async start(options: SinkOptions, hooks: SinkHooks, tuning: SinkTuning = {}): Promise<RecordingSink> {
    checkSinkOptions(options);
    const sink = new RecordingSink(options, hooks, tuning);
    sink.writer = await PcapWriter.create(options.path, {
      ...tuning.writer,
      linkType: LINKTYPE_ETHERNET,
      snaplen: options.maxCaptureLength,
      writeAtRecords: Math.ceil(options.queueSize * WRITE_AT),
      onWritten: (fileSize, records, bytes) => sink.written(fileSize, records, bytes),
      onError: (error, records, bytes) => sink.failed(error, records, bytes),
    });
    if (sink.durationMs > 0) {
      sink.deadline = performance.now() + sink.durationMs;
      sink.durationTimer = setTimeout(() => void sink.end('time-limit'), sink.durationMs);
    }
    return sink;
  }

  get fileSize(): number {
    return this.writer!.fileSize;
  }

  /** Packets taken but not yet written to the file (the queue --sink-queue-size bounds). */
  get queuedPackets(): number {
    return this.closed ? 0 : (this.writer?.pendingRecords ?? 0);
  }

  statistics(): RecordingStatistics {
    return {
      packetsCaptured: this.packetsCaptured,
      bytesCaptured: this.bytesCaptured,
      packetsLost: this.packetsLost,
      bytesLost: this.bytesLost,
    };
  }

  onFileGrowth(listener: (fileSize: number) => void): () => void {
    if (this.closed) return () => undefined;
    this.growthListeners.add(listener);
    return () => void this.growthListeners.delete(listener);
  }

  stop(reason: 'stopped' | 'shutdown' = 'stopped'): Promise<SinkEnd> {
    return this.end(reason);
  }

  /**
   * While offer() asks sources to wait (the queue is WAIT_AT full): a promise that resolves once it is below that
   * again, or the sink has ended; undefined otherwise.
   */
  room(): Promise<void> | undefined {
    if (this.closed) return undefined;
    // A failure ends the sink through the writer's onError; for waiting it only means "nothing more to wait for".
    return this.writer?.waitBelow(this.waitAt);
  }

  /**
   * One matching packet, on the dispatcher's hot path: `dataLength` bytes of it at data[start], behind a synthesised
   * Ethernet header of type `etherType` when that is >= 0; `origLen` is the frame's length on the wire. Never
   * throws and never waits: a full queue drops and counts the packet. Returns true from WAIT_AT of the queue on,
   * asking a source that can wait to wait for room() before it publishes more.
   */
  offer(
    data: Uint8Array,
    start: number,
    dataLength: number,
    origLen: number,
    etherType: number,
    seconds: number,
    nanos: number,
  ): boolean {
    if (!this.accepting) return false;
    if (this.deadline > 0 && performance.now() >= this.deadline) {
      void this.end('time-limit');
      return false;
    }
    const frame = etherType >= 0 ? dataLength + ETHERNET_HEADER_LENGTH : dataLength;
    const max = this.maxCaptureLength;
    const inclLen = max > 0 && frame > max ? max : frame;
    const writer = this.writer!;
    if (writer.pendingRecords >= this.queueSize) {
      // Upstream counts what would have been written (the captured, cut length) as lost.
      this.packetsLost++;
      this.bytesLost += inclLen;
      this.statisticsChanged();
      return true;
    }
    writer.append(seconds, nanos, data, start, inclLen, origLen < frame ? frame : origLen, etherType);
    const packets = ++this.packetsAccepted;
    const bytes = (this.bytesAccepted += inclLen);
    // Upstream checks after each record: the record that reaches a limit is the last one (bytes may pass it).
    if (this.packetLimit > 0 && packets >= this.packetLimit) void this.end('packet-limit');
    else if (this.byteLimit > 0 && bytes >= this.byteLimit) void this.end('byte-limit');
    return writer.pendingRecords >= this.waitAt;
  }

  private written(fileSize: number, records: number, bytes: number): void {
    this.packetsCaptured += records;
    this.bytesCaptured += bytes;
    this.statisticsChanged();
    for (const listener of this.growthListeners) {
      try {
        listener(fileSize);
      } catch {
        // A follower's mistake must not stop the recording.
      }
    }
  }

  private failed(error: SinkError, records: number, bytes: number): void {
    this.packetsLost += records;
    this.bytesLost += bytes;
    this.statisticsChanged();
    void this.end('error', error);
  }

  private statisticsChanged(): void {
    this.statisticsDirty = true;
    if (this.onStatistics === undefined || this.statisticsTimer !== undefined || this.ending) return;
    const wait = this.lastStatisticsAt + this.statisticsIntervalMs - performance.now();
    this.statisticsTimer = setTimeout(this.emitStatistics, wait > 0 ? wait : 0);
  }

  private readonly emitStatistics = (): void => {
    this.statisticsTimer = undefined;
    if (!this.statisticsDirty || this.onStatistics === undefined) return;
    this.statisticsDirty = false;
    this.lastStatisticsAt = performance.now();
    try {
      this.onStatistics(this.statistics());
    } catch {
      // The recorder's stream may be gone; the recording goes on until it is stopped.
    }
  };

  private end(reason: SinkEndReason, error?: Error): Promise<SinkEnd> {
    if (this.ending) return this.ended;
    this.ending = true;
    this.accepting = false;
    if (this.durationTimer !== undefined) clearTimeout(this.durationTimer);
    this.hooks.onClosing(this);
    void this.close(reason, error);
    return this.ended;
  }

  private async close(reason: SinkEndReason, error: Error | undefined): Promise<void> {
    let failure = error;
    try {
      await this.writer!.close();
    } catch (closeError) {
      failure ??= closeError instanceof Error ? closeError : new Error(String(closeError));
    }
    if (this.statisticsTimer !== undefined) {
      clearTimeout(this.statisticsTimer);
      this.statisticsTimer = undefined;
    }
    // The final statistics, whatever the interval says: the stream's last running update matches the file.
    this.emitStatistics();
    this.growthListeners.clear();
    this.closed = true;
    const statistics = this.statistics();
    this.resolveEnded(failure !== undefined ? { reason: 'error', error: failure, statistics } : { reason, statistics });
  }
}

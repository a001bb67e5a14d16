// The recorder.Recorder service: one recording per Record stream, with Hubble's semantics. The first message must
// start a recording; the server answers with a running response at once and on (coalesced) statistics changes,
// and with one stopped response (final statistics, file path) on StopRecording, a stop condition or shutdown.
// A client that goes away stops its recording; an error while writing ends that stream alone, with a status.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Timestamp } from '../api/google/protobuf/timestamp.js';
import {
  RecordResponse,
  type RecorderServer,
  type RecordingStatistics as StatisticsMessage,
  type RecordRequest,
  type StartRecording,
} from '../api/recorder/recorder.js';
import type { RecordingStatistics, Sink, SinkEnd, SinkOptions } from '../sink/types.js';
import { ApiError, fileErrorCode, isFileExists, toGrpcStatus } from './apiError.js';
import { RECORDING_NAME_METADATA, recordingFileName } from './fileNames.js';
import { RuleIdPool } from './ruleIds.js';
import { parseStartRecording, type RecordingRequest } from './startRequest.js';
import type { RecordingsStore } from './store.js';

/** What the recorder needs from the sink dispatcher (the SinkDispatcher; tests may pass their own). */
export interface SinkStarter {
  startSink(options: SinkOptions): Promise<Sink>;
}

export interface RecorderOptions {
  sinks: SinkStarter;
  store: RecordingsStore;
  nodeName: string;
  /** Records each sink may hold while its file is written (--sink-queue-size). */
  sinkQueueSize: number;
  /** Defaults to Hubble's 1..65534. */
  ruleIds?: RuleIdPool;
  logger?: Logger | undefined;
  now?: () => number;
}

/** Attempts at a fresh name when the random part collides with an existing file, as Hubble retries. */
const FILE_EXISTS_RETRIES = 100;

function statisticsMessage(s: RecordingStatistics): StatisticsMessage {
  return {
    bytesCaptured: s.bytesCaptured,
    packetsCaptured: s.packetsCaptured,
    packetsLost: s.packetsLost,
    bytesLost: s.bytesLost,
  };
}

function timestamp(ms: number): Timestamp {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

function shuttingDown(): ApiError {
  return new ApiError(grpc.status.UNAVAILABLE, 'the server is shutting down; no new recordings');
}

function describeRequest(req: RecordRequest): string {
  if (req.start !== undefined) return 'a start request';
  if (req.stop !== undefined) return 'a stop request';
  return 'an empty request';
}

export class Recorder {
  readonly ruleIds: RuleIdPool;
  private readonly sessions = new Set<RecordSession>();
  private shuttingDown = false;

  constructor(private readonly options: RecorderOptions) {
    this.ruleIds = options.ruleIds ?? new RuleIdPool();
  }

  /** The grpc-js implementation of recorder.Recorder. */
  readonly service: RecorderServer = {
    record: (call) => {
      const session = new RecordSession(call, this.options, this);
      this.sessions.add(session);
      void session.done.then(() => this.sessions.delete(session));
    },
  };

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Record streams not yet answered: waiting for a start, recording, or stopping. */
  get activeRecordings(): number {
    return this.sessions.size;
  }

  /**
   * Refuses new recordings, stops every running one (each client gets its stopped response; each file is complete)
   * and resolves once every Record stream has been answered.
   */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    await Promise.all([...this.sessions].map((s) => s.shutdown()));
  }

  /** Creates the recording's file through the sink dispatcher, retrying on a name that already exists. */
  async startSink(
    req: RecordingRequest,
    ruleId: number,
    onStatistics: () => void,
  ): Promise<{ sink: Sink; name: string }> {
    const { store, nodeName, sinks, sinkQueueSize } = this.options;
    const now = this.options.now ?? Date.now;
    for (let attempt = 1; ; attempt++) {
      const name = recordingFileName(req.filePrefix, nodeName, now());
      const path = join(store.dir, name);
      store.reserve(name);
      try {
        const sink = await sinks.startSink({
          ruleId,
          filters: req.filters,
          maxCaptureLength: req.maxCaptureLength,
          stop: req.stop,
          path,
          queueSize: sinkQueueSize,
          onStatistics,
        });
        store.track(name, sink);
        return { sink, name };
      } catch (err) {
        store.abandon(name);
        if (isFileExists(err) && attempt < FILE_EXISTS_RETRIES) continue;
        // A sink's message already names the file; an errno's does too (Node puts the path in it).
        throw new ApiError(fileErrorCode(err, 'create'), `failed to create pcap file: ${(err as Error).message}`);
      }
    }
  }
}

type Phase = 'awaiting-start' | 'starting' | 'running' | 'done';

/** One Record stream and the recording it runs. */
class RecordSession {
  private phase: Phase = 'awaiting-start';
  private sink: Sink | undefined;
  private path = '';
  /** Stop as soon as the sink exists (a stop, half-close, cancel or shutdown arrived while it was being created). */
  private stopWanted: 'stopped' | 'shutdown' | undefined;
  private cancelled = false;
  private writeBlocked = false;
  private runningPending = false;
  private resolveDone!: () => void;
  /** Resolves when the stream has been answered (stopped response or error status) or the client is gone. */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));
  private readonly now: () => number;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly call: grpc.ServerDuplexStream<RecordRequest, RecordResponse>,
    private readonly options: RecorderOptions,
    private readonly recorder: Recorder,
  ) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    call.on('data', (req: RecordRequest) => this.onRequest(req));
    // A half-close means the client will send nothing more; like Hubble's CLI going away, it stops the recording.
    call.on('end', () => {
      if (this.phase === 'awaiting-start') {
        this.fail(new ApiError(grpc.status.INVALID_ARGUMENT, 'stream closed before a start request was received'));
      } else {
        this.requestStop('stopped');
      }
    });
    call.on('cancelled', () => {
      this.cancelled = true;
      if (this.phase === 'awaiting-start') this.finish();
      else this.requestStop('stopped');
    });
  }

  private onRequest(req: RecordRequest): void {
    switch (this.phase) {
      case 'awaiting-start':
        if (req.start === undefined) {
          this.fail(
            new ApiError(
              grpc.status.INVALID_ARGUMENT,
              `received ${describeRequest(req)}, expected a start request as the first message`,
            ),
          );
          return;
        }
        this.phase = 'starting';
        void this.start(req.start);
        return;
      case 'starting':
      case 'running':
        if (req.stop !== undefined) {
          this.requestStop('stopped');
          return;
        }
        // The recording already running is stopped (its file stays valid) and the stream ends with the refusal.
        this.fail(
          new ApiError(
            grpc.status.INVALID_ARGUMENT,
            `received ${describeRequest(req)}, expected a stop request (this stream is already recording)`,
          ),
        );
        return;
      case 'done':
        return;
    }
  }

  private async start(startRequest: StartRecording): Promise<void> {
    if (this.recorder.isShuttingDown) {
      this.fail(shuttingDown());
      return;
    }
    let request: RecordingRequest;
    try {
      request = parseStartRecording(startRequest);
    } catch (err) {
      this.fail(err);
      return;
    }
    const ruleIds = this.recorder.ruleIds;
    const ruleId = ruleIds.lease();
    if (ruleId === undefined) {
      this.fail(
        new ApiError(
          grpc.status.RESOURCE_EXHAUSTED,
          `unable to allocate capture rule id: all ${ruleIds.size} are in use by running recordings`,
        ),
      );
      return;
    }
    let started: { sink: Sink; name: string };
    try {
      started = await this.recorder.startSink(request, ruleId, () => this.sendRunning());
    } catch (err) {
      ruleIds.release(ruleId);
      // The dispatcher refuses new sinks once it is shutting down; say so rather than blame the request.
      this.fail(this.recorder.isShuttingDown ? shuttingDown() : err);
      return;
    }
    const { sink, name } = started;
    this.sink = sink;
    this.path = sink.path;
    // The id goes back to the pool only once the sink has stopped using it.
    void sink.ended.then((end) => {
      ruleIds.release(ruleId);
      this.onSinkEnded(end);
    });
    this.logger?.info({ recording: name, ruleId }, 'recording started');
    if (this.phase === 'done') {
      // The stream failed or was cancelled while the file was being created: the recording must not outlive it.
      void sink.stop('stopped');
      return;
    }
    this.phase = 'running';
    // Our addition, invisible to Hubble clients: the recording's name before its first response, so a client can
    // follow the file in the recordings store while it is being written (`hubble-ts record --output -`).
    const metadata = new grpc.Metadata();
    metadata.set(RECORDING_NAME_METADATA, name);
    this.call.sendMetadata(metadata);
    this.sendRunning();
    if (this.stopWanted !== undefined || this.recorder.isShuttingDown) void sink.stop(this.stopWanted ?? 'shutdown');
  }

  /** Stops the recording; the stopped response follows when the sink has ended. */
  private requestStop(reason: 'stopped' | 'shutdown'): void {
    if (this.sink === undefined) {
      this.stopWanted ??= reason;
      return;
    }
    void this.sink.stop(reason);
  }

  shutdown(): Promise<void> {
    if (this.phase === 'awaiting-start') {
      this.fail(shuttingDown());
    } else {
      this.requestStop('shutdown');
    }
    return this.done;
  }

  /** Writes a running response with the latest statistics, at most one waiting in the stream at a time. */
  private sendRunning(): void {
    if (this.phase !== 'running' || this.sink === undefined || this.cancelled) return;
    if (this.writeBlocked) {
      this.runningPending = true;
      return;
    }
    const ok = this.call.write(this.response({ running: { stats: statisticsMessage(this.sink.statistics()) } }));
    if (!ok) {
      this.writeBlocked = true;
      this.call.once('drain', () => {
        this.writeBlocked = false;
        if (this.runningPending) {
          this.runningPending = false;
          this.sendRunning();
        }
      });
    }
  }

  private onSinkEnded(end: SinkEnd): void {
    this.logger?.info(
      { recording: this.path, reason: end.reason, ...end.statistics, err: end.error?.message },
      'recording ended',
    );
    if (this.phase === 'done') return;
    if (end.reason === 'error') {
      const cause = end.error ?? new Error('unknown error');
      this.fail(new ApiError(fileErrorCode(cause, 'write'), `recording failed: ${cause.message}`));
      return;
    }
    this.phase = 'done';
    if (!this.cancelled) {
      this.call.write(
        this.response({
          stopped: { stats: statisticsMessage(end.statistics), filesink: { filePath: this.path } },
        }),
      );
      this.call.end();
    }
    this.finish();
  }

  /** Ends the stream with an error status; a recording already running is stopped and its file kept. */
  private fail(err: unknown): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    if (this.sink !== undefined) void this.sink.stop('stopped');
    if (!this.cancelled) this.call.emit('error', toGrpcStatus(err, 'Record'));
    this.finish();
  }

  private finish(): void {
    this.phase = 'done';
    this.resolveDone();
  }

  private response(body: Pick<RecordResponse, 'running' | 'stopped'>): RecordResponse {
    return { nodeName: this.options.nodeName, time: timestamp(this.now()), ...body };
  }
}

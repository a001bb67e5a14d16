// Hubble's flow exporter: every decoded event that passes the allow/deny lists goes to a file as one JSON line, an
// observer.ExportEvent exactly as Hubble's exporter writes it. The Observer hands events over through a hook and never
// waits: they wait in a bounded queue (a full one drops and counts), are encoded and written in batches, and a write
// error (a full disk) stops exporting, with one log line, until a periodic retry succeeds.
import type { Logger } from 'pino';
import type { FlowFilter } from '../api/flow/flow.js';
import { ExportEvent } from '../api/observer/observer.js';
import { FlowFieldMask } from '../observer/fieldMask.js';
import { compileEventFilters, type EventPredicate } from '../observer/filters/index.js';
import type { DecodedEvent } from '../observer/parser/index.js';
import { compiledPrinter } from '../protojson/compiledPrinter.js';
import { goJsonEscape } from '../protojson/protojson.js';
import { RotatingFile, type LineBatch } from './rotatingFile.js';

/** The export settings, validated (see serveOptions): Hubble's --hubble-export-* agent flags. */
export interface ExportOptions {
  /** Absolute path of the file events are written to. */
  filePath: string;
  maxSizeBytes: number;
  /** Rotated files to keep; 0 keeps every one. */
  maxBackups: number;
  compress: boolean;
  allow: FlowFilter[];
  deny: FlowFilter[];
  /** flow.Flow paths to keep (e.g. "time", "source.identity"); empty keeps the whole flow. */
  fieldMask: string[];
}

/** Counters a metrics module (or a test) reads; they only ever grow, except `paused` and `queued`. */
export interface ExporterStats {
  /** Events written to the file. */
  written: number;
  /** Events that will not be written: the queue was full (the file fell behind, or exporting was stopped). */
  dropped: number;
  /** Times exporting stopped because the file could not be written (full disk, I/O error, ...). */
  errors: number;
  /** The last write error, e.g. "ENOSPC: no space left on device, write". */
  lastError: string | undefined;
  /** True while exporting is stopped by a write error; a retry runs every few seconds. */
  paused: boolean;
  /** Events waiting in the queue to be encoded and written. */
  queued: number;
}

/** Where the lines go: the rotating export file, or a stand-in in tests. */
export interface LineFile {
  write(batch: LineBatch): Promise<void>;
  close(): Promise<void>;
}

export interface FlowExporterOptions {
  logger: Logger;
  /** Events held while the file is written; beyond this they are dropped and counted. */
  queueSize?: number;
  /** How long after a failed write (or open) the next attempt is made. */
  retryIntervalMs?: number;
}

export const DEFAULT_EXPORT_QUEUE_SIZE = 8192;
export const DEFAULT_EXPORT_RETRY_MS = 5000;
/** Events encoded per write: big enough for few syscalls, small enough to give the event loop back often. */
const BATCH_EVENTS = 256;

/** Errors that may go away by themselves (space freed, descriptors released): at startup they pause, not refuse. */
const TRANSIENT_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'ENOMEM']);

/** The export file cannot be opened for a reason the user must fix (permissions, a directory in the way, ...). */
export class ExportFileError extends Error {
  override readonly name = 'ExportFileError';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class FlowExporter {
  readonly stats: ExporterStats = { written: 0, dropped: 0, errors: 0, lastError: undefined, paused: false, queued: 0 };

  private readonly filePath: string;
  private readonly openFile: () => Promise<LineFile>;
  private readonly matches: EventPredicate;
  private readonly mask: FlowFieldMask | undefined;
  private readonly print = compiledPrinter(ExportEvent, 'observer.ExportEvent');
  private readonly logger: Logger;
  private readonly retryMs: number;
  private file: LineFile | undefined;

  private readonly queue: (DecodedEvent | undefined)[];
  private head = 0;
  private size = 0;
  /** The batch being written, or the one that failed and is retried first. */
  private pending: LineBatch | undefined;
  private draining: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retrying: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private closing = false;
  private closed: Promise<void> | undefined;
  /** Set while the queue overflows, so an overflow is logged once, with its total when it ends. */
  private droppedBeforeOverflow: number | undefined;
  private stoppedAt = 0;
  /** When the write in progress started (Date.now()), for telling a slow file from a hung one. */
  private writingSince: number | undefined;
  private droppedBeforeStop = 0;

  /**
   * Opens the export file and returns the exporter to register as the Observer's onDecodedEvent hook. Throws
   * ExportFileError when the file cannot be opened for good; a full disk instead starts it stopped, retrying.
   */
  static async start(opts: ExportOptions, options: FlowExporterOptions): Promise<FlowExporter> {
    const exporter = new FlowExporter(
      opts,
      () =>
        RotatingFile.open({
          path: opts.filePath,
          maxSizeBytes: opts.maxSizeBytes,
          maxBackups: opts.maxBackups,
          compress: opts.compress,
          logger: options.logger,
        }),
      options,
    );
    await exporter.openAtStart();
    options.logger.info(
      {
        file: opts.filePath,
        maxSizeBytes: opts.maxSizeBytes,
        maxBackups: opts.maxBackups,
        compress: opts.compress,
        allowFilters: opts.allow.length,
        denyFilters: opts.deny.length,
        fieldMask: opts.fieldMask,
      },
      'exporting events to file',
    );
    return exporter;
  }

  /** Filters and mask must already be valid (serveOptions checked them); `openFile` is called at start and on retry. */
  constructor(
    opts: Pick<ExportOptions, 'filePath' | 'allow' | 'deny' | 'fieldMask'>,
    openFile: () => Promise<LineFile>,
    options: FlowExporterOptions,
  ) {
    this.filePath = opts.filePath;
    this.openFile = openFile;
    this.matches = compileEventFilters(opts.allow, opts.deny);
    this.mask = FlowFieldMask.compile(opts.fieldMask);
    this.logger = options.logger;
    this.retryMs = options.retryIntervalMs ?? DEFAULT_EXPORT_RETRY_MS;
    const queueSize = options.queueSize ?? DEFAULT_EXPORT_QUEUE_SIZE;
    if (!Number.isInteger(queueSize) || queueSize < 1) throw new RangeError(`export queue size ${queueSize}`);
    this.queue = new Array<DecodedEvent | undefined>(queueSize);
  }

  /** Opens the file; a permanent failure throws ExportFileError, a transient one starts the exporter stopped. */
  async openAtStart(): Promise<void> {
    try {
      this.file = await this.openFile();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === undefined || !TRANSIENT_CODES.has(code)) {
        throw new ExportFileError(`cannot open export file ${this.filePath}: ${describe(err)}`);
      }
      this.stop(err);
    }
  }

  /**
   * The Observer's onDecodedEvent hook: O(1), never waits, never throws, never stops the event from reaching the
   * ring (returns false, as Hubble's exporter does).
   */
  readonly onDecodedEvent = (event: DecodedEvent): boolean => {
    if (this.closing) return false;
    let selected: boolean;
    try {
      selected = this.matches(event);
    } catch {
      selected = false; // a filter that cannot judge an event does not export it, and must not cost the ring it
    }
    if (!selected) return false;
    const capacity = this.queue.length;
    if (this.size === capacity) {
      this.stats.dropped++;
      this.noteOverflow();
      return false;
    }
    this.queue[(this.head + this.size) % capacity] = event;
    this.size++;
    this.stats.queued = this.size;
    if (this.draining === undefined && !this.stats.paused) this.startDrain();
    return false;
  };

  /**
   * While events wait to be written: a promise that resolves once they are (a replayed capture waits on it between
   * chunks, so a replay is exported whole), or after the retry interval at the latest; undefined when nothing waits
   * or exporting is stopped (never wait on that).
   */
  backlog(): Promise<void> | undefined {
    // A write that hangs (a stuck network file system) is treated like a stopped exporter: waiting would not help.
    if (this.idle() || this.writeHung()) return undefined;
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      setTimeout(resolve, this.retryMs).unref();
    });
  }

  private writeHung(): boolean {
    return this.writingSince !== undefined && Date.now() - this.writingSince > this.retryMs;
  }

  /** Stops taking events, writes what is queued (trying once more if stopped by an error), closes the file. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.retrying;
    if (this.stats.paused) await this.retry();
    while (!this.stats.paused && (this.size > 0 || this.pending !== undefined)) {
      await (this.draining ?? this.startDrain());
    }
    await this.draining;
    const unwritten = this.size + (this.pending === undefined ? 0 : this.pending.lines.length - this.pending.written);
    this.stats.dropped += unwritten;
    this.queue.fill(undefined);
    this.size = 0;
    this.stats.queued = 0;
    this.pending = undefined;
    this.wakeIdleWaiters();
    try {
      await this.file?.close();
    } catch (err) {
      this.logger.warn({ file: this.filePath, err: describe(err) }, 'export file did not close cleanly');
    }
    const { written, dropped, errors } = this.stats;
    this.logger.info({ file: this.filePath, written, dropped, errors }, 'flow export closed');
  }

  private idle(): boolean {
    return this.stats.paused || (this.size === 0 && this.pending === undefined);
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  private startDrain(): Promise<void> {
    // setImmediate: events published in one go (a replay chunk) are batched instead of written one by one.
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.drain())
      .finally(() => {
        this.draining = undefined;
        if (this.idle()) this.wakeIdleWaiters();
        else if (!this.closing) this.startDrain();
      });
    this.draining = run;
    return run;
  }

  private async drain(): Promise<void> {
    while (!this.stats.paused) {
      const batch = this.pending ?? this.takeBatch();
      if (batch === undefined) break;
      this.pending = batch;
      if (!(await this.writeBatch(batch))) {
        return;
      }
      this.pending = undefined;
    }
    if (this.size === 0 && this.droppedBeforeOverflow !== undefined) {
      this.logger.info(
        { file: this.filePath, dropped: this.stats.dropped - this.droppedBeforeOverflow },
        'flow export caught up after dropping events',
      );
      this.droppedBeforeOverflow = undefined;
    }
  }

  /** Writes what is left of the batch; on failure stops exporting and returns false. */
  private async writeBatch(batch: LineBatch): Promise<boolean> {
    const before = batch.written;
    this.writingSince = Date.now();
    try {
      await this.file!.write(batch);
      return true;
    } catch (err) {
      this.stop(err);
      return false;
    } finally {
      this.writingSince = undefined;
      this.stats.written += batch.written - before;
    }
  }

  /** Up to BATCH_EVENTS queued events as lines; undefined when the queue is empty. */
  private takeBatch(): LineBatch | undefined {
    if (this.size === 0) return undefined;
    const lines: Buffer[] = [];
    const capacity = this.queue.length;
    while (this.size > 0 && lines.length < BATCH_EVENTS) {
      const event = this.queue[this.head]!;
      this.queue[this.head] = undefined;
      this.head = (this.head + 1) % capacity;
      this.size--;
      try {
        lines.push(Buffer.from(this.encode(event)));
      } catch (err) {
        this.stats.dropped++;
        this.logger.warn({ err: describe(err), kind: event.kind }, 'event could not be encoded for export');
      }
    }
    this.stats.queued = this.size;
    return { lines, written: 0 };
  }

  /** The event as upstream's exporter writes it: an ExportEvent line, through Go's json.Encoder. */
  private encode(e: DecodedEvent): string {
    let message: ExportEvent;
    switch (e.kind) {
      case 'flow': {
        // Upstream takes time and node_name from the flow after masking: a mask without them leaves them out.
        const flow = this.mask === undefined ? e.flow : this.mask.apply(e.flow);
        message = { flow, nodeName: flow.nodeName, time: flow.time };
        break;
      }
      case 'agent':
        message = { agentEvent: e.agentEvent, nodeName: e.nodeName, time: e.timestamp };
        break;
      case 'debug':
        message = { debugEvent: e.debugEvent, nodeName: e.nodeName, time: e.timestamp };
        break;
      case 'lost':
        message = { lostEvents: e.lostEvent, nodeName: e.nodeName, time: e.timestamp };
        break;
    }
    return `${goJsonEscape(this.print(message))}\n`;
  }

  private noteOverflow(): void {
    // While stopped, dropping is expected and the resume line gives the count.
    if (this.droppedBeforeOverflow !== undefined || this.stats.paused) return;
    this.droppedBeforeOverflow = this.stats.dropped - 1;
    this.logger.warn(
      { file: this.filePath, queueSize: this.queue.length },
      'flow export queue full: dropping events until the file catches up',
    );
  }

  private stop(err: unknown): void {
    this.stats.paused = true;
    this.stats.errors++;
    this.stats.lastError = describe(err);
    this.stoppedAt = Date.now();
    this.droppedBeforeStop = this.stats.dropped;
    this.droppedBeforeOverflow = undefined;
    this.logger.error(
      { file: this.filePath, err: this.stats.lastError, retryEveryMs: this.retryMs },
      'flow export stopped: the export file cannot be written; events are dropped until a retry succeeds',
    );
    this.wakeIdleWaiters();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closing) return;
    this.retryTimer = setTimeout(() => {
      this.retrying = this.retry().finally(() => (this.retrying = undefined));
    }, this.retryMs);
    this.retryTimer.unref();
  }

  /** One attempt to write again: the file (if it never opened), then the batch that failed. */
  private async retry(): Promise<void> {
    this.retryTimer = undefined;
    try {
      this.file ??= await this.openFile();
      if (this.pending !== undefined) {
        const batch = this.pending;
        const before = batch.written;
        try {
          await this.file.write(batch);
        } finally {
          this.stats.written += batch.written - before;
        }
        this.pending = undefined;
      }
    } catch (err) {
      this.stats.lastError = describe(err);
      this.scheduleRetry();
      return;
    }
    this.stats.paused = false;
    this.logger.info(
      {
        file: this.filePath,
        stoppedForMs: Date.now() - this.stoppedAt,
        dropped: this.stats.dropped - this.droppedBeforeStop,
      },
      'flow export resumed',
    );
    if (!this.closing && this.size > 0 && this.draining === undefined) this.startDrain();
  }
}

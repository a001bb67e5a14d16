// The recordings store: the pcap files in --recordings-dir, which of them are still being written, their final
// statistics when this process recorded them, downloads that can follow a running recording, deletion, and
// retention by total size and age. Only names the recorder writes, directly in the directory, as regular files
// with a single link, are ever listed, read or removed: a name from a client never leads outside the directory.
import { constants } from 'node:fs';
import { lstat, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { RecordingStatistics, Sink } from '../sink/types.js';
import { ApiError } from './apiError.js';
import { parseRecordingName } from './fileNames.js';

export interface StoredRecording {
  name: string;
  /** Absolute path on this node. */
  path: string;
  /** Bytes readable as a valid pcap (for a running recording, what its sink has written so far). */
  size: number;
  createdMs: number;
  modifiedMs: number;
  /** Known while running and for recordings that ended in this process; undefined otherwise. */
  stats: RecordingStatistics | undefined;
  running: boolean;
  nodeName: string;
}

export interface RecordingsStoreOptions {
  /** The prepared recordings directory (see prepareRecordingsDir): its real path. */
  dir: string;
  /** Total bytes kept; the oldest finished recordings go first when over. 0: no limit. */
  maxBytes?: number;
  /** Finished recordings last written longer ago than this are removed. 0: no limit. */
  maxAgeMs?: number;
  /** How often retention runs besides at startup and after each recording (default one minute). */
  retentionIntervalMs?: number;
  logger?: Logger | undefined;
  now?: () => number;
}

/** Download chunk size: large enough for few messages, small enough to keep a follower close to the writer. */
const CHUNK_BYTES = 64 * 1024;
/** Final statistics remembered for List; older entries are forgotten first. */
const MAX_REMEMBERED_STATISTICS = 4096;

function notFound(name: string, why = 'no such recording'): ApiError {
  return new ApiError(grpc.status.NOT_FOUND, `recording ${JSON.stringify(name)}: ${why}`);
}

/** Waits until the sink has written past `offset`, or `signal` fires (the sink ended, or the reader went away). */
function waitForGrowth(sink: Sink, offset: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (sink.fileSize > offset || signal.aborted) {
      resolve();
      return;
    }
    let unsubscribe = (): void => undefined;
    const done = (): void => {
      unsubscribe();
      signal.removeEventListener('abort', done);
      resolve();
    };
    unsubscribe = sink.onFileGrowth((size) => {
      if (size > offset) done();
    });
    signal.addEventListener('abort', done, { once: true });
  });
}

export class RecordingsStore {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  /** Names whose file is being created: not listed, never removed. */
  private readonly starting = new Set<string>();
  private readonly running = new Map<string, { sink: Sink; ended: Promise<unknown> }>();
  private readonly finalStatistics = new Map<string, RecordingStatistics>();
  private retention: Promise<string[]> | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(options: RecordingsStoreOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes ?? 0;
    this.maxAgeMs = options.maxAgeMs ?? 0;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    if (this.maxBytes > 0 || this.maxAgeMs > 0) {
      this.timer = setInterval(() => void this.applyRetention(), options.retentionIntervalMs ?? 60_000);
      this.timer.unref();
    }
  }

  // ---- Bookkeeping for the recorder ----

  /** The recorder is about to create `name`: hide it from List and retention until it runs or is abandoned. */
  reserve(name: string): void {
    this.starting.add(name);
  }

  abandon(name: string): void {
    this.starting.delete(name);
  }

  /** `name` is being written by `sink`; when the sink ends, its statistics are kept and retention runs. */
  track(name: string, sink: Sink): void {
    this.starting.delete(name);
    const ended = sink.ended.then((end) => {
      this.running.delete(name);
      this.remember(name, end.statistics);
      void this.applyRetention();
    });
    this.running.set(name, { sink, ended });
  }

  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  private remember(name: string, statistics: RecordingStatistics): void {
    this.finalStatistics.set(name, { ...statistics });
    if (this.finalStatistics.size > MAX_REMEMBERED_STATISTICS) {
      this.finalStatistics.delete(this.finalStatistics.keys().next().value!);
    }
  }

  // ---- What clients see ----

  /** Every recording in the directory, oldest first. */
  async list(): Promise<StoredRecording[]> {
    const entries = await readdir(this.dir, { withFileTypes: true });
    const out: StoredRecording[] = [];
    for (const entry of entries) {
      // Dirent types come from the directory itself: symlinks and anything else not a plain file are skipped here.
      if (!entry.isFile() || this.starting.has(entry.name)) continue;
      const parsed = parseRecordingName(entry.name);
      if (parsed === undefined) continue;
      const path = join(this.dir, entry.name);
      const st = await lstat(path).catch(() => undefined);
      if (st === undefined || !isPlainFile(st)) continue;
      const running = this.running.get(entry.name)?.sink;
      out.push({
        name: entry.name,
        path,
        size: running ? running.fileSize : st.size,
        createdMs: st.birthtimeMs > 0 ? st.birthtimeMs : parsed.startedAtSeconds * 1000,
        modifiedMs: st.mtimeMs,
        stats: running ? running.statistics() : this.finalStatistics.get(entry.name),
        running: running !== undefined,
        nodeName: parsed.nodeName,
      });
    }
    return out.sort((a, b) => a.createdMs - b.createdMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Validates a client's name against the store; resolves with the file's path and what lstat saw. */
  private async lookup(name: string): Promise<{ path: string; st: Stats }> {
    if (parseRecordingName(name) === undefined) {
      throw new ApiError(
        grpc.status.INVALID_ARGUMENT,
        `${JSON.stringify(name)} is not a recording name (expected PREFIX_SECONDS_RANDOM_NODE.pcap, as List shows)`,
      );
    }
    if (this.starting.has(name)) throw notFound(name);
    const path = join(this.dir, name);
    const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw notFound(name);
      throw err;
    });
    if (!isPlainFile(st)) throw notFound(name, 'not a regular file with a single link');
    return { path, st };
  }

  /**
   * The bytes of a recording in chunks. A running recording is read only up to what its sink has written (every
   * chunk boundary is the end of a pcap record); with `follow` the stream goes on as the file grows and ends
   * after the recording's last record.
   */
  async *download(name: string, follow: boolean, signal: AbortSignal): AsyncGenerator<Buffer> {
    const { path, st } = await this.lookup(name);
    let fh: FileHandle;
    try {
      // O_NOFOLLOW: a symlink swapped in after lookup() is refused, not followed.
      fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ELOOP')
        throw notFound(name);
      throw err;
    }
    try {
      const opened = await fh.stat();
      if (!isPlainFile(opened) || opened.ino !== st.ino || opened.dev !== st.dev) throw notFound(name, 'it changed');
      const live = this.running.get(name);
      let offset = 0;
      let ended = live === undefined;
      // One listener each for the whole download (not one per wait): stop waiting when the sink ends or the reader goes.
      const stopWaiting = new AbortController();
      const onAbort = (): void => stopWaiting.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      void live?.ended.then(() => {
        ended = true;
        stopWaiting.abort();
      });
      try {
        for (;;) {
          // Once the sink has ended its file is complete and closed: read to the end.
          const limit = ended || live === undefined ? Infinity : live.sink.fileSize;
          while (offset < limit && !signal.aborted) {
            const want = Math.min(CHUNK_BYTES, limit - offset);
            const chunk = Buffer.allocUnsafe(want);
            const { bytesRead } = await fh.read(chunk, 0, want, offset);
            if (bytesRead === 0) break;
            offset += bytesRead;
            yield bytesRead === want ? chunk : chunk.subarray(0, bytesRead);
          }
          if (ended || !follow || signal.aborted || live === undefined) return;
          await waitForGrowth(live.sink, offset, stopWaiting.signal);
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    } finally {
      await fh.close();
    }
  }

  /** Removes a recording; a running one only with `stopIfRunning` (it is stopped first, leaving a valid file). */
  async delete(name: string, stopIfRunning: boolean): Promise<{ stopped: boolean }> {
    const { path } = await this.lookup(name);
    const live = this.running.get(name);
    let stopped = false;
    if (live !== undefined) {
      if (!stopIfRunning) {
        throw new ApiError(
          grpc.status.FAILED_PRECONDITION,
          `recording ${JSON.stringify(name)} is still running: stop it first, or ask to stop it (stop_if_running)`,
        );
      }
      await live.sink.stop('stopped');
      stopped = true;
    }
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw notFound(name);
      throw err;
    });
    this.finalStatistics.delete(name);
    this.logger?.info({ recording: name, stopped }, 'recording deleted');
    return { stopped };
  }

  // ---- Retention ----

  /**
   * Removes finished recordings last written more than max-age ago, then the oldest finished ones while the
   * directory holds more than max-bytes. Running and starting recordings are never removed (but count toward the
   * total), nor, for max-bytes, the finished one written last: a recording larger than the budget stays to be
   * downloaded until a newer one ends. Concurrent calls share one run. Resolves with the names removed.
   */
  applyRetention(): Promise<string[]> {
    if (this.maxBytes === 0 && this.maxAgeMs === 0) return Promise.resolve([]);
    this.retention ??= this.retain().finally(() => (this.retention = undefined));
    return this.retention;
  }

  private async retain(): Promise<string[]> {
    const removed: string[] = [];
    try {
      const all = await this.list();
      let total = all.reduce((sum, r) => sum + r.size, 0);
      const now = this.now();
      const finished = all
        .filter((r) => !r.running)
        .sort((a, b) => a.modifiedMs - b.modifiedMs || (a.name < b.name ? -1 : 1));
      const newest = finished.at(-1);
      for (const r of finished) {
        const tooOld = this.maxAgeMs > 0 && now - r.modifiedMs > this.maxAgeMs;
        const overBudget = this.maxBytes > 0 && total > this.maxBytes && r !== newest;
        if (!tooOld && !overBudget) continue;
        if (this.running.has(r.name) || this.starting.has(r.name)) continue;
        try {
          await unlink(r.path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        total -= r.size;
        this.finalStatistics.delete(r.name);
        removed.push(r.name);
        this.logger?.info(
          { recording: r.name, bytes: r.size, reason: tooOld ? 'max-age' : 'max-bytes' },
          'recording removed by retention',
        );
      }
    } catch (err) {
      this.logger?.error({ err: (err as Error).message, dir: this.dir }, 'retention failed');
    }
    return removed;
  }

  /** Stops periodic retention and waits for a run in progress. */
  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.retention;
  }
}

/** A regular file with exactly one link: a hard link planted to a file elsewhere is not served. */
function isPlainFile(st: Stats): boolean {
  return st.isFile() && st.nlink === 1;
}

// The export file, rotated as Hubble's exporter rotates it (lumberjack): by size, backups named
// `<name>-<UTC time>.<ext>` with millisecond precision, the newest N kept, optionally gzipped. Unlike lumberjack it
// never leaves a partial line behind: a write that fails part way is cut back to the last whole line.
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Logger } from 'pino';

/** Lines (each ending in "\n") to append in order; `written` advances as they reach the file. */
export interface LineBatch {
  readonly lines: readonly Buffer[];
  /** How many of `lines` are in the file: a failed write is retried from here, so no line is written twice. */
  written: number;
}

export interface RotatingFileOptions {
  path: string;
  /** Rotate before a write would take the file past this many bytes. */
  maxSizeBytes: number;
  /** Backups to keep, newest first; 0 keeps them all (as lumberjack). */
  maxBackups: number;
  /** Gzip backups (`<backup>.gz`). */
  compress: boolean;
  /** Told about a cut-back partial line and about backups that could not be removed or compressed. */
  logger?: Logger;
  /** Milliseconds since the epoch, for backup names (tests pin it). */
  now?: () => number;
}

export const COMPRESS_SUFFIX = '.gz';

/** Lumberjack's backup time layout, 2006-01-02T15-04-05.000, in UTC. */
export function backupTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23).replace(/:/g, '-');
}

const BACKUP_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})$/;

function parseBackupTimestamp(text: string): number | undefined {
  const m = BACKUP_TIME.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second, milli] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, milli);
  // Date.UTC rolls 2024-02-31 over into March; a name that does not round-trip is not one of ours.
  return backupTimestamp(ms) === text ? ms : undefined;
}

/** Go's filepath.Ext: from the last dot of the base name, or empty ("events.log" -> ".log", ".hidden" -> ".hidden"). */
function goExt(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot);
}

const NEWLINE = 0x0a;

export class RotatingFile {
  private readonly path: string;
  private readonly dir: string;
  /** Backup names are `${prefix}${time}${ext}`, optionally + ".gz". */
  private readonly prefix: string;
  private readonly ext: string;
  private readonly opts: RotatingFileOptions;
  private readonly now: () => number;
  private handle: FileHandle | undefined;
  /** Bytes in the current file, all of them whole lines. */
  private size = 0;
  /** Bytes of a partial write still to cut from the end of the file (the truncate after it failed too). */
  private tornBytes = 0;
  private lastBackupMs = 0;
  private housekeeping: Promise<void> | undefined;
  private housekeepingAgain = false;

  private constructor(opts: RotatingFileOptions) {
    this.opts = opts;
    this.path = opts.path;
    this.dir = dirname(opts.path);
    const name = basename(opts.path);
    this.ext = goExt(name);
    this.prefix = `${name.slice(0, name.length - this.ext.length)}-`;
    this.now = opts.now ?? Date.now;
  }

  /** Opens (creating the directory 0700 and the file 0600 if missing) and tidies up old backups. */
  static async open(opts: RotatingFileOptions): Promise<RotatingFile> {
    const file = new RotatingFile(opts);
    await file.ensureOpen();
    return file;
  }

  /** Bytes in the current file. */
  get currentSize(): number {
    return this.size;
  }

  /**
   * Appends the batch's unwritten lines, rotating whenever the next line would not fit. On failure (ENOSPC, EIO, ...)
   * the file keeps every line that was written whole, a partial one is cut back off, and the error is thrown;
   * `batch.written` says how far it got.
   */
  async write(batch: LineBatch): Promise<void> {
    await this.ensureOpen();
    const { lines } = batch;
    const max = this.opts.maxSizeBytes;
    while (batch.written < lines.length) {
      let bytes = 0;
      let count = 0;
      for (let i = batch.written; i < lines.length; i++) {
        const len = lines[i]!.length;
        // A line longer than the limit still goes out, alone in a fresh file, rather than being lost.
        if (this.size + bytes + len > max && this.size + bytes > 0) break;
        bytes += len;
        count++;
      }
      if (count === 0) {
        await this.rotate();
        continue;
      }
      await this.writeLines(batch, count, bytes);
    }
  }

  /** Closes the file and waits for backups still being compressed or removed. */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    try {
      await handle?.close();
    } finally {
      await this.housekeeping;
    }
  }

  private async ensureOpen(): Promise<void> {
    if (this.handle === undefined) await this.openExistingOrNew();
    if (this.tornBytes > 0) await this.cutBack();
  }

  private async openExistingOrNew(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const handle = await open(this.path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o600);
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw Object.assign(new Error(`${this.path} is not a regular file`), { code: 'EINVAL' });
      this.size = await this.wholeLinesEnd(handle, info.size);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    this.handle = handle;
    this.tornBytes = 0;
    if (this.size >= this.opts.maxSizeBytes) await this.rotate();
    else this.requestHousekeeping();
  }

  /** Where the last whole line ends; a tail left by a crash mid-write is cut off so every line parses. */
  private async wholeLinesEnd(handle: FileHandle, size: number): Promise<number> {
    if (size === 0) return 0;
    const buf = Buffer.alloc(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - buf.length);
      const { bytesRead } = await handle.read(buf, 0, end - start, start);
      const at = buf.subarray(0, bytesRead).lastIndexOf(NEWLINE);
      if (at >= 0) {
        const keep = start + at + 1;
        if (keep < size) await this.cutTail(handle, size, keep);
        return keep;
      }
      end = start;
    }
    await this.cutTail(handle, size, 0);
    return 0;
  }

  private async cutTail(handle: FileHandle, size: number, keep: number): Promise<void> {
    await handle.truncate(keep);
    this.opts.logger?.warn(
      { file: this.path, cutBytes: size - keep },
      'export file ended in a partial line (an earlier run stopped mid-write); cut back to the last whole line',
    );
  }

  /**
   * Writes the batch's next `count` lines (`bytes` long) in one go. When the write fails part way (a full disk takes
   * what fits), the lines that made it whole stay, the partial one is cut back off, and the error is thrown.
   */
  private async writeLines(batch: LineBatch, count: number, bytes: number): Promise<void> {
    const handle = this.handle!;
    const { lines } = batch;
    const from = batch.written;
    const chunk = count === 1 ? lines[from]! : Buffer.concat(lines.slice(from, from + count), bytes);
    let done = 0;
    try {
      while (done < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
        if (bytesWritten === 0) throw Object.assign(new Error('write wrote nothing'), { code: 'EIO' });
        done += bytesWritten;
      }
    } catch (err) {
      let kept = 0;
      let keptLines = 0;
      while (keptLines < count && kept + lines[from + keptLines]!.length <= done)
        kept += lines[from + keptLines++]!.length;
      this.size += kept;
      batch.written += keptLines;
      this.tornBytes = done - kept;
      await this.cutBack().catch(() => undefined); // tried again before the next write
      throw err;
    }
    this.size += bytes;
    batch.written += count;
  }

  /** Removes the partial write at the end of the file. O_APPEND: the file's own size says where that is. */
  private async cutBack(): Promise<void> {
    if (this.tornBytes === 0) return;
    const handle = this.handle!;
    const { size } = await handle.stat();
    await handle.truncate(Math.max(0, size - this.tornBytes));
    this.tornBytes = 0;
  }

  /** Moves the current file aside as a backup and starts a new one with the same permissions. */
  private async rotate(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
    let mode = 0o600;
    try {
      const info = await stat(this.path);
      mode = info.mode & 0o7777;
      await rename(this.path, await this.backupName());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const next = await open(
      this.path,
      constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_TRUNC,
      mode,
    );
    try {
      await next.chmod(mode); // the umask may have taken bits the old file had
    } catch (err) {
      await next.close().catch(() => undefined);
      throw err;
    }
    this.handle = next;
    this.size = 0;
    this.tornBytes = 0;
    this.requestHousekeeping();
  }

  /** A backup name no earlier backup has: rotations within one millisecond take the next one. */
  private async backupName(): Promise<string> {
    let ms = Math.max(this.now(), this.lastBackupMs + 1);
    for (;;) {
      const name = join(this.dir, `${this.prefix}${backupTimestamp(ms)}${this.ext}`);
      if (!(await exists(name)) && !(await exists(name + COMPRESS_SUFFIX))) {
        this.lastBackupMs = ms;
        return name;
      }
      ms++;
    }
  }

  /** Prunes and compresses backups in the background, one run at a time, as lumberjack's mill does. */
  private requestHousekeeping(): void {
    if (this.opts.maxBackups === 0 && !this.opts.compress) return;
    if (this.housekeeping !== undefined) {
      this.housekeepingAgain = true;
      return;
    }
    this.housekeeping = (async () => {
      do {
        this.housekeepingAgain = false;
        await this.tidyBackups().catch((err: unknown) =>
          this.opts.logger?.warn({ dir: this.dir, err: String(err) }, 'export backups could not be tidied up'),
        );
      } while (this.housekeepingAgain);
    })().finally(() => (this.housekeeping = undefined));
  }

  /** This file's backups, newest first. */
  async backups(): Promise<{ name: string; time: number }[]> {
    const found: { name: string; time: number }[] = [];
    for (const entry of await readdir(this.dir, { withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.startsWith(this.prefix)) continue;
      const time = this.backupTime(entry.name, this.ext) ?? this.backupTime(entry.name, this.ext + COMPRESS_SUFFIX);
      if (time !== undefined) found.push({ name: entry.name, time });
    }
    return found.sort((a, b) => b.time - a.time || (a.name < b.name ? 1 : -1));
  }

  private backupTime(name: string, suffix: string): number | undefined {
    if (!name.endsWith(suffix)) return undefined;
    return parseBackupTimestamp(name.slice(this.prefix.length, name.length - suffix.length));
  }

  private async tidyBackups(): Promise<void> {
    let keep = await this.backups();
    const { maxBackups, compress } = this.opts;
    const remove: string[] = [];
    if (maxBackups > 0) {
      // A backup and its compressed copy (a compression cut short) count once.
      const seen = new Set<string>();
      const kept: typeof keep = [];
      for (const b of keep) {
        seen.add(b.name.endsWith(COMPRESS_SUFFIX) ? b.name.slice(0, -COMPRESS_SUFFIX.length) : b.name);
        if (seen.size > maxBackups) remove.push(b.name);
        else kept.push(b);
      }
      keep = kept;
    }
    let firstError: unknown;
    for (const name of remove) await unlink(join(this.dir, name)).catch((err: unknown) => (firstError ??= err));
    if (compress) {
      for (const b of keep) {
        if (b.name.endsWith(COMPRESS_SUFFIX)) continue;
        const src = join(this.dir, b.name);
        await gzipFile(src, src + COMPRESS_SUFFIX).catch((err: unknown) => (firstError ??= err));
      }
    }
    if (firstError !== undefined) throw firstError;
  }
}

/** Gzips `src` into `dst` through a temporary name, so `*.gz` is only ever complete, then removes `src`. */
async function gzipFile(src: string, dst: string): Promise<void> {
  const info = await stat(src);
  const tmp = `${dst}.tmp`;
  try {
    // flush: fsync before close, or a crash after the rename could leave an empty .gz in place of the backup.
    await pipeline(
      createReadStream(src),
      createGzip(),
      createWriteStream(tmp, { mode: info.mode & 0o7777, flush: true }),
    );
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await rename(tmp, dst);
  await unlink(src);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

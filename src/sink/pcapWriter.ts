// The libpcap file format, written: the file and record header encoders (the one way this project writes pcap, the
// tests' pcap files included) and PcapWriter, which appends records to an exclusively created file through a single
// async write loop over recycled batch buffers — a syscall per batch, not per packet — so that the file is a valid
// pcap after every write and a crash leaves at most the last record short.
//
// Why a hand-made loop and not p-queue: appends to one file must run one at a time and in order, so a task queue
// adds nothing but a closure and a promise per task; batching is what pays (bench/sinkWrites.ts measures both).

import { close, fstat, ftruncate, open, stat, unlink, write, writev, type Stats } from 'node:fs';
import { endianness } from 'node:os';
import { fileError, SinkError } from './sinkError.js';

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const PCAP_FILE_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;
/** The snaplen written when no maximum capture length is set (what tcpdump and Wireshark use today). */
export const PCAP_DEFAULT_SNAPLEN = 262144;
export const LINKTYPE_ETHERNET = 1;
/** Length of the Ethernet header PcapWriter.append puts in front of packets that come without one. */
export const ETHERNET_HEADER_LENGTH = 14;

/** libpcap writes files in the byte order of the machine; readers take either. */
export const NATIVE_LITTLE_ENDIAN = endianness() === 'LE';

export interface PcapFileFormat {
  /** LINKTYPE_ number of every record; Ethernet when not given. */
  linkType?: number;
  /** Largest record length; 0 or not given writes PCAP_DEFAULT_SNAPLEN. */
  snaplen?: number;
  /** Nanosecond timestamps (magic a1b23c4d) instead of microseconds. */
  nanosecond?: boolean;
  /** Byte order of every field; this machine's when not given. */
  littleEndian?: boolean;
}

/** Writes the 24-byte file header at target[offset]; returns its length. */
export function encodePcapFileHeader(target: Uint8Array, offset: number, format: PcapFileFormat = {}): number {
  const view = new DataView(target.buffer, target.byteOffset + offset, PCAP_FILE_HEADER_LENGTH);
  const le = format.littleEndian ?? NATIVE_LITTLE_ENDIAN;
  view.setUint32(0, format.nanosecond === true ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS, le);
  view.setUint16(4, PCAP_VERSION_MAJOR, le);
  view.setUint16(6, PCAP_VERSION_MINOR, le);
  view.setInt32(8, 0, le); // thiszone: timestamps are UTC
  view.setUint32(12, 0, le); // sigfigs
  view.setUint32(16, format.snaplen !== undefined && format.snaplen > 0 ? format.snaplen : PCAP_DEFAULT_SNAPLEN, le);
  view.setUint32(20, format.linkType ?? LINKTYPE_ETHERNET, le);
  return PCAP_FILE_HEADER_LENGTH;
}

/** Writes a 16-byte record header at `offset` of `view`; `fraction` is in the file's unit (µs or ns). */
export function encodePcapRecordHeader(
  view: DataView,
  offset: number,
  seconds: number,
  fraction: number,
  inclLen: number,
  origLen: number,
  littleEndian: boolean,
): void {
  view.setUint32(offset, seconds >>> 0, littleEndian);
  view.setUint32(offset + 4, fraction >>> 0, littleEndian);
  view.setUint32(offset + 8, inclLen >>> 0, littleEndian);
  view.setUint32(offset + 12, origLen >>> 0, littleEndian);
}

export interface PcapWriterOptions extends PcapFileFormat {
  /** Bytes per batch buffer: a full batch is written at once (default 64 KiB). */
  batchBytes?: number;
  /** A batch that is not full is written this long after its first record (default 10 ms). */
  flushDelayMs?: number;
  /**
   * Records queued from which what there is gets written at once, full batch or not (default: only full batches),
   * so that a writer whose owner bounds its queue in records is writing long before that queue is full.
   */
  writeAtRecords?: number;
  /** How often, at most, the writer makes sure its path still names its file (default 250 ms). */
  identityCheckMs?: number;
  /** After each write: the file's new size and the records and captured bytes that write added. */
  onWritten?: (fileSize: number, records: number, capturedBytes: number) => void;
  /**
   * Writing failed; the file is cut back to its last whole record and nothing more will be written. `discarded*`
   * are the appended records that will never reach the file.
   */
  onError?: (error: SinkError, discardedRecords: number, discardedBytes: number) => void;
}

export const DEFAULT_BATCH_BYTES = 64 * 1024;
export const DEFAULT_FLUSH_DELAY_MS = 10;
export const DEFAULT_IDENTITY_CHECK_MS = 250;
/**
 * Written batches kept for reuse, shared by every writer of the process so that idle recordings hold none: enough for
 * a few busy recordings' bursts (2 MiB at the default size).
 */
const SPARE_BATCHES = 32;
const spareBatches = new Map<number, Batch[]>();

const NO_BATCHES: Batch[] = [];

/** Records laid out exactly as they go into the file. */
class Batch {
  readonly buf: Buffer;
  readonly view: DataView;
  used = 0;
  records = 0;
  /** Captured bytes (incl_len) of the records. */
  bytes = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
}

function openFile(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, 'wx', 0o600, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function fstatFd(fd: number): Promise<Stats> {
  return new Promise((resolve, reject) => fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
}

function statPath(path: string): Promise<Stats | undefined> {
  return new Promise((resolve, reject) =>
    stat(path, (err, st) => (err === null ? resolve(st) : err.code === 'ENOENT' ? resolve(undefined) : reject(err))),
  );
}

async function writeAll(fd: number, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const n = await new Promise<number>((resolve, reject) =>
      write(fd, data, done, data.length - done, position + done, (err, written) =>
        err ? reject(err) : resolve(written),
      ),
    );
    if (n === 0) throw Object.assign(new Error('write wrote nothing'), { code: 'EIO' });
    done += n;
  }
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));
}

/** Appends pcap records to one file; see the module comment. Create with PcapWriter.create. */
export class PcapWriter {
  private readonly littleEndian: boolean;
  private readonly nanosecond: boolean;
  private readonly batchBytes: number;
  private readonly flushDelayMs: number;
  private readonly writeAtRecords: number;
  private readonly identityCheckMs: number;
  private readonly onWritten: PcapWriterOptions['onWritten'];
  private readonly onError: PcapWriterOptions['onError'];

  /** Batches in file order; the last one may still be open for appends. */
  private readonly batches: Batch[] = [];
  private open: Batch | undefined;
  private readonly spare: Batch[];
  private size = PCAP_FILE_HEADER_LENGTH;
  private pending = 0;
  private writing = false;
  /** Batches being written, their length, and how much of them is in the file already. */
  private flight: Batch[] = NO_BATCHES;
  private flightBytes = 0;
  private written = 0;
  /** Records and bytes of a failed write that did not reach the file. */
  private lostInFlight = { records: 0, bytes: 0 };
  private timer: NodeJS.Timeout | undefined;
  /** Set by flush/close: write whatever there is without waiting for a batch to fill. */
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  /** waitBelow() callers: each waits for fewer than `records` pending records. */
  private roomWaiters: { records: number; resolve: () => void }[] = [];
  private lastIdentityCheck = performance.now();
  private failure: SinkError | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly identity: { dev: number; ino: number },
    options: PcapWriterOptions,
  ) {
    this.littleEndian = options.littleEndian ?? NATIVE_LITTLE_ENDIAN;
    this.nanosecond = options.nanosecond === true;
    this.batchBytes = Math.max(options.batchBytes ?? DEFAULT_BATCH_BYTES, 1024);
    let spare = spareBatches.get(this.batchBytes);
    if (spare === undefined) spareBatches.set(this.batchBytes, (spare = []));
    this.spare = spare;
    this.flushDelayMs = options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS;
    this.writeAtRecords = options.writeAtRecords ?? Infinity;
    this.identityCheckMs = options.identityCheckMs ?? DEFAULT_IDENTITY_CHECK_MS;
    this.onWritten = options.onWritten;
    this.onError = options.onError;
  }

  /**
   * Creates `path` exclusively with mode 0600 and writes the file header before resolving, so that every creation
   * problem (EEXIST, EACCES, ENOSPC, a missing directory) rejects here, as a SinkError saying what happened.
   */
  static async create(path: string, options: PcapWriterOptions = {}): Promise<PcapWriter> {
    let fd: number;
    try {
      fd = await openFile(path);
    } catch (error) {
      throw fileError(error, 'creating', path);
    }
    try {
      const header = new Uint8Array(PCAP_FILE_HEADER_LENGTH);
      encodePcapFileHeader(header, 0, options);
      await writeAll(fd, header, 0);
      const st = await fstatFd(fd);
      return new PcapWriter(path, fd, { dev: st.dev, ino: st.ino }, options);
    } catch (error) {
      // The file is ours and holds no valid pcap: leave nothing behind.
      await closeFd(fd).catch(() => undefined);
      await new Promise<void>((resolve) => unlink(path, () => resolve()));
      throw fileError(error, 'writing the header of', path);
    }
  }

  /** Bytes of the file that hold whole records (a valid pcap up to here). */
  get fileSize(): number {
    return this.size;
  }

  /** Records appended and not yet in the file. */
  get pendingRecords(): number {
    return this.pending;
  }

  /** Why writing stopped, once it has failed. */
  get error(): SinkError | undefined {
    return this.failure;
  }

  /**
   * Queues one record: `inclLen` bytes of the packet, whose first bytes are a synthesised Ethernet header of type
   * `etherType` when that is >= 0 (for packets of L3 devices), the rest data[start, ...). Copies the bytes, so the
   * caller may reuse `data` right away. Timestamps are seconds and nanoseconds since the epoch (UTC).
   */
  append(
    seconds: number,
    nanos: number,
    data: Uint8Array,
    start: number,
    inclLen: number,
    origLen: number,
    etherType: number,
  ): void {
    if (this.failure !== undefined || this.closing !== undefined) return;
    const size = PCAP_RECORD_HEADER_LENGTH + inclLen;
    let b = this.open;
    if (b === undefined || b.used + size > b.buf.length) b = this.openBatch(size);
    const buf = b.buf;
    const view = b.view;
    const le = this.littleEndian;
    const at = b.used;
    view.setUint32(at, seconds >>> 0, le);
    view.setUint32(at + 4, this.nanosecond ? nanos : (nanos / 1000) | 0, le);
    view.setUint32(at + 8, inclLen, le);
    view.setUint32(at + 12, origLen >>> 0, le);
    let p = at + PCAP_RECORD_HEADER_LENGTH;
    let fromData = inclLen;
    if (etherType >= 0) {
      // Unknown MACs (zeros) and the type, as a cooked capture normalised to Ethernet looks; cut like the rest.
      const header = inclLen < ETHERNET_HEADER_LENGTH ? inclLen : ETHERNET_HEADER_LENGTH;
      buf.fill(0, p, p + (header < 12 ? header : 12));
      if (header > 12) buf[p + 12] = etherType >> 8;
      if (header > 13) buf[p + 13] = etherType & 0xff;
      p += header;
      fromData -= header;
    }
    if (fromData <= 32) {
      for (let i = 0; i < fromData; i++) buf[p + i] = data[start + i]!;
    } else {
      buf.set(data.subarray(start, start + fromData), p);
    }
    b.used = at + size;
    b.records++;
    b.bytes += inclLen;
    if (++this.pending >= this.writeAtRecords) {
      if (!this.writing) this.pump(true);
    } else if (!this.writing) {
      this.pump(false);
    }
  }

  /**
   * While `records` or more records are pending: a promise that resolves once fewer are (or writing has failed, or
   * the file is closed), writing what is queued at once rather than waiting for a fuller batch; undefined otherwise.
   */
  waitBelow(records: number): Promise<void> | undefined {
    if (this.failure !== undefined || this.pending < records) return undefined;
    return new Promise((resolve) => {
      this.roomWaiters.push({ records, resolve });
      if (!this.writing) this.pump(true);
    });
  }

  private notifyRoom(): void {
    if (this.roomWaiters.length === 0) return;
    const pending = this.failure !== undefined ? 0 : this.pending;
    const waiting = this.roomWaiters;
    this.roomWaiters = [];
    for (const waiter of waiting) {
      if (pending < waiter.records) waiter.resolve();
      else this.roomWaiters.push(waiter);
    }
  }

  /** Resolves once every record appended so far is in the file; rejects with the SinkError if writing failed. */
  async flush(): Promise<void> {
    this.draining = true;
    try {
      await this.idle();
    } finally {
      this.draining = false;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Writes what is queued, makes sure the path still names this file, and closes it; rejects with the SinkError of
   * whatever went wrong (then the file holds the whole records written before). Further appends are ignored.
   */
  close(): Promise<void> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<void> {
    this.draining = true;
    await this.idle();
    if (this.failure === undefined) {
      const problem = await this.checkIdentity();
      if (problem !== undefined) this.fail(problem);
    }
    try {
      await closeFd(this.fd);
    } catch (error) {
      if (this.failure === undefined) this.fail(fileError(error, 'closing', this.path));
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      if (!this.writing) this.pump(true);
    });
  }

  private isIdle(): boolean {
    return this.failure !== undefined || (!this.writing && this.batches.length === 0);
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private openBatch(size: number): Batch {
    const batch = size <= this.batchBytes ? (this.spare.pop() ?? new Batch(this.batchBytes)) : new Batch(size);
    batch.used = 0;
    batch.records = 0;
    batch.bytes = 0;
    this.batches.push(batch);
    this.open = batch;
    return batch;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (!this.writing) this.pump(true);
  };

  /**
   * Starts the next write when there is one to start: at once when a batch is full, after a write (what piled up
   * meanwhile), or when draining; otherwise the open batch gets flushDelayMs to fill. One writev takes every batch
   * there is, so a writer that fell behind catches up in one syscall instead of one per batch.
   */
  private pump(now: boolean): void {
    if (this.writing || this.failure !== undefined) return;
    const batches = this.batches;
    if (batches.length === 0) {
      this.notifyIdle();
      return;
    }
    if (batches.length === 1 && batches[0] === this.open && !now && !this.draining) {
      this.timer ??= setTimeout(this.onTimer, this.flushDelayMs);
      return;
    }
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.open = undefined;
    this.writing = true;
    this.flight = batches.splice(0, batches.length);
    let bytes = 0;
    for (const b of this.flight) bytes += b.used;
    this.flightBytes = bytes;
    this.written = 0;
    this.writeMore();
  }

  /** Writes what of the batches in flight is not in the file yet. */
  private writeMore(): void {
    const views: Uint8Array[] = [];
    let skip = this.written;
    for (const b of this.flight) {
      if (skip >= b.used) {
        skip -= b.used;
        continue;
      }
      views.push(b.buf.subarray(skip, b.used));
      skip = 0;
    }
    writev(this.fd, views, this.size + this.written, this.afterWrite);
  }

  private readonly afterWrite = (err: NodeJS.ErrnoException | null, n: number): void => {
    if (err !== null || n === 0) {
      const cause = err ?? Object.assign(new Error('write wrote nothing'), { code: 'EIO' });
      this.failMidFlight(fileError(cause, 'writing', this.path));
      return;
    }
    this.written += n;
    if (this.written < this.flightBytes) {
      this.writeMore();
      return;
    }
    let records = 0;
    let bytes = 0;
    for (const b of this.flight) {
      records += b.records;
      bytes += b.bytes;
      if (b.buf.length === this.batchBytes && this.spare.length < SPARE_BATCHES) this.spare.push(b);
    }
    this.flight = NO_BATCHES;
    this.size += this.flightBytes;
    this.pending -= records;
    this.onWritten?.(this.size, records, bytes);
    this.notifyRoom();
    if (performance.now() - this.lastIdentityCheck >= this.identityCheckMs) {
      void this.checkIdentity().then((problem) => {
        this.writing = false;
        if (problem !== undefined) this.fail(problem);
        else this.pump(true);
      });
      return;
    }
    this.writing = false;
    this.pump(true);
  };

  /**
   * A write failed after `written` bytes of the batches in flight reached the file: keep the whole records among
   * them, cut the file after the last one, and stop.
   */
  private failMidFlight(error: SinkError): void {
    let kept = 0;
    let records = 0;
    let bytes = 0;
    const le = this.littleEndian;
    let left = this.written;
    outer: for (const b of this.flight) {
      let at = 0;
      while (at < b.used) {
        if (left < PCAP_RECORD_HEADER_LENGTH) break outer;
        const next = PCAP_RECORD_HEADER_LENGTH + b.view.getUint32(at + 8, le);
        if (left < next) break outer;
        left -= next;
        kept += next;
        at += next;
        records++;
        bytes += next - PCAP_RECORD_HEADER_LENGTH;
      }
    }
    this.size += kept;
    this.pending -= records;
    if (records > 0) this.onWritten?.(this.size, records, bytes);
    // What is left in flight never reaches the file: back into the queue, so that fail() counts it as discarded.
    let discardRecords = 0;
    let discardBytes = 0;
    for (const b of this.flight) {
      discardRecords += b.records;
      discardBytes += b.bytes;
    }
    this.lostInFlight = { records: discardRecords - records, bytes: discardBytes - bytes };
    this.flight = NO_BATCHES;
    const done = () => {
      this.writing = false;
      this.fail(error);
    };
    if (this.written > kept) ftruncate(this.fd, this.size, done);
    else done();
  }

  private fail(error: SinkError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    let records = this.lostInFlight.records;
    let bytes = this.lostInFlight.bytes;
    for (const b of this.batches) {
      records += b.records;
      bytes += b.bytes;
    }
    this.batches.length = 0;
    this.open = undefined;
    this.pending = 0;
    this.notifyIdle();
    this.notifyRoom();
    this.onError?.(error, records, bytes);
  }

  /** Whether the path still names the file we write (not deleted, moved away or replaced); a SinkError if not. */
  private async checkIdentity(): Promise<SinkError | undefined> {
    this.lastIdentityCheck = performance.now();
    try {
      const [own, named] = await Promise.all([fstatFd(this.fd), statPath(this.path)]);
      if (own.nlink === 0 || named === undefined) {
        return new SinkError(
          'FILE_REMOVED',
          `${this.path} was deleted or moved away while it was being recorded; stopped writing`,
        );
      }
      if (named.ino !== this.identity.ino || named.dev !== this.identity.dev) {
        return new SinkError(
          'FILE_REPLACED',
          `${this.path} was replaced by another file while it was being recorded; stopped writing`,
        );
      }
      return undefined;
    } catch (error) {
      return fileError(error, 'checking', this.path);
    }
  }
}

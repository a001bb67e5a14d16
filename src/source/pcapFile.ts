// Replays a pcap or pcapng file as MonitorEvents stamped with capture time: streamed in chunks (never the whole file
// in memory), yielding to the event loop between chunks, stopping when the caller aborts.

import { close, fstat, open, read, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CaptureReader, ReplayTarget } from './captureReader.js';
import { FrameEventBuilder, DEFAULT_SLAB_SIZE, publishTargetOf } from './frameEvent.js';
import { linkTypeName } from './linkTypes.js';
import {
  isPcapMagic,
  parsePcapFileHeader,
  PCAP_FILE_HEADER_LEN,
  PcapRecordReader,
  requireSupportedLinkType,
} from './pcapFormat.js';
import { PCAPNG_SECTION_HEADER, PcapngBlockReader, requireSectionByteOrder } from './pcapngFormat.js';
import type { Backlog, EventSource, Publish, PublishTarget, SourceOptions, SourceSummary } from './source.js';
import { SourceError } from './sourceError.js';

/**
 * Big enough that the per-chunk costs (a read, a turn of the event loop) vanish next to the frames' (64 KiB chunks
 * took a fifth more CPU than 256 KiB to record a loopback capture), small enough that the chunk a replay hands over
 * at once (up to ~2,000 events) keeps the event loop busy for a few milliseconds at most. Consumers' queues do not
 * bound it: a consumer that fills up asks the replay to wait in the middle of a chunk.
 */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;

/** Carries over any record of a loopback capture (64 KiB MTU) without a buffer of its own. */
export const DEFAULT_CARRY = 128 * 1024;

export interface PcapFileTuning {
  /** Bytes read per chunk; records larger than this grow the buffer. */
  chunkSize?: number;
  /** Bytes per slab the events' data is carved from. */
  slabSize?: number;
  /** Room kept in front of each chunk for the unfinished record of the previous one. */
  carry?: number;
}

/** Where a replay's bytes come from. */
interface ByteInput {
  /** Reads into buf[offset, offset + length) what one read returns: at least a byte, 0 only at the end. */
  readOnce(buf: Uint8Array, offset: number, length: number): Promise<number>;
  /** Ends a read in progress (it returns 0): the replay is being stopped. */
  interrupt(): void;
  close(): Promise<void>;
}

/** A file (or a character device) read through Node's thread pool, by its descriptor. */
class FileInput implements ByteInput {
  constructor(private readonly fd: number) {}

  readOnce(buf: Uint8Array, offset: number, length: number): Promise<number> {
    return new Promise((resolve, reject) =>
      read(this.fd, buf, offset, length, null, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
    );
  }

  interrupt(): void {
    // A file read returns by itself.
  }

  close(): Promise<void> {
    return closeDescriptor(this.fd);
  }
}

/**
 * A pipe or FIFO read as it is written to, through the event loop (the socket takes its descriptor over): a pool
 * thread blocked reading a pipe whose writer is open and quiet cannot be stopped, and kept the process from exiting
 * (`tcpdump -w - | serve` on a quiet host). At most one chunk of what was written waits here for the replay.
 */
class PipeInput implements ByteInput {
  private readonly queued: Buffer[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly socket: Socket) {
    socket.pause();
    socket.on('data', (chunk: Buffer) => {
      this.queued.push(chunk);
      socket.pause();
      this.notify();
    });
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', (err) => {
      this.failure = err;
      this.finish();
    });
  }

  async readOnce(buf: Uint8Array, offset: number, length: number): Promise<number> {
    while (this.queued.length === 0 && !this.ended) {
      this.socket.resume();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.queued.length === 0) {
      if (this.failure !== undefined) throw this.failure;
      return 0;
    }
    let n = 0;
    while (n < length && this.queued.length > 0) {
      const chunk = this.queued[0]!;
      const take = Math.min(chunk.length, length - n);
      buf.set(chunk.subarray(0, take), offset + n);
      n += take;
      if (take === chunk.length) this.queued.shift();
      else this.queued[0] = chunk.subarray(take);
    }
    return n;
  }

  interrupt(): void {
    this.socket.destroy();
    this.finish();
  }

  async close(): Promise<void> {
    this.socket.destroy();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }
}

function statOf(fd: number): Promise<Stats> {
  return new Promise((resolve, reject) => fstat(fd, (err, stats) => (err ? reject(err) : resolve(stats))));
}

function closeDescriptor(fd: number): Promise<void> {
  return new Promise((resolve) => close(fd, () => resolve()));
}

export class PcapFileSource implements EventSource {
  readonly description: string;
  private readonly chunkSize: number;
  private readonly slabSize: number;
  private readonly carry: number;
  /** A pipe or FIFO check() opened (a FIFO's open waits for its writer): run() reads it from there. */
  private opened: number | undefined;

  constructor(
    readonly path: string,
    private readonly options: SourceOptions,
    tuning: PcapFileTuning = {},
  ) {
    this.description = `pcap:${path}`;
    this.chunkSize = Math.max(tuning.chunkSize ?? DEFAULT_CHUNK_SIZE, PCAP_FILE_HEADER_LEN);
    this.slabSize = tuning.slabSize ?? DEFAULT_SLAB_SIZE;
    this.carry = Math.max(tuning.carry ?? DEFAULT_CARRY, 16);
  }

  /**
   * Opens the file and checks its header, as run() will. A pipe or FIFO is only opened (and kept for run()): its
   * writer may hold the header back until it has packets (tcpdump -w - without -U buffers its output), so run()
   * checks it when it comes, and a bad one ends the run with the same error.
   */
  async check(): Promise<void> {
    const fd = await this.openFile();
    let keep = false;
    try {
      const kind = await statOf(fd);
      keep = kind.isFIFO() || kind.isCharacterDevice() || kind.isSocket();
      if (keep) {
        this.opened = fd;
        return;
      }
      const head = new Uint8Array(PCAP_FILE_HEADER_LEN);
      const length = await this.read(new FileInput(fd), head, 0, head.length);
      this.sniff(head.subarray(0, length));
    } finally {
      if (!keep) await closeDescriptor(fd);
    }
  }

  async run(publish: Publish | PublishTarget, signal: AbortSignal, backlog?: Backlog): Promise<SourceSummary> {
    const builder = new FrameEventBuilder(this.options.nodeName, this.slabSize);
    const summary = (aborted: boolean): SourceSummary => ({
      events: builder.events,
      bytes: builder.bytes,
      skipped: builder.skipped,
      unsupportedLinkTypes: [...builder.unsupportedLinkTypes].sort((a, b) => a - b),
      sliced: builder.sliced,
      dropped: 0,
      aborted,
    });
    if (signal.aborted) return summary(true);
    const state = { aborted: false, waiting: false };
    let input: ByteInput | undefined;
    const onAbort = () => {
      state.aborted = true;
      input?.interrupt();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const opened = this.opened;
      this.opened = undefined;
      const fd = opened ?? (await this.openFile());
      const kind = await statOf(fd).catch(() => undefined);
      // A pipe's records are handed over as they arrive, not once a whole chunk has: tcpdump -U -w - | serve.
      const stream = kind?.isFile() !== true;
      input =
        kind?.isFIFO() === true
          ? new PipeInput(new Socket({ fd, readable: true, writable: false }))
          : new FileInput(fd);
      try {
        const to = publishTargetOf(publish);
        const target = { path: this.path, builder, links: this.options.links, to, backlog, state };
        if (!state.aborted) await this.replay(input, target, stream);
      } finally {
        await input.close();
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (state.aborted) return summary(true);
    if (builder.events === 0 && builder.unsupportedLinkTypes.size > 0) {
      const types = [...builder.unsupportedLinkTypes].map(linkTypeName).join(', ');
      throw new SourceError(
        'UNSUPPORTED_LINK_TYPE',
        `${this.path}: every frame is of a link type that cannot be turned into Ethernet (${types})`,
      );
    }
    return summary(false);
  }

  /**
   * Streams the file through the format's reader with two buffers: while the reader works through one chunk, the
   * next is read into the other, behind `carry` bytes of room where the unfinished record at the end of the
   * previous chunk is copied. A record too big for that room is gathered in a buffer of its own. `stream` (a pipe or
   * FIFO): each chunk is what one read returned, so records go out as they arrive; the end is a read that returns
   * nothing.
   */
  private async replay(input: ByteInput, target: ReplayTarget, stream = false): Promise<void> {
    const chunk = this.chunkSize;
    const carry = this.carry;
    const size = carry + chunk;
    let current = new Uint8Array(size);
    let view = new DataView(current.buffer);
    let next = new Uint8Array(size);
    let filled = carry;
    // A pipe's first read may bring less than a file header: read that much whole, then what is there.
    if (stream) filled += await this.read(input, current, filled, PCAP_FILE_HEADER_LEN);
    const first =
      stream && filled - carry < PCAP_FILE_HEADER_LEN
        ? 0
        : await this.read(input, current, filled, size - filled, stream);
    filled += first;
    let eof = stream ? first === 0 : filled < size;
    /** current[i] is the file's byte base + i. */
    let base = -carry;
    const state = target.state;
    // Stopped before there was anything to judge (a pipe's writer had not yet written the header).
    if (state.aborted) return;
    const { reader, start } = this.readerFor(current.subarray(carry, filled), target);
    let pos = carry + start;
    for (;;) {
      const ahead = eof ? undefined : this.read(input, next, carry, chunk, stream);
      try {
        pos = reader.consume(current, view, pos, filled, base);
        // A consumer's queue is filling up: let it write before the rest of the chunk is handed over.
        while (state.waiting && !state.aborted) {
          state.waiting = false;
          await target.backlog?.();
          if (!state.aborted) pos = reader.consume(current, view, pos, filled, base);
        }
      } catch (err) {
        await ahead?.catch(() => 0); // the file is closed next: no read may still be writing
        throw err;
      }
      if (state.aborted) {
        await ahead?.catch(() => 0);
        return;
      }
      if (ahead === undefined) {
        reader.finish(base + pos, filled - pos);
        return;
      }
      const got = await ahead;
      const left = filled - pos;
      const offset = base + pos;
      if (left <= carry) {
        next.set(current.subarray(pos, filled), carry - left);
        const done = current.length === size ? current : new Uint8Array(size);
        current = next;
        next = done;
        view = new DataView(current.buffer);
        pos = carry - left;
        filled = carry + got;
        base = offset - pos;
        eof = stream ? got === 0 : got < chunk;
      } else {
        const wanted = Math.max(reader.needed, left + got);
        const gathered = new Uint8Array(wanted);
        gathered.set(current.subarray(pos, filled));
        gathered.set(next.subarray(carry, carry + got), left);
        let have = left + got;
        eof = stream ? got === 0 : got < chunk;
        if (!eof && have < wanted) {
          const more = await this.read(input, gathered, have, wanted - have);
          eof = more < wanted - have;
          have += more;
        }
        if (current.length === size) next = current;
        current = gathered;
        view = new DataView(current.buffer);
        pos = 0;
        filled = have;
        base = offset;
      }
      // Reads from the page cache can complete before anything else gets a turn; make sure others do, and let
      // consumers that write later (recordings) catch up: a replay is not real time, so it waits rather than
      // making them drop.
      await (target.backlog?.() ?? nextTurn());
      if (state.aborted) return;
    }
  }

  /** The reader for the format the first bytes announce, and where its records start. */
  private readerFor(head: Uint8Array, target: ReplayTarget): { reader: CaptureReader; start: number } {
    if (this.sniff(head) === 'pcapng') return { reader: new PcapngBlockReader(target), start: 0 };
    const header = parsePcapFileHeader(head, this.path);
    requireSupportedLinkType(header, this.path);
    return { reader: new PcapRecordReader(header, target), start: PCAP_FILE_HEADER_LEN };
  }

  /** Which format the file starts with; throws NOT_A_CAPTURE (or the header's own error) otherwise. */
  private sniff(head: Uint8Array): 'pcap' | 'pcapng' {
    if (head.length === 0)
      throw new SourceError('NOT_A_CAPTURE', `${this.path}: the file is empty, not a pcap or pcapng capture`);
    if (head.length >= 4) {
      const magic = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0, true);
      if (magic === PCAPNG_SECTION_HEADER) {
        requireSectionByteOrder(head, this.path);
        return 'pcapng';
      }
      if (isPcapMagic(magic)) {
        const header = parsePcapFileHeader(head, this.path);
        requireSupportedLinkType(header, this.path);
        return 'pcap';
      }
    }
    if (head[0] === 0x1f && head[1] === 0x8b) {
      throw new SourceError('NOT_A_CAPTURE', `${this.path}: the file is gzip-compressed; decompress it first (gunzip)`);
    }
    const start = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new SourceError(
      'NOT_A_CAPTURE',
      `${this.path}: not a pcap or pcapng capture (it starts with bytes ${start})`,
    );
  }

  /** Opens the file for reading (a FIFO's open waits for a writer); resolves with its descriptor. */
  private openFile(): Promise<number> {
    return new Promise((resolve, reject) =>
      open(this.path, 'r', (err, fd) => (err ? reject(this.fileError(err)) : resolve(fd))),
    );
  }

  /**
   * Fills buf[offset, offset + length) from the file's current position; fewer bytes only at the end of the file, or
   * with `any`, as soon as one read returned some (0 only at the end). Reads are strictly sequential (one in flight at a
   * time), so pipes and FIFOs work as well as files.
   */
  private async read(input: ByteInput, buf: Uint8Array, offset: number, length: number, any = false): Promise<number> {
    try {
      let total = 0;
      // A short read is not the end of the file unless it returns nothing (pipes, network file systems).
      while (total < length) {
        const bytesRead = await input.readOnce(buf, offset + total, length - total);
        if (bytesRead === 0) break;
        total += bytesRead;
        if (any) break;
      }
      return total;
    } catch (err) {
      throw this.fileError(err);
    }
  }

  private fileError(err: unknown): SourceError {
    const code = (err as NodeJS.ErrnoException).code;
    switch (code) {
      case 'ENOENT':
        return new SourceError('NOT_FOUND', `${this.path}: no such file`);
      case 'EACCES':
      case 'EPERM':
        return new SourceError(
          'PERMISSION',
          `${this.path}: permission denied (the file must be readable by this user)`,
        );
      case 'EISDIR':
        return new SourceError('NOT_A_CAPTURE', `${this.path}: is a directory, not a pcap or pcapng capture`);
      default:
        return new SourceError('CAPTURE_FAILED', `${this.path}: cannot read the file: ${(err as Error).message}`);
    }
  }
}

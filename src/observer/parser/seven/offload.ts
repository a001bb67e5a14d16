// Runs the L7 parser in a worker thread of its own. The two threads share memory and exchange no messages per packet:
// the Observer's thread copies each packet that may carry an L7 message (its addresses, ports, TCP numbers, time,
// payload and ticket) into a byte ring the worker reads in order; the worker adds what it finds to the shared L7 store
// and writes each record as (ticket, kind, number) into a second ring, which the Observer's thread drains as it goes.
// Counters in shared memory say how far each side is; either side sleeps on them (Atomics.wait) only when it has
// nothing to do. The Observer's thread keeps only the copy and the ring writes; the parsing runs on another core.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker, type MessagePort, type Transferable } from 'node:worker_threads';
import type { PacketHeaders } from '../../../packet/frame.js';
import { emptyHttpConnectionStats, type HttpConnectionStats } from './httpConnections.js';
import { emptyDnsTcpStats, type DnsTcpStats } from './dnsTcp.js';
import { L7_PROTOCOLS, type SevenParserOptions } from './index.js';
import type { L7Kind, L7Store, L7StoreMemory } from './l7Store.js';
import { uint32At } from '../../../packet/format.js';
import { IpProtocol } from '../../../packet/protocols.js';
import { WordCopier } from '../../../packet/wordCopy.js';

/** Where a record found in a packet goes: the ticket its packet was handed in with, the record's kind and number. */
export type L7Delivery = (ticket: number, kind: L7Kind, sequence: number) => void;

// A packet entry in the byte ring, 8-byte aligned, read as 32-bit words (in this machine's byte order: both threads
// share it): its size in bytes, the time's nanoseconds, the seconds (a float64 at word 2), protocol | IP version << 8
// | TCP flags << 16, source port | destination port << 16, the TCP sequence and acknowledgement numbers, the payload
// length, the ticket (a float64 at word 10); then from byte 48 on the source and destination addresses (4 or 16 bytes
// each) and the payload. An entry never wraps: where the next one would not fit before the ring's end, a padding
// entry (PADDING set in its size word) fills the rest and the next one starts at offset 0.
export const Entry = {
  SIZE: 0,
  NANOS: 1,
  SECONDS_F64: 1,
  KINDS: 4,
  PORTS: 5,
  SEQUENCE: 6,
  ACKNOWLEDGEMENT: 7,
  PAYLOAD_LENGTH: 8,
  TICKET_F64: 5,
  ADDRESSES_BYTE: 48,
  PADDING: 0x80000000,
} as const;

// The shared counters (Int32Array slots). Positions run on modulo 2^32 (compared for equality, subtracted with | 0).
// Those the Observer's thread writes and those the worker writes sit on cache lines of their own (64 bytes apart), so
// that one side's writes do not take the other's line away from it.
export const Control = {
  // Written by the Observer's thread.
  /** Bytes of the packet ring the Observer's thread has published (written entries up to there are readable). */
  PUBLISHED: 0,
  /** Records the Observer's thread has taken from the record ring. */
  RECORDS_TAKEN: 1,
  /** 1 while the Observer's thread waits for the worker's progress. */
  OBSERVER_WAITS: 2,
  /** Set to 1 to make the worker return. */
  STOP: 3,
  /** 1 when the Observer's thread wants a message once the worker has answered more packets (it went idle). */
  WAKE_WANTED: 4,
  // Written by the worker.
  /** Bytes of the packet ring the worker is done with (the Observer's thread may write over them). */
  CONSUMED: 16,
  /** Packets the worker has read (their records are in the record ring before this moves). */
  ANSWERED: 17,
  /** Records the worker has written into the record ring. */
  RECORDS_WRITTEN: 18,
  /** Moved by the worker each time it reports (the Observer's thread waits on it when it must wait). */
  PROGRESS: 19,
  /** 1 while the worker sleeps waiting for packets (the Observer's thread wakes it when it publishes). */
  WORKER_SLEEPS: 20,
  /** 1 while the worker waits for room in the record ring. */
  WORKER_WAITS_FOR_ROOM: 21,
  SLOTS: 32,
} as const;

/** The worker's messages to the Observer's thread (besides errors). */
export const WorkerMessage = { READY: 0, ANSWERED: 1 } as const;

/** What the worker thread starts with (workerData). */
export interface L7WorkerData {
  options: SevenParserOptions;
  store: L7StoreMemory;
  port: MessagePort;
  /** Int32 counters, slots as in Control. */
  control: SharedArrayBuffer;
  /** The packet ring (entries as in Entry), PACKET_RING_BYTES long. */
  packets: SharedArrayBuffer;
  /** The record ring: RECORD_RING_SLOTS float64 triples (ticket, kind, number). */
  records: SharedArrayBuffer;
  /** The HTTP tracker's counters as of the worker's last report (float64s, in the order of HTTP_STATS_KEYS). */
  httpStats: SharedArrayBuffer;
  /** The DNS-over-TCP tracker's, likewise (DNS_TCP_STATS_KEYS). */
  dnsTcpStats: SharedArrayBuffer;
}

/** The packet ring: 1 MiB, so that the payload of a packet of the largest snap length (256 KiB) fits a quarter of it. */
export const PACKET_RING_BYTES = 1024 * 1024;
/** A payload longer than this is cut when handed over (the worker sees the rest of the stream as after a gap). */
const MAX_PAYLOAD_BYTES = PACKET_RING_BYTES / 4;
/** The record ring's slots (a power of two): many times the records of the packets that may be in flight. */
export const RECORD_RING_SLOTS = 16384;
/** Packets the Observer's thread hands over between two looks for the worker's records (a power of two). */
const LOOK_EVERY = 16;
/** Packets the Observer's thread writes before it publishes them (it also publishes at the end of each turn). */
const PUBLISH_EVERY = 32;

/** The HTTP tracker's counters, in the order the worker writes them to shared memory. */
export const HTTP_STATS_KEYS = Object.keys(emptyHttpConnectionStats()) as (keyof HttpConnectionStats)[];
/** The DNS-over-TCP tracker's counters, likewise. */
export const DNS_TCP_STATS_KEYS = Object.keys(emptyDnsTcpStats()) as (keyof DnsTcpStats)[];

/** Writes a tracker's counters into the shared memory the Observer's thread reads them from (in the worker). */
export function publishStats<S extends object>(keys: readonly (keyof S)[], stats: S, to: Float64Array): void {
  for (let i = 0; i < keys.length; i++) to[i] = stats[keys[i]!] as number;
}

/** The worker's young generation (the main thread runs with 4 MiB semi-spaces, i.e. 12 MiB). */
const YOUNG_GENERATION_MB = 12;
/** How long the Observer's thread, waiting for the worker, waits for any progress before giving L7 up. */
const STALL_MS = 10_000;
/** How long the worker may go without a packet before it is stopped (started again by the next one). */
const DEFAULT_IDLE_STOP_MS = 30_000;

/** The trackers' counters that are gauges (of the running worker) rather than running totals. */
const GAUGES: readonly string[] = ['connections', 'bufferedBytes'];

/**
 * One tracker's counters as the worker last published them, plus the running totals of the workers stopped before it
 * (its gauges start again from 0).
 */
class SharedStats<S extends object> {
  readonly shared: Float64Array;
  private readonly carried: Float64Array;

  constructor(
    private readonly keys: readonly (keyof S)[],
    private readonly empty: () => S,
  ) {
    this.shared = new Float64Array(new SharedArrayBuffer(8 * keys.length));
    this.carried = new Float64Array(keys.length);
  }

  read(): S {
    const stats = this.empty();
    this.keys.forEach((key, i) => ((stats[key] as number) = this.shared[i]! + this.carried[i]!));
    return stats;
  }

  /** Keeps the running totals of a worker being stopped. */
  carryOver(): void {
    this.keys.forEach((key, i) => {
      if (!GAUGES.includes(key as string)) this.carried[i]! += this.shared[i]!;
      this.shared[i] = 0;
    });
  }
}

/**
 * The L7 parser in a worker thread, fed from the Observer's thread. A worker that has had no packet for a while
 * (30 s by default) is stopped, giving back its memory, and a new one starts with the next packet: what the old one
 * tracked (HTTP connections, DNS queries awaiting answers) is forgotten, its counters carry on.
 */
export class L7Offload {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private readonly options: SevenParserOptions;
  private readonly store: L7Store;
  private readonly onFailure: (err: Error) => void;
  private readonly httpOn: boolean;
  private readonly dnsOn: boolean;
  private readonly httpCounters = new SharedStats(HTTP_STATS_KEYS, emptyHttpConnectionStats);
  private readonly dnsTcpCounters = new SharedStats(DNS_TCP_STATS_KEYS, emptyDnsTcpStats);
  private readonly deliver: L7Delivery;
  private readonly maxInFlight: number;
  // The running worker's shared memory (dropped when it stops).
  private control: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private floats: Float64Array<ArrayBufferLike> = new Float64Array(0);
  private records: Float64Array<ArrayBufferLike> = new Float64Array(0);
  private copier = new WordCopier(new ArrayBuffer(0));
  // Positions (modulo 2^32, as in Control): bytes written, packets written, packets written but not yet published,
  // packets the worker has answered and bytes it has consumed as last seen, records taken.
  private writeAt = 0;
  private submitted = 0;
  private unpublished = 0;
  private answered = 0;
  private consumed = 0;
  private recordsTaken = 0;
  /** Whether the running worker has said it is up. */
  private ready = false;
  private submittedAtLastLook = 0;
  private idleSince = Date.now();
  private readonly idleTimer: NodeJS.Timeout;
  private endOfTurnScheduled = false;
  private failed: Error | undefined;
  private idle: (() => void)[] = [];
  private readonly endOfTurn = () => {
    this.endOfTurnScheduled = false;
    this.publish();
    this.takeAnswers();
    if (this.answered !== this.submitted) this.wantWake();
  };

  /**
   * Starts the worker. `maxInFlight` bounds the packets handed over and not yet answered (the Observer's thread waits
   * for the worker beyond it), so that tickets (ring positions) are still in the ring when their records come back.
   */
  constructor(
    options: SevenParserOptions,
    store: L7Store,
    deliver: L7Delivery,
    maxInFlight: number,
    onFailure: (err: Error) => void,
  ) {
    this.options = options;
    this.store = store;
    this.deliver = deliver;
    this.onFailure = onFailure;
    this.httpOn = (options.protocols ?? L7_PROTOCOLS).includes('http');
    this.dnsOn = (options.protocols ?? L7_PROTOCOLS).includes('dns');
    this.maxInFlight = Math.max(1, maxInFlight);
    const idleStopMs = options.workerIdleStopMs ?? DEFAULT_IDLE_STOP_MS;
    this.idleTimer = setInterval(() => this.stopIfIdle(idleStopMs), Math.max(10, idleStopMs / 4));
    this.idleTimer.unref();
    this.start();
  }

  /** Whether a worker thread runs now (it is stopped while no packets come). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  private start(): void {
    const channel = new MessageChannel();
    const port = channel.port1;
    port.on('message', (message: number) => this.onWorkerMessage(message));
    const packets = new SharedArrayBuffer(PACKET_RING_BYTES);
    const records = new SharedArrayBuffer(RECORD_RING_SLOTS * 3 * 8);
    const control = new SharedArrayBuffer(Control.SLOTS * 4);
    this.control = new Int32Array(control);
    this.words = new Uint32Array(packets);
    this.floats = new Float64Array(packets);
    this.records = new Float64Array(records);
    this.copier = new WordCopier(packets);
    this.writeAt = this.submitted = this.unpublished = this.answered = this.consumed = this.recordsTaken = 0;
    this.ready = false;
    const data: L7WorkerData = {
      options: this.options,
      store: this.store.memory,
      port: channel.port2,
      control,
      packets,
      records,
      httpStats: this.httpCounters.shared.buffer as SharedArrayBuffer,
      dnsTcpStats: this.dnsTcpCounters.shared.buffer as SharedArrayBuffer,
    };
    const worker = startWorker(data, [channel.port2]);
    worker.unref();
    worker.on('error', (err) => {
      this.fail(err);
      this.onFailure(err);
    });
    this.worker = worker;
    this.port = port;
    this.idleSince = Date.now();
    // Kept alive until the worker says it is up (settled() waits for that).
    port.ref();
  }

  /** Stops the worker once it has had nothing to read for `idleStopMs`, keeping its counters. */
  private stopIfIdle(idleStopMs: number): void {
    const now = Date.now();
    this.takeAnswers();
    if (this.submitted !== this.submittedAtLastLook || this.answered !== this.submitted || !this.ready) {
      this.submittedAtLastLook = this.submitted;
      this.idleSince = now;
      return;
    }
    if (this.worker === undefined || now - this.idleSince < idleStopMs) return;
    this.httpCounters.carryOver();
    this.dnsTcpCounters.carryOver();
    void this.stopWorker();
  }

  /** Tells the worker to return, ends its thread and lets its memory go. */
  private stopWorker(): Promise<number> | undefined {
    const worker = this.worker;
    if (worker === undefined) return undefined;
    Atomics.store(this.control, Control.STOP, 1);
    Atomics.notify(this.control, Control.PUBLISHED);
    Atomics.notify(this.control, Control.RECORDS_TAKEN);
    const stopped = worker.terminate();
    this.port!.close();
    this.worker = undefined;
    this.port = undefined;
    this.control = new Int32Array(0);
    this.words = new Uint32Array(0);
    this.floats = new Float64Array(0);
    this.records = new Float64Array(0);
    this.copier = new WordCopier(new ArrayBuffer(0));
    this.submittedAtLastLook = 0;
    return stopped;
  }

  /**
   * Hands over one packet (decoded into `h`, in `bytes`, captured at seconds/nanos) whose records are to be delivered
   * with `ticket`: at once into the packet ring, published to the worker every few packets and at the end of this
   * turn of the event loop. Records the worker has found meanwhile are delivered first.
   */
  submit(h: PacketHeaders, bytes: Uint8Array, protocol: number, seconds: number, nanos: number, ticket: number): void {
    if (this.failed !== undefined) return;
    if (this.worker === undefined) this.start();
    // The worker's counters are on a line it keeps writing: read every few packets, not each time.
    if ((this.submitted & (LOOK_EVERY - 1)) === 0) this.takeAnswers();
    const addressLength = h.ipVersion === 4 ? 4 : 16;
    const payloadLength = Math.min(h.payloadEnd - h.payloadOffset, MAX_PAYLOAD_BYTES);
    const size = (Entry.ADDRESSES_BYTE + 2 * addressLength + payloadLength + 7) & ~7;
    while (this.mustWait(size)) {
      this.waitForWorker(size);
      if (this.failed !== undefined) return;
    }
    let at = this.writeAt & (PACKET_RING_BYTES - 1);
    const words = this.words;
    if (at + size > PACKET_RING_BYTES) {
      words[at >>> 2] = (PACKET_RING_BYTES - at) | Entry.PADDING;
      this.writeAt = (this.writeAt + PACKET_RING_BYTES - at) | 0;
      at = 0;
    }
    const w = at >>> 2;
    words[w + Entry.SIZE] = size;
    words[w + Entry.NANOS] = nanos;
    this.floats[(w >>> 1) + Entry.SECONDS_F64] = seconds;
    this.floats[(w >>> 1) + Entry.TICKET_F64] = ticket;
    words[w + Entry.KINDS] = protocol | (h.ipVersion << 8) | (h.tcpFlags << 16);
    words[w + Entry.PORTS] = h.sourcePort | (h.destinationPort << 16);
    const tcp = h.transportOffset;
    words[w + Entry.SEQUENCE] = protocol === IpProtocol.TCP ? uint32At(bytes, tcp + 4) : 0;
    words[w + Entry.ACKNOWLEDGEMENT] = protocol === IpProtocol.TCP ? uint32At(bytes, tcp + 8) : 0;
    words[w + Entry.PAYLOAD_LENGTH] = payloadLength;
    let to = at + Entry.ADDRESSES_BYTE;
    const source = h.sourceAddressOffset;
    const destination = h.destinationAddressOffset;
    const copier = this.copier;
    copier.copy(bytes, source, addressLength, to);
    to += addressLength;
    copier.copy(bytes, destination, addressLength, to);
    to += addressLength;
    copier.copy(bytes, h.payloadOffset, payloadLength, to);
    this.writeAt = (this.writeAt + size) | 0;
    this.submitted = (this.submitted + 1) | 0;
    if (++this.unpublished === PUBLISH_EVERY) this.publish();
    if (!this.endOfTurnScheduled) {
      this.endOfTurnScheduled = true;
      setImmediate(this.endOfTurn);
    }
  }

  /**
   * Whether a packet entry of `size` bytes must wait: a full window of packets is in flight, or the ring is full.
   * While a worker starts (loading its code takes a tenth of a second or more) the window is twice as wide, so that a
   * live capture does not stall meanwhile (and lose packets) at a few thousand packets a second: with nothing
   * answered yet the Observer's ring moves one entry a packet, and the first packets' flows are still in it when the
   * worker answers.
   */
  private mustWait(size: number): boolean {
    const window = this.ready ? this.maxInFlight : 2 * this.maxInFlight;
    return ((this.submitted - this.answered) | 0) >= window || !this.hasRoom(size);
  }

  /** Whether `size` more bytes fit the packet ring (with the padding to its end, if they would not fit before it). */
  private hasRoom(size: number): boolean {
    const at = this.writeAt & (PACKET_RING_BYTES - 1);
    const needed = at + size > PACKET_RING_BYTES ? PACKET_RING_BYTES - at + size : size;
    if (((this.writeAt - this.consumed) | 0) + needed <= PACKET_RING_BYTES) return true;
    this.consumed = Atomics.load(this.control, Control.CONSUMED);
    return ((this.writeAt - this.consumed) | 0) + needed <= PACKET_RING_BYTES;
  }

  /** Makes the packets written so far readable by the worker, waking it if it sleeps. */
  private publish(): void {
    if (this.unpublished === 0 || this.worker === undefined) return;
    this.unpublished = 0;
    const control = this.control;
    Atomics.store(control, Control.PUBLISHED, this.writeAt);
    if (Atomics.load(control, Control.WORKER_SLEEPS) === 1) Atomics.notify(control, Control.PUBLISHED);
  }

  /**
   * Delivers the records the worker has written since the last look, in order, and notes how many packets it has
   * answered. Cheap when there is nothing new: two loads of shared memory.
   */
  private takeAnswers(): void {
    const control = this.control;
    if (control.length === 0) return;
    // Answered before written: every record of an answered packet is in the ring by the time it counts as answered.
    const answered = Atomics.load(control, Control.ANSWERED);
    const written = Atomics.load(control, Control.RECORDS_WRITTEN);
    if (written !== this.recordsTaken) {
      const records = this.records;
      for (let i = this.recordsTaken; i !== written; i = (i + 1) | 0) {
        const at = (i & (RECORD_RING_SLOTS - 1)) * 3;
        this.deliver(records[at]!, records[at + 1]! as L7Kind, records[at + 2]!);
      }
      this.recordsTaken = written;
      Atomics.store(control, Control.RECORDS_TAKEN, written);
      if (Atomics.load(control, Control.WORKER_WAITS_FOR_ROOM) === 1) Atomics.notify(control, Control.RECORDS_TAKEN);
    }
    if (answered === this.answered) return;
    this.answered = answered;
    if (answered === this.submitted && this.ready) this.becameIdle();
  }

  /**
   * Blocks this thread until the worker has made progress (answered packets, freed room) while a packet entry of
   * `size` bytes must wait, taking its records in. A worker that makes none for STALL_MS (it died, or hangs) is given
   * up: L7 reading stops, the rest of ingest goes on.
   */
  private waitForWorker(size: number): void {
    this.publish();
    const control = this.control;
    const progress = Atomics.load(control, Control.PROGRESS);
    Atomics.store(control, Control.OBSERVER_WAITS, 1);
    // What the worker did before it could see this thread waiting is taken now; only then is waiting safe.
    this.takeAnswers();
    if (!this.mustWait(size)) {
      Atomics.store(control, Control.OBSERVER_WAITS, 0);
      return;
    }
    if (Atomics.wait(control, Control.PROGRESS, progress, STALL_MS) === 'timed-out' && this.failed === undefined) {
      const err = new Error(`the L7 parser's worker thread has not answered for ${STALL_MS} ms`);
      this.fail(err);
      if (this.worker !== undefined) void this.worker.terminate();
      this.onFailure(err);
    }
    Atomics.store(control, Control.OBSERVER_WAITS, 0);
    this.takeAnswers();
  }

  /** Asks the worker for a message once it answers more (this thread goes idle with packets in flight). */
  private wantWake(): void {
    if (this.port === undefined || this.failed !== undefined) return;
    this.port.ref();
    Atomics.store(this.control, Control.WAKE_WANTED, 1);
    // The worker may have answered between the last look and the request: look again.
    this.takeAnswers();
  }

  private onWorkerMessage(message: number): void {
    if (message === WorkerMessage.READY) this.ready = true;
    this.takeAnswers();
    if (this.answered === this.submitted) {
      if (this.ready) this.becameIdle();
    } else {
      this.wantWake();
    }
  }

  /** Resolves once every packet handed over so far has been read and its records delivered. */
  settled(): Promise<void> {
    this.publish();
    this.takeAnswers();
    if (this.failed !== undefined || this.worker === undefined || (this.ready && this.answered === this.submitted)) {
      return Promise.resolve();
    }
    const settled = new Promise<void>((resolve) => this.idle.push(resolve));
    if (this.ready) this.wantWake();
    return settled;
  }

  /** Stops the worker; records of packets not yet answered are not delivered. */
  async close(): Promise<void> {
    clearInterval(this.idleTimer);
    this.fail(new Error('the L7 parser was closed'));
    await this.stopWorker();
  }

  /** The HTTP tracker's counters as of the worker's last report (undefined with HTTP off). */
  get httpStats(): HttpConnectionStats | undefined {
    return this.httpOn ? this.httpCounters.read() : undefined;
  }

  /** The DNS-over-TCP tracker's counters as of the worker's last report (undefined with DNS off). */
  get dnsTcpStats(): DnsTcpStats | undefined {
    return this.dnsOn ? this.dnsTcpCounters.read() : undefined;
  }

  private fail(err: Error): void {
    if (this.failed !== undefined) return;
    this.failed = err;
    this.becameIdle();
  }

  private becameIdle(): void {
    this.port?.unref();
    if (this.idle.length === 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const resolve of idle) resolve();
  }
}

/**
 * The worker thread, from dist/ as JavaScript; run from the sources (tests, tsx), its TypeScript is loaded through
 * tsx's loader, registered in the thread first.
 */
function startWorker(data: L7WorkerData, transferList: Transferable[]): Worker {
  // It allocates little per packet: a young generation as small as the main thread's (bin/hubble-ts.js) keeps its
  // resident memory down.
  const options = {
    workerData: data,
    transferList,
    name: 'hubble-ts L7 parser',
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), options);
  // tsx's ESM API (its package resolves the CommonJS build for require; the ES module build sits beside it).
  const tsx = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  const entry = new URL('./worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

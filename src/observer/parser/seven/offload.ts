// Runs the L7 parser in a worker thread of its own: the Observer's thread copies each packet that may carry an L7
// message into a batch (its addresses, ports, TCP numbers, time and payload), the worker reads the batches in order
// and adds what it finds to the shared L7 store, and each record comes back as (ticket, kind, number) in packet order.
// The Observer's thread keeps only the copy and the ring write; the parsing runs on another core.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { receiveMessageOnPort, MessageChannel, Worker, type MessagePort, type Transferable } from 'node:worker_threads';
import type { PacketHeaders } from '../../../packet/frame.js';
import { emptyHttpConnectionStats, type HttpConnectionStats } from './httpConnections.js';
import { emptyDnsTcpStats, type DnsTcpStats } from './dnsTcp.js';
import { L7_PROTOCOLS, type SevenParserOptions } from './index.js';
import type { L7Kind, L7Store, L7StoreMemory } from './l7Store.js';
import { uint32At } from '../../../packet/format.js';
import { IpProtocol } from '../../../packet/protocols.js';

/** Where a record found in a packet goes: the ticket its packet was handed in with, the record's kind and number. */
export type L7Delivery = (ticket: number, kind: L7Kind, sequence: number) => void;

// A batch entry, 8-byte aligned, read as 32-bit words (in this machine's byte order: both threads share it): its size
// in bytes, the time's nanoseconds, the seconds (a float64 at word 2), protocol | IP version << 8 | TCP flags << 16,
// source port | destination port << 16, the TCP sequence and acknowledgement numbers, the payload length; then from
// byte 40 on the source and destination addresses (4 or 16 bytes each) and the payload.
export const Entry = {
  SIZE: 0,
  NANOS: 1,
  SECONDS_F64: 1,
  KINDS: 4,
  PORTS: 5,
  SEQUENCE: 6,
  ACKNOWLEDGEMENT: 7,
  PAYLOAD_LENGTH: 8,
  ADDRESSES_BYTE: 40,
} as const;

/** What the worker thread starts with (workerData). */
export interface L7WorkerData {
  options: SevenParserOptions;
  store: L7StoreMemory;
  port: MessagePort;
  /** Int32 counters: [0] batches the worker has answered. */
  control: SharedArrayBuffer;
  /** The HTTP tracker's counters as of the last batch (float64s, in the order of HTTP_STATS_KEYS). */
  httpStats: SharedArrayBuffer;
  /** The DNS-over-TCP tracker's, likewise (DNS_TCP_STATS_KEYS). */
  dnsTcpStats: SharedArrayBuffer;
}

/** The HTTP tracker's counters, in the order the worker writes them to shared memory. */
export const HTTP_STATS_KEYS = Object.keys(emptyHttpConnectionStats()) as (keyof HttpConnectionStats)[];
/** The DNS-over-TCP tracker's counters, likewise. */
export const DNS_TCP_STATS_KEYS = Object.keys(emptyDnsTcpStats()) as (keyof DnsTcpStats)[];

/** Writes a tracker's counters into the shared memory the Observer's thread reads them from (in the worker). */
export function publishStats<S extends object>(keys: readonly (keyof S)[], stats: S, to: Float64Array): void {
  for (let i = 0; i < keys.length; i++) to[i] = stats[keys[i]!] as number;
}

/** A batch handed to the worker: `count` entries in `buffer` (moved, not copied, and handed back with the answer). */
export interface L7Batch {
  buffer: ArrayBuffer;
  count: number;
}

/** The worker's answer to a batch, in order: (entry index, kind, record number) per record. */
export interface L7BatchAnswer {
  buffer: ArrayBuffer;
  records: Float64Array;
}

/** The worker's young generation (the main thread runs with 4 MiB semi-spaces, i.e. 12 MiB). */
const YOUNG_GENERATION_MB = 12;
const BATCH_BYTES = 128 * 1024;
const BATCH_PACKETS = 256;
const MAX_BATCHES_IN_FLIGHT = 4;
/** How long the Observer's thread, a full window ahead, waits for the worker to answer before giving L7 up. */
const STALL_MS = 10_000;

interface SentBatch {
  tickets: Float64Array;
}

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
  private readonly controlMemory: SharedArrayBuffer;
  private readonly control: Int32Array;
  private readonly deliver: L7Delivery;
  private readonly batchPackets: number;
  private readonly sent: SentBatch[] = [];
  private readonly spareBuffers: ArrayBuffer[] = [];
  private readonly spareTickets: Float64Array[] = [];
  private buffer: ArrayBuffer;
  private bytes: Uint8Array;
  private words: Uint32Array;
  private floats: Float64Array;
  private used = 0;
  private tickets: Float64Array;
  private count = 0;
  private answered = 0;
  private submitted = 0;
  private submittedAtLastLook = 0;
  private idleSince = Date.now();
  private readonly idleTimer: NodeJS.Timeout;
  private flushScheduled = false;
  private failed: Error | undefined;
  private idle: (() => void)[] = [];
  private readonly flushSoon = () => {
    this.flushScheduled = false;
    this.flush();
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
    this.batchPackets = Math.max(1, Math.min(BATCH_PACKETS, Math.floor(maxInFlight / MAX_BATCHES_IN_FLIGHT)));
    this.buffer = new ArrayBuffer(BATCH_BYTES);
    this.bytes = new Uint8Array(this.buffer);
    this.words = new Uint32Array(this.buffer);
    this.floats = new Float64Array(this.buffer);
    this.tickets = new Float64Array(this.batchPackets);
    this.controlMemory = new SharedArrayBuffer(4);
    this.control = new Int32Array(this.controlMemory);
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
    port.on('message', (answer: L7BatchAnswer) => this.answer(answer));
    const data: L7WorkerData = {
      options: this.options,
      store: this.store.memory,
      port: channel.port2,
      control: this.controlMemory,
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
    // An empty batch first: its answer says the worker is up (settled() waits for it).
    this.sent.push({ tickets: new Float64Array(0) });
    port.postMessage({ buffer: new ArrayBuffer(0), count: 0 } satisfies L7Batch);
    port.ref();
  }

  /** Stops the worker once it has had nothing to read for `idleStopMs`, keeping its counters. */
  private stopIfIdle(idleStopMs: number): void {
    const now = Date.now();
    if (this.submitted !== this.submittedAtLastLook || this.sent.length > 0 || this.count > 0) {
      this.submittedAtLastLook = this.submitted;
      this.idleSince = now;
      return;
    }
    if (this.worker === undefined || now - this.idleSince < idleStopMs) return;
    this.httpCounters.carryOver();
    this.dnsTcpCounters.carryOver();
    void this.worker.terminate();
    this.port!.close();
    this.worker = undefined;
    this.port = undefined;
  }

  /**
   * Hands over one packet (decoded into `h`, in `bytes`, captured at seconds/nanos) whose records are to be delivered
   * with `ticket`. The batch goes to the worker when full, or at the end of this turn of the event loop.
   */
  submit(h: PacketHeaders, bytes: Uint8Array, protocol: number, seconds: number, nanos: number, ticket: number): void {
    if (this.failed !== undefined) return;
    const addressLength = h.ipVersion === 4 ? 4 : 16;
    const payloadLength = h.payloadEnd - h.payloadOffset;
    const size = (Entry.ADDRESSES_BYTE + 2 * addressLength + payloadLength + 7) & ~7;
    if (this.used + size > this.bytes.length) {
      this.flush();
      if (size > this.bytes.length) this.useBuffer(new ArrayBuffer(size));
    }
    const at = this.used;
    const w = at >>> 2;
    const words = this.words;
    words[w + Entry.SIZE] = size;
    words[w + Entry.NANOS] = nanos;
    this.floats[(w >>> 1) + Entry.SECONDS_F64] = seconds;
    words[w + Entry.KINDS] = protocol | (h.ipVersion << 8) | (h.tcpFlags << 16);
    words[w + Entry.PORTS] = h.sourcePort | (h.destinationPort << 16);
    const tcp = h.transportOffset;
    words[w + Entry.SEQUENCE] = protocol === IpProtocol.TCP ? uint32At(bytes, tcp + 4) : 0;
    words[w + Entry.ACKNOWLEDGEMENT] = protocol === IpProtocol.TCP ? uint32At(bytes, tcp + 8) : 0;
    words[w + Entry.PAYLOAD_LENGTH] = payloadLength;
    const out = this.bytes;
    let to = at + Entry.ADDRESSES_BYTE;
    const source = h.sourceAddressOffset;
    const destination = h.destinationAddressOffset;
    for (let i = 0; i < addressLength; i++) out[to + i] = bytes[source + i]!;
    to += addressLength;
    for (let i = 0; i < addressLength; i++) out[to + i] = bytes[destination + i]!;
    to += addressLength;
    // A view made directly: subarray() of a Buffer goes through its species constructor, several times slower.
    if (payloadLength > 0) out.set(new Uint8Array(bytes.buffer, bytes.byteOffset + h.payloadOffset, payloadLength), to);
    this.used = at + size;
    this.tickets[this.count++] = ticket;
    this.submitted++;
    if (this.count === this.batchPackets) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  /** Sends the batch being filled (if any), first taking in every answer already there. */
  flush(): void {
    this.takeAnswers();
    if (this.count === 0 || this.failed !== undefined) return;
    while (this.sent.length >= MAX_BATCHES_IN_FLIGHT && this.failed === undefined) this.waitForAnswer();
    if (this.failed !== undefined) return;
    if (this.port === undefined) this.start();
    const port = this.port!;
    const batch: L7Batch = { buffer: this.buffer, count: this.count };
    this.sent.push({ tickets: this.tickets });
    port.postMessage(batch, [this.buffer]);
    port.ref();
    this.useBuffer(this.spareBuffers.pop() ?? new ArrayBuffer(BATCH_BYTES));
    this.tickets = this.spareTickets.pop() ?? new Float64Array(this.batchPackets);
    this.count = 0;
  }

  /** Resolves once every packet handed over so far has been read and its records delivered. */
  settled(): Promise<void> {
    this.flush();
    if (this.sent.length === 0 || this.failed !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops the worker; records of packets not yet answered are not delivered. */
  async close(): Promise<void> {
    clearInterval(this.idleTimer);
    this.fail(new Error('the L7 parser was closed'));
    await this.worker?.terminate();
  }

  /** The HTTP tracker's counters as of the last batch the worker read (undefined with HTTP off). */
  get httpStats(): HttpConnectionStats | undefined {
    return this.httpOn ? this.httpCounters.read() : undefined;
  }

  /** The DNS-over-TCP tracker's counters as of the last batch the worker read (undefined with DNS off). */
  get dnsTcpStats(): DnsTcpStats | undefined {
    return this.dnsOn ? this.dnsTcpCounters.read() : undefined;
  }

  private useBuffer(buffer: ArrayBuffer): void {
    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.words = new Uint32Array(buffer);
    this.floats = new Float64Array(buffer);
    this.used = 0;
  }

  private takeAnswers(): void {
    const port = this.port;
    if (port === undefined) return;
    for (;;) {
      const message = receiveMessageOnPort(port);
      if (message === undefined) return;
      this.answer(message.message as L7BatchAnswer);
    }
  }

  /**
   * Blocks this thread until the worker has answered one more batch, and takes the answers in. A worker that answers
   * nothing for STALL_MS (it died, or hangs) is given up: L7 reading stops, the rest of ingest goes on.
   */
  private waitForAnswer(): void {
    const deadline = Date.now() + STALL_MS;
    const before = this.answered;
    while (this.answered === before && this.failed === undefined) {
      const done = Atomics.load(this.control, 0);
      if (done <= this.answered) {
        const left = deadline - Date.now();
        if (left <= 0) {
          const err = new Error(`the L7 parser's worker thread has not answered for ${STALL_MS} ms`);
          this.fail(err);
          void this.worker?.terminate();
          this.onFailure(err);
          return;
        }
        Atomics.wait(this.control, 0, done, left);
      }
      this.takeAnswers();
    }
  }

  private answer(answer: L7BatchAnswer): void {
    const sent = this.sent.shift();
    if (sent === undefined) return;
    this.answered++;
    if (answer.buffer.byteLength === BATCH_BYTES) this.spareBuffers.push(answer.buffer);
    const records = answer.records;
    const tickets = sent.tickets;
    for (let i = 0; i < records.length; i += 3) {
      this.deliver(tickets[records[i]!]!, records[i + 1]! as L7Kind, records[i + 2]!);
    }
    if (tickets.length === this.batchPackets) this.spareTickets.push(tickets);
    if (this.sent.length === 0) this.becameIdle();
  }

  private fail(err: Error): void {
    if (this.failed !== undefined) return;
    this.failed = err;
    this.sent.length = 0;
    this.becameIdle();
  }

  private becameIdle(): void {
    this.port?.unref();
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

// The L7 records' table: per DNS message or HTTP head its kind, its latency and its own bytes (a circular byte arena),
// numbered by sequence. The L7 parser adds to it as it ingests packets, in whichever thread it runs (its memory can be
// shared with a worker thread); the ring keeps a record's number beside its packet's L3/L4 columns, and fields are read
// from the bytes only when someone reads the flow. No strings or objects are built per message at ingest.
import { WordCopier } from '../../../packet/wordCopy.js';

/** Which L7 record a ring slot holds; 0 for none. */
export const L7Kind = { NONE: 0, DNS_REQUEST: 1, DNS_RESPONSE: 2, HTTP_REQUEST: 3, HTTP_RESPONSE: 4 } as const;
export type L7Kind = (typeof L7Kind)[keyof typeof L7Kind];

/** An L7 record as a reader gets it back: kind, latency, and its bytes (undefined once overwritten or not kept). */
export interface StoredL7 {
  kind: L7Kind;
  latencyNs: number;
  /** The DNS message, or the HTTP head from its start line through the blank line. */
  message: Uint8Array | undefined;
  /** For an HTTP response, the head of the request it answers. */
  request: Uint8Array | undefined;
  /**
   * Whether the message travelled the other way than the packet it was found in: bytes held behind a hole the
   * capture lost, read when a packet of the other direction (its acknowledgement, a FIN) showed the hole would not be
   * filled.
   */
  reversed: boolean;
}

/**
 * Arena bytes per ring slot the table serves: an HTTP head of a typical client is 100-400 bytes, a DNS message
 * 30-300. A record whose bytes were overwritten by a run of larger messages still has its kind and latency.
 */
const ARENA_BYTES_PER_RING_SLOT = 512;
const MIN_ARENA_BYTES = 1 << 20;

// Counters at the head of the table's memory: records added, arena bytes ever written.
const ADDED = 0;
const WRITTEN = 1;

/** The table's memory: shared with a worker thread when the parser runs there (SharedArrayBuffer), plain otherwise. */
export interface L7StoreMemory {
  records: number;
  counters: ArrayBufferLike;
  latency: ArrayBufferLike;
  messageAt: ArrayBufferLike;
  messageLength: ArrayBufferLike;
  requestAt: ArrayBufferLike;
  requestLength: ArrayBufferLike;
  reversed: ArrayBufferLike;
  arena: ArrayBufferLike;
}

export class L7Store {
  readonly memory: L7StoreMemory;
  private readonly mask: number;
  private readonly counters: Float64Array;
  private readonly latency: Float64Array;
  /** Where each record's message and request bytes start, as absolute arena offsets (bytes ever written before). */
  private readonly messageAt: Float64Array;
  private readonly messageLength: Uint32Array;
  private readonly requestAt: Float64Array;
  private readonly requestLength: Uint32Array;
  private readonly reversed: Uint8Array;
  private readonly arena: Uint8Array;
  /** Copiers into the arena: one for messages, one for the requests answered (each keeps a view of its last source). */
  private readonly messageCopier: WordCopier;
  private readonly requestCopier: WordCopier;
  /**
   * Where the next bytes go in the arena: the bytes ever written modulo its size, kept apart by the one thread that
   * adds (a float64's modulo per copy is dear).
   */
  private writeOffset: number;

  /**
   * A table of at least `records` records (rounded up to a power of two) whose bytes are kept for the flows of a ring
   * of `ringSlots` slots, shared between threads with `shared`.
   */
  static create(records: number, ringSlots: number, shared: boolean): L7Store {
    const n = 2 ** Math.ceil(Math.log2(Math.max(2, records)));
    const buffer = (bytes: number): ArrayBufferLike => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    return new L7Store({
      records: n,
      counters: buffer(16),
      latency: buffer(n * 8),
      messageAt: buffer(n * 8),
      messageLength: buffer(n * 4),
      requestAt: buffer(n * 8),
      requestLength: buffer(n * 4),
      reversed: buffer(n),
      arena: buffer(Math.max(MIN_ARENA_BYTES, ringSlots * ARENA_BYTES_PER_RING_SLOT)),
    });
  }

  /** The table over `memory` (another thread's, when shared). */
  constructor(memory: L7StoreMemory) {
    this.memory = memory;
    this.mask = memory.records - 1;
    this.counters = new Float64Array(memory.counters);
    this.latency = new Float64Array(memory.latency);
    this.messageAt = new Float64Array(memory.messageAt);
    this.messageLength = new Uint32Array(memory.messageLength);
    this.requestAt = new Float64Array(memory.requestAt);
    this.requestLength = new Uint32Array(memory.requestLength);
    this.reversed = new Uint8Array(memory.reversed);
    this.arena = new Uint8Array(memory.arena);
    this.messageCopier = new WordCopier(memory.arena);
    this.requestCopier = new WordCopier(memory.arena);
    this.writeOffset = this.counters[WRITTEN]! % this.arena.length;
  }

  /**
   * Adds a record: its latency, its message bytes[start, end) and, for an HTTP response, the request head
   * request[requestStart, requestEnd) (empty when not paired); `reversed` when it travelled the other way than the
   * packet it was found in. Returns its sequence number.
   */
  add(
    latencyNs: number,
    bytes: Uint8Array,
    start: number,
    end: number,
    request: Uint8Array,
    requestStart: number,
    requestEnd: number,
    reversed = false,
  ): number {
    const counters = this.counters;
    const sequence = counters[ADDED]!;
    const at = sequence & this.mask;
    this.latency[at] = latencyNs;
    this.reversed[at] = reversed ? 1 : 0;
    const messageLength = this.copy(this.messageCopier, bytes, start, end);
    this.messageLength[at] = messageLength;
    this.messageAt[at] = counters[WRITTEN]! - messageLength;
    const requestLength = this.copy(this.requestCopier, request, requestStart, requestEnd);
    this.requestLength[at] = requestLength;
    this.requestAt[at] = counters[WRITTEN]! - requestLength;
    counters[ADDED] = sequence + 1;
    return sequence;
  }

  /** Record `sequence` as `kind`, its bytes copied out; undefined bytes where later records have overwritten them. */
  load(sequence: number, kind: L7Kind): StoredL7 {
    const at = sequence & this.mask;
    const latencyNs = this.latency[at]!;
    const reversed = this.reversed[at] === 1;
    const message = this.bytesOf(this.messageAt[at]!, this.messageLength[at]!);
    const request = this.bytesOf(this.requestAt[at]!, this.requestLength[at]!);
    // A record is overwritten once the table has gone round past it (its bytes are checked on their own).
    const current = sequence > this.counters[ADDED]! - this.mask - 1;
    return {
      kind,
      latencyNs: current ? latencyNs : 0,
      message: current ? message : undefined,
      request: current ? request : undefined,
      reversed: current && reversed,
    };
  }

  /**
   * Appends bytes[start, end) at the next multiple of 4 (a message larger than an eighth of the arena is not kept);
   * returns the length kept.
   */
  private copy(copier: WordCopier, bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    const size = this.arena.length;
    if (length <= 0 || length > size >>> 3) return 0;
    const counters = this.counters;
    let at = this.writeOffset;
    const aligned = (at + 3) & ~3;
    let written = counters[WRITTEN]! + (aligned - at);
    at = aligned;
    if (at + length > size) {
      // Never split a message: skip the arena's tail and start over at its beginning.
      written += size - at;
      at = 0;
    }
    copier.copy(bytes, start, length, at);
    counters[WRITTEN] = written + length;
    this.writeOffset = at + length === size ? 0 : at + length;
    return length;
  }

  /**
   * A copy of the bytes at an absolute arena offset, or undefined when later writes have overwritten them (or none
   * were kept). Another thread may be writing the arena meanwhile, a message ahead of its counter (at most an eighth
   * of the arena, and as much again skipped at the arena's end): bytes within a quarter of the arena of being
   * overwritten count as gone, checked before and after copying.
   */
  private bytesOf(absolute: number, length: number): Uint8Array | undefined {
    const size = this.arena.length;
    const safeFrom = (): number => this.counters[WRITTEN]! - size + (size >>> 2);
    if (length === 0 || absolute < safeFrom()) return undefined;
    const at = absolute % size;
    const copy = this.arena.slice(at, at + length);
    return absolute < safeFrom() ? undefined : copy;
  }
}

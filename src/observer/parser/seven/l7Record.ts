// What the L7 parser keeps of one DNS message or HTTP head as it ingests a packet, and how the ring stores it: the
// kind, the latency, and the message's own bytes, copied into a byte arena beside the ring's columns. Fields are read
// from those bytes only when a reader asks for the flow, so ingest builds no strings or objects per message; the L7
// flow's addresses, ports and endpoints are the ring's L3/L4 columns of the same slot.

import { UUID_BYTES } from '../flowUuid.js';

/** Which L7 record a ring slot holds; 0 for none. */
export const L7Kind = { NONE: 0, DNS_REQUEST: 1, DNS_RESPONSE: 2, HTTP_REQUEST: 3, HTTP_RESPONSE: 4 } as const;
export type L7Kind = (typeof L7Kind)[keyof typeof L7Kind];

const NO_BYTES = new Uint8Array(0);

/** One L7 message found in a packet; reused from message to message (the views are valid until the next packet). */
export class L7Record {
  kind: L7Kind = L7Kind.NONE;
  /** The L7 flow's own UUID (random bytes), distinct from its packet's L3/L4 flow. */
  readonly uuid = new Uint8Array(UUID_BYTES);
  latencyNs = 0;
  /** The DNS message, or the HTTP head from its start line through the blank line. */
  bytes: Uint8Array = NO_BYTES;
  start = 0;
  end = 0;
  /** For an HTTP response, the head of the request it answers; empty when that request was not seen. */
  requestBytes: Uint8Array = NO_BYTES;
  requestStart = 0;
  requestEnd = 0;

  /** The record as a reader of the ring gets it back (views of this record's bytes). */
  stored(): StoredL7 {
    return {
      kind: this.kind,
      latencyNs: this.latencyNs,
      message: this.end > this.start ? this.bytes.subarray(this.start, this.end) : undefined,
      request:
        this.requestEnd > this.requestStart
          ? this.requestBytes.subarray(this.requestStart, this.requestEnd)
          : undefined,
    };
  }
}

/** An L7 record as a reader gets it back: kind, latency, and the message's bytes (undefined once overwritten). */
export interface StoredL7 {
  kind: L7Kind;
  latencyNs: number;
  message: Uint8Array | undefined;
  request: Uint8Array | undefined;
}

/**
 * Bytes kept per ring slot on average before the arena wraps; an HTTP head of a typical client is 100-400 bytes, a
 * DNS message 30-300. A slot whose bytes were overwritten by a run of larger messages still has its kind and latency.
 */
const ARENA_BYTES_PER_SLOT = 512;
const MIN_ARENA_BYTES = 1 << 20;

/** L7 records column by column, one slot per ring entry, their bytes in one circular arena. */
export class L7Columns {
  private readonly kinds: Uint8Array;
  private readonly latency: Float64Array;
  /** Where each slot's message and request bytes start, as absolute arena offsets (bytes ever written before). */
  private readonly messageAt: Float64Array;
  private readonly messageLength: Uint32Array;
  private readonly requestAt: Float64Array;
  private readonly requestLength: Uint32Array;
  private readonly arena: Uint8Array;
  private written = 0;

  constructor(slots: number) {
    this.kinds = new Uint8Array(slots);
    this.latency = new Float64Array(slots);
    this.messageAt = new Float64Array(slots);
    this.messageLength = new Uint32Array(slots);
    this.requestAt = new Float64Array(slots);
    this.requestLength = new Uint32Array(slots);
    this.arena = new Uint8Array(Math.max(MIN_ARENA_BYTES, slots * ARENA_BYTES_PER_SLOT));
  }

  kindAt(slot: number): L7Kind {
    return this.kinds[slot] as L7Kind;
  }

  store(slot: number, r: L7Record): void {
    this.kinds[slot] = r.kind;
    this.latency[slot] = r.latencyNs;
    this.messageLength[slot] = this.copy(r.bytes, r.start, r.end);
    this.messageAt[slot] = this.written - this.messageLength[slot]!;
    this.requestLength[slot] = this.copy(r.requestBytes, r.requestStart, r.requestEnd);
    this.requestAt[slot] = this.written - this.requestLength[slot]!;
  }

  clear(slot: number): void {
    this.kinds[slot] = L7Kind.NONE;
  }

  load(slot: number): StoredL7 {
    return {
      kind: this.kinds[slot] as L7Kind,
      latencyNs: this.latency[slot]!,
      message: this.view(this.messageAt[slot]!, this.messageLength[slot]!),
      request: this.view(this.requestAt[slot]!, this.requestLength[slot]!),
    };
  }

  /** Appends bytes[start, end) (a message larger than an eighth of the arena is not kept); returns the length kept. */
  private copy(bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    const size = this.arena.length;
    if (length <= 0 || length > size >>> 3) return 0;
    let at = this.written % size;
    if (at + length > size) {
      // Never split a message: skip the arena's tail and start over at its beginning.
      this.written += size - at;
      at = 0;
    }
    this.arena.set(bytes.subarray(start, end), at);
    this.written += length;
    return length;
  }

  /** The bytes at an absolute offset, or undefined when later writes have overwritten them (or none were kept). */
  private view(absolute: number, length: number): Uint8Array | undefined {
    if (length === 0 || absolute < this.written - this.arena.length) return undefined;
    const at = absolute % this.arena.length;
    return this.arena.subarray(at, at + length);
  }
}

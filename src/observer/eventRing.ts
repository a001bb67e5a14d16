// The Observer's ring: every event as the bytes of the response that carries it (a GetFlowsResponse for flows and
// lost events, GetAgentEventsResponse, GetDebugEventsResponse), in one circular byte log, with its kind and time
// beside it in typed arrays. A full ring of 65535 flows is a few megabytes of bytes, not a quarter of a million
// objects for the garbage collector to copy; GetFlows sends the bytes as they are; readers that filter decode a flow
// once, into a small cache the readers of the newest flows share.
import type { Flow } from '../api/flow/flow.js';
import { GetAgentEventsResponse, GetDebugEventsResponse, GetFlowsResponse } from '../api/observer/observer.js';
import { messageBodyEncoder, ProtoWriter, type MessageBodyEncoder } from '../protowire/compiledEncoder.js';
import type { DecodedEvent } from './parser/index.js';
import { Ring, type RingReader } from './ring.js';

export const EventKind = { FLOW: 1, AGENT: 2, DEBUG: 3, LOST: 4 } as const;
export type EventKindCode = (typeof EventKind)[keyof typeof EventKind];

/** Bytes of the log per ring slot to start with; it doubles when events are bigger, up to MAX_LOG_BYTES. */
const INITIAL_BYTES_PER_SLOT = 512;
/** The log never grows past this: beyond it the oldest events are given up early (readers are told, as for any loss). */
const MAX_LOG_BYTES = 256 * 1024 * 1024;
/** Decoded flows kept for readers that filter (direct-mapped by position). */
const DECODED_CACHE_SLOTS = 4096;

// GetFlowsResponse: flow = 1, lost_events = 3, node_name = 1000, time = 1001 (observer.proto); the other responses
// carry their event as field 1 and node_name, time as 2, 3.
const FLOW_TAG = 0x0a;
const NODE_NAME_TAG_1000 = [0xc2, 0x3e];
const TIME_TAG_1001 = [0xca, 0x3e];

export interface EventTime {
  seconds: number;
  nanos: number;
}

/** -1, 0 or 1 as (s1, n1) is before, at or after (s2, n2). */
export function compareTime(s1: number, n1: number, s2: number, n2: number): number {
  if (s1 !== s2) return s1 < s2 ? -1 : 1;
  return n1 === n2 ? 0 : n1 < n2 ? -1 : 1;
}

export class EventRing {
  readonly positions: Ring;
  private readonly kinds: Uint8Array;
  private readonly seconds: Float64Array;
  private readonly nanos: Int32Array;
  /** Absolute byte position of each entry's bytes in the log (offset = start & logMask). */
  private readonly starts: Float64Array;
  private readonly lengths: Uint32Array;
  private log: Uint8Array;
  private logMask: number;
  /** Absolute byte position where the next entry goes. */
  private logEnd = 0;
  private readonly scratch = new ProtoWriter(16 * 1024);
  private readonly flowBody: MessageBodyEncoder = messageBodyEncoder('flow.Flow');
  private readonly timestampBody: MessageBodyEncoder = messageBodyEncoder('google.protobuf.Timestamp');
  private readonly lostResponse: MessageBodyEncoder = messageBodyEncoder('observer.GetFlowsResponse');
  private readonly agentResponse: MessageBodyEncoder = messageBodyEncoder('observer.GetAgentEventsResponse');
  private readonly debugResponse: MessageBodyEncoder = messageBodyEncoder('observer.GetDebugEventsResponse');
  private readonly cachedPositions = new Float64Array(DECODED_CACHE_SLOTS).fill(-1);
  private readonly cachedFlows: (Flow | undefined)[] = new Array<Flow | undefined>(DECODED_CACHE_SLOTS).fill(undefined);
  /** Events given up early because the log could not grow (their bytes were needed for newer ones). */
  evictedEarly = 0;

  constructor(capacity: number) {
    this.positions = new Ring(capacity);
    const slots = this.positions.mask + 1;
    this.kinds = new Uint8Array(slots);
    this.seconds = new Float64Array(slots);
    this.nanos = new Int32Array(slots);
    this.starts = new Float64Array(slots);
    this.lengths = new Uint32Array(slots);
    let size = 64 * 1024;
    while (size < slots * INITIAL_BYTES_PER_SLOT) size *= 2;
    this.log = new Uint8Array(size);
    this.logMask = size - 1;
  }

  get cap(): number {
    return this.positions.cap;
  }

  get len(): number {
    return this.positions.len;
  }

  get readersLost(): number {
    return this.positions.readersLost;
  }

  /** Bytes the log holds now (it grows with the events, up to 256 MiB). */
  get logBytes(): number {
    return this.log.length;
  }

  readerFromOldest(): RingReader {
    return this.positions.readerFromOldest();
  }

  readerFromNow(): RingReader {
    return this.positions.readerFromNow();
  }

  /** Stores one decoded event as the bytes of the response that will carry it. */
  write(e: DecodedEvent): void {
    const w = this.scratch;
    w.pos = 0;
    let kind: EventKindCode;
    let seconds: number;
    let nanos: number;
    switch (e.kind) {
      case 'flow': {
        // GetFlowsResponse { flow, node_name, time }, the flow's own node name and time, as Hubble sends it.
        const flow = e.flow;
        kind = EventKind.FLOW;
        seconds = flow.time?.seconds ?? e.timestamp.seconds;
        nanos = flow.time?.nanos ?? e.timestamp.nanos;
        w.byte(FLOW_TAG);
        const at = w.beginDelimited(2);
        this.flowBody(flow, w);
        w.endDelimited(at);
        if (flow.nodeName !== '') {
          w.byte(NODE_NAME_TAG_1000[0]!);
          w.byte(NODE_NAME_TAG_1000[1]!);
          w.string(flow.nodeName);
        }
        if (flow.time !== undefined) {
          w.byte(TIME_TAG_1001[0]!);
          w.byte(TIME_TAG_1001[1]!);
          const t = w.beginDelimited();
          this.timestampBody(flow.time, w);
          w.endDelimited(t);
        }
        break;
      }
      case 'lost':
        kind = EventKind.LOST;
        ({ seconds, nanos } = e.timestamp);
        this.lostResponse({ lostEvents: e.lostEvent, nodeName: e.nodeName, time: e.timestamp }, w);
        break;
      case 'agent':
        kind = EventKind.AGENT;
        ({ seconds, nanos } = e.timestamp);
        this.agentResponse({ agentEvent: e.agentEvent, nodeName: e.nodeName, time: e.timestamp }, w);
        break;
      case 'debug':
        kind = EventKind.DEBUG;
        ({ seconds, nanos } = e.timestamp);
        this.debugResponse({ debugEvent: e.debugEvent, nodeName: e.nodeName, time: e.timestamp }, w);
        break;
    }
    const start = this.place(w.pos);
    const offset = start & this.logMask;
    const log = this.log;
    const n = w.pos;
    const src = w.buf;
    if (n < 128) for (let i = 0; i < n; i++) log[offset + i] = src[i]!;
    else log.set(src.subarray(0, n), offset);
    const position = this.positions.writePosition;
    const slot = position & this.positions.mask;
    this.kinds[slot] = kind;
    this.seconds[slot] = seconds;
    this.nanos[slot] = nanos;
    this.starts[slot] = start;
    this.lengths[slot] = n;
    this.positions.advance();
  }

  /**
   * Finds room for `n` contiguous bytes at the end of the log and returns their absolute start: wrapping to the
   * log's beginning when they do not fit before its end, growing the log while events the ring still holds would be
   * overwritten, and giving those up only when it cannot grow.
   */
  private place(n: number): number {
    if (n > MAX_LOG_BYTES / 2) throw new RangeError(`an event of ${n} bytes is larger than the ring can hold`);
    for (;;) {
      const size = this.log.length;
      let start = this.logEnd;
      const offset = start & this.logMask;
      if (offset + n > size) start += size - offset; // skip the tail: entries are contiguous
      const end = start + n;
      // Bytes before end - size are overwritten: every entry starting there must no longer be readable.
      const overwrittenBefore = end - size;
      const ring = this.positions;
      let first = ring.oldestPosition;
      // The ring is about to drop its oldest entry itself when full: that one need not survive.
      if (ring.len === ring.cap) first++;
      if (first >= ring.writePosition || this.starts[first & ring.mask]! >= overwrittenBefore) {
        this.logEnd = end;
        return start;
      }
      if (size * 2 <= MAX_LOG_BYTES && n <= size * 2) {
        this.grow();
        continue;
      }
      // Cannot grow: give up the oldest entries whose bytes this one needs.
      let position = first;
      while (position < ring.writePosition && this.starts[position & ring.mask]! < overwrittenBefore) position++;
      this.evictedEarly += position - first;
      ring.dropBefore(position);
      this.logEnd = end;
      return start;
    }
  }

  /** Doubles the log, moving every readable entry to where its absolute position falls in the larger one. */
  private grow(): void {
    const old = this.log;
    const oldMask = this.logMask;
    const size = old.length * 2;
    const log = new Uint8Array(size);
    const mask = size - 1;
    const ring = this.positions;
    for (let position = ring.oldestPosition; position < ring.writePosition; position++) {
      const slot = position & ring.mask;
      const start = this.starts[slot]!;
      const from = start & oldMask;
      log.set(old.subarray(from, from + this.lengths[slot]!), start & mask);
    }
    this.log = log;
    this.logMask = mask;
  }

  kindAt(position: number): EventKindCode {
    return this.kinds[position & this.positions.mask] as EventKindCode;
  }

  secondsAt(position: number): number {
    return this.seconds[position & this.positions.mask]!;
  }

  nanosAt(position: number): number {
    return this.nanos[position & this.positions.mask]!;
  }

  /** The stored response's bytes, copied (the log's own bytes change with later writes). */
  responseAt(position: number): Buffer {
    const slot = position & this.positions.mask;
    const from = this.starts[slot]! & this.logMask;
    const n = this.lengths[slot]!;
    const out = Buffer.allocUnsafe(n);
    const log = this.log;
    for (let i = 0; i < n; i++) out[i] = log[from + i]!;
    return out;
  }

  /** The flow at `position` (a FLOW entry), decoded once and shared by every reader asking soon after. */
  flowAt(position: number): Flow {
    const i = position & (DECODED_CACHE_SLOTS - 1);
    if (this.cachedPositions[i] === position) return this.cachedFlows[i]!;
    const slot = position & this.positions.mask;
    const from = this.starts[slot]! & this.logMask;
    const flow = GetFlowsResponse.decode(this.log.subarray(from, from + this.lengths[slot]!)).flow!;
    this.cachedPositions[i] = position;
    this.cachedFlows[i] = flow;
    return flow;
  }

  /** The whole stored response at `position`, decoded (for the rarer kinds and field masks). */
  decodeAt(position: number): GetFlowsResponse | GetAgentEventsResponse | GetDebugEventsResponse {
    const slot = position & this.positions.mask;
    const from = this.starts[slot]! & this.logMask;
    const bytes = this.log.subarray(from, from + this.lengths[slot]!);
    switch (this.kinds[slot]) {
      case EventKind.AGENT:
        return GetAgentEventsResponse.decode(bytes);
      case EventKind.DEBUG:
        return GetDebugEventsResponse.decode(bytes);
      default:
        return GetFlowsResponse.decode(bytes);
    }
  }
}

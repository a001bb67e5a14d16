// The Observer's ring. L3/L4 flows, nearly every event, are kept as the parser's record, column by column (see
// L34Columns): writing one copies its fields and allocates nothing, and a full ring is a few dozen arrays rather than
// objects for the garbage collector to copy. A flow becomes an object (toFlow) or its encoding (writeFlow) only when
// it is read; unfiltered GetFlows never builds the object, and readers that filter share a small cache of the objects
// of recent flows. Every other event (agent, debug, lost, socket traces) is kept as the object it was decoded to.
import type { Emitter, Flow } from '../api/flow/flow.js';
import { messageBodyEncoder, ProtoWriter, type MessageBodyEncoder } from '../protowire/compiledEncoder.js';
import type { DecodedEvent } from './parser/index.js';
import { L34Columns, L34Record, toFlow, writeFlow } from './parser/l34Flow.js';
import { L7Kind } from './parser/seven/l7Store.js';
import { Ring, type RingReader } from './ring.js';

export const EventKind = { FLOW: 1, AGENT: 2, DEBUG: 3, LOST: 4 } as const;
export type EventKindCode = (typeof EventKind)[keyof typeof EventKind];

/**
 * Flow objects kept for readers that filter (direct-mapped by position): the last 512 entries, about 10 ms of a busy
 * capture, so the objects die young. With 4096 a filtered follower of a steady 50,000 packets/s kept each object
 * through a young-generation collection or two: 24 MB/s promoted, a Mark-Compact every 3 s and twice the collection
 * time (bench/latency.ts under --trace-gc).
 */
const DECODED_CACHE_SLOTS = 512;

// GetFlowsResponse: flow = 1, node_name = 1000, time = 1001 (observer.proto).
const FLOW_TAG = 0x0a;
const NODE_NAME_TAG_1000 = [0xc2, 0x3e] as const;
const TIME_TAG_1001 = [0xca, 0x3e] as const;

export interface EventTime {
  seconds: number;
  nanos: number;
}

/** -1, 0 or 1 as (s1, n1) is before, at or after (s2, n2). */
export function compareTime(s1: number, n1: number, s2: number, n2: number): number {
  if (s1 !== s2) return s1 < s2 ? -1 : 1;
  return n1 === n2 ? 0 : n1 < n2 ? -1 : 1;
}

/** Decodes the L7 flow of record `sequence` (of `kind`) on top of its packet's L3/L4 flow (the parser's). */
export type L7Decoder = (packet: Flow, kind: L7Kind, sequence: number) => Flow;

export class EventRing {
  readonly positions: Ring;
  private readonly kinds: Uint8Array;
  private readonly seconds: Float64Array;
  private readonly nanos: Int32Array;
  private readonly flows: L34Columns;
  /**
   * L7 flows: the kind and the L7 store's number of the record a slot holds, beside a copy of its packet's L3/L4
   * columns (kind NONE for every other entry).
   */
  private readonly l7Kinds: Uint8Array | undefined;
  private readonly l7Sequences: Float64Array | undefined;
  private readonly l7Decoder: L7Decoder | undefined;
  /** The emitter of each record (one per parser: every slot points at the same few). */
  private readonly emitters: (Emitter | undefined)[];
  /** Events kept as objects (undefined where the slot holds a record). */
  private readonly objects: (DecodedEvent | undefined)[];
  private readonly cachedPositions = new Float64Array(DECODED_CACHE_SLOTS).fill(-1);
  private readonly cachedFlows: (Flow | undefined)[] = new Array<Flow | undefined>(DECODED_CACHE_SLOTS).fill(undefined);
  private readonly reading = new L34Record();
  private readonly response = new ProtoWriter(16 * 1024);
  private readonly flowBody: MessageBodyEncoder = messageBodyEncoder('flow.Flow');
  private readonly flowsResponse: MessageBodyEncoder = messageBodyEncoder('observer.GetFlowsResponse');
  /**
   * How many positions an entry may sit after entries newer than it, the most seen so far: an L7 flow carries its
   * packet's time but is written when the L7 parser answers, after the flows of the packets handed over meanwhile.
   * 0 while every entry is in time order. Readers that look for a time boundary look this much further.
   */
  reorderDistance = 0;
  private readonly agentResponse: MessageBodyEncoder = messageBodyEncoder('observer.GetAgentEventsResponse');
  private readonly debugResponse: MessageBodyEncoder = messageBodyEncoder('observer.GetDebugEventsResponse');

  /** `l7Decoder` turns stored L7 records into flows (the parser's); without it the ring keeps no L7 records. */
  constructor(capacity: number, l7Decoder?: L7Decoder) {
    this.positions = new Ring(capacity);
    const slots = this.positions.mask + 1;
    this.kinds = new Uint8Array(slots);
    this.seconds = new Float64Array(slots);
    this.nanos = new Int32Array(slots);
    this.flows = new L34Columns(slots);
    this.l7Decoder = l7Decoder;
    this.l7Kinds = l7Decoder && new Uint8Array(slots);
    this.l7Sequences = l7Decoder && new Float64Array(slots);
    this.emitters = new Array<Emitter | undefined>(slots).fill(undefined);
    this.objects = new Array<DecodedEvent | undefined>(slots).fill(undefined);
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

  readerFromOldest(): RingReader {
    return this.positions.readerFromOldest();
  }

  readerFromNow(): RingReader {
    return this.positions.readerFromNow();
  }

  /** Stores an L3/L4 flow as its record; `flow` is its object when someone already built it. Returns its position. */
  writeRecord(record: L34Record, emitter: Emitter, flow?: Flow): number {
    const position = this.positions.writePosition;
    const slot = position & this.positions.mask;
    this.kinds[slot] = EventKind.FLOW;
    this.seconds[slot] = record.time.seconds;
    this.nanos[slot] = record.time.nanos;
    this.flows.store(slot, record);
    if (this.l7Kinds !== undefined) this.l7Kinds[slot] = L7Kind.NONE;
    this.emitters[slot] = emitter;
    this.objects[slot] = undefined;
    if (flow !== undefined) this.remember(position, flow);
    this.positions.advance();
    return position;
  }

  /**
   * Stores the L7 flow of record `sequence` (of `kind`) in the L7 store, found in the packet whose L3/L4 flow is at
   * `packet` (still in the ring): what it takes of that flow's columns (addresses, ports, endpoints, time, ...), with
   * `flow`'s UUID (16 bytes in `uuid`) when someone already built it, else a new one.
   */
  writeL7(packet: number, kind: L7Kind, sequence: number, flow?: Flow, uuid?: Uint8Array): void {
    const position = this.positions.writePosition;
    const mask = this.positions.mask;
    const slot = position & mask;
    const from = packet & mask;
    this.kinds[slot] = EventKind.FLOW;
    this.seconds[slot] = this.seconds[from]!;
    this.nanos[slot] = this.nanos[from]!;
    this.flows.copyForL7(from, slot, uuid);
    this.l7Kinds![slot] = kind;
    this.l7Sequences![slot] = sequence;
    this.emitters[slot] = this.emitters[from];
    this.objects[slot] = undefined;
    if (flow !== undefined) this.remember(position, flow);
    if (position - packet - 1 > this.reorderDistance) this.reorderDistance = position - packet - 1;
    this.positions.advance();
  }

  /** Stores an event decoded to objects (agent, debug, lost events, flows of other parsers). */
  write(e: DecodedEvent): void {
    const position = this.positions.writePosition;
    const slot = position & this.positions.mask;
    let kind: EventKindCode;
    let time = e.timestamp;
    switch (e.kind) {
      case 'flow':
        kind = EventKind.FLOW;
        time = e.flow.time ?? e.timestamp;
        this.remember(position, e.flow);
        break;
      case 'agent':
        kind = EventKind.AGENT;
        break;
      case 'debug':
        kind = EventKind.DEBUG;
        break;
      case 'lost':
        kind = EventKind.LOST;
        break;
    }
    this.kinds[slot] = kind;
    this.seconds[slot] = time.seconds;
    this.nanos[slot] = time.nanos;
    this.flows.clear(slot);
    if (this.l7Kinds !== undefined) this.l7Kinds[slot] = L7Kind.NONE;
    this.emitters[slot] = undefined;
    this.objects[slot] = e;
    this.positions.advance();
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

  /** The flow at `position` (a FLOW entry) as an object, built once and shared by every reader asking soon after. */
  flowAt(position: number): Flow {
    const i = position & (DECODED_CACHE_SLOTS - 1);
    if (this.cachedPositions[i] === position) return this.cachedFlows[i]!;
    const slot = position & this.positions.mask;
    const stored = this.objects[slot];
    let flow: Flow;
    if (stored !== undefined) {
      if (stored.kind !== 'flow') throw new Error(`entry ${position} is not a flow`);
      flow = stored.flow;
    } else {
      flow = toFlow(this.flows.load(slot, this.reading));
      flow.emitter = this.emitters[slot];
      const l7Kind = this.l7Kinds === undefined ? L7Kind.NONE : (this.l7Kinds[slot] as L7Kind);
      if (l7Kind !== L7Kind.NONE) flow = this.l7Decoder!(flow, l7Kind, this.l7Sequences![slot]!);
    }
    this.remember(position, flow);
    return flow;
  }

  /** The event at `position`, as the object its kind's readers use (flows built from their record). */
  eventAt(position: number): DecodedEvent {
    const slot = position & this.positions.mask;
    const stored = this.objects[slot];
    if (stored !== undefined) return stored;
    const flow = this.flowAt(position);
    return { kind: 'flow', timestamp: flow.time!, nodeName: flow.nodeName, flow };
  }

  /**
   * The encoded response that carries the entry at `position`: GetFlowsResponse for flows and lost events,
   * GetAgentEventsResponse and GetDebugEventsResponse for the others. A record is encoded without an object. The
   * bytes are a view into the ring's own encoder: valid until the next call (a stream copies them into its batch).
   */
  responseAt(position: number): Uint8Array {
    const slot = position & this.positions.mask;
    const w = this.response;
    w.pos = 0;
    const stored = this.objects[slot];
    if (stored === undefined && this.l7Kinds !== undefined && this.l7Kinds[slot] !== L7Kind.NONE) {
      // L7 flows are rare beside packets and decoded from their bytes: encoded from the object.
      const flow = this.flowAt(position);
      w.byte(FLOW_TAG);
      this.flowBodyInto(flow, w);
      responseTail(flow.nodeName, flow.time, w);
    } else if (stored === undefined) {
      const r = this.flows.load(slot, this.reading);
      w.byte(FLOW_TAG);
      const at = w.beginDelimited(2);
      writeFlow(r, this.emitters[slot]!, w);
      w.endDelimited(at);
      responseTail(r.nodeName, r.time, w);
    } else {
      switch (stored.kind) {
        case 'flow':
          w.byte(FLOW_TAG);
          this.flowBodyInto(stored.flow, w);
          responseTail(stored.flow.nodeName, stored.flow.time, w);
          break;
        case 'lost':
          this.flowsResponse({ lostEvents: stored.lostEvent, nodeName: stored.nodeName, time: stored.timestamp }, w);
          break;
        case 'agent':
          this.agentResponse({ agentEvent: stored.agentEvent, nodeName: stored.nodeName, time: stored.timestamp }, w);
          break;
        case 'debug':
          this.debugResponse({ debugEvent: stored.debugEvent, nodeName: stored.nodeName, time: stored.timestamp }, w);
          break;
      }
    }
    return w.buf.subarray(0, w.pos);
  }

  /** A GetFlowsResponse for `flow` (a field mask's result), with the response's own node_name and time. */
  static flowsResponseOf(flow: Flow, nodeName: string, time: EventTime | undefined): Buffer {
    const w = new ProtoWriter(1024);
    w.byte(FLOW_TAG);
    const at = w.beginDelimited(2);
    messageBodyEncoder('flow.Flow')(flow, w);
    w.endDelimited(at);
    responseTail(nodeName, time, w);
    return Buffer.from(w.buf.subarray(0, w.pos));
  }

  private flowBodyInto(flow: Flow, w: ProtoWriter): void {
    const at = w.beginDelimited(2);
    this.flowBody(flow, w);
    w.endDelimited(at);
  }

  private remember(position: number, flow: Flow): void {
    const i = position & (DECODED_CACHE_SLOTS - 1);
    this.cachedPositions[i] = position;
    this.cachedFlows[i] = flow;
  }
}

/** node_name and time after the flow, as GetFlowsResponse carries them. */
function responseTail(nodeName: string, time: EventTime | undefined, w: ProtoWriter): void {
  if (nodeName !== '') {
    w.byte(NODE_NAME_TAG_1000[0]);
    w.byte(NODE_NAME_TAG_1000[1]);
    w.string(nodeName);
  }
  if (time !== undefined) {
    w.byte(TIME_TAG_1001[0]);
    w.byte(TIME_TAG_1001[1]);
    const t = w.beginDelimited();
    timestampBody(time, w);
    w.endDelimited(t);
  }
}

const timestampBody: MessageBodyEncoder = messageBodyEncoder('google.protobuf.Timestamp');

// GetFlowsResponse as the relay handles it: the bytes a node sent, passed on untouched, with only what merging needs
// read from the wire (its time, whether it is a flow, where the flow's UUID is). Decoding each flow into objects and
// encoding it again was more than half of the relay's CPU per flow, and held ~4.5 KB of heap per response it kept;
// reading the time as a bigint and the UUID as a string for every flow was still ~1.9 µs a flow.
import * as grpc from '@grpc/grpc-js';
import { GetFlowsRequest, GetFlowsResponse, ObserverService, type ObserverServer } from '../api/observer/observer.js';

/** A point in time as protobuf's Timestamp has it: both parts are exact as numbers over Timestamp's whole range. */
export interface FlowTime {
  readonly seconds: number;
  readonly nanos: number;
}

/**
 * One GetFlowsResponse: where its encoding lies (`bytes[start, end)`, usually inside a larger chunk the node sent) and
 * what the relay sorts and resumes by. One small object per response, nothing else allocated.
 */
export class RawFlowsResponse implements FlowTime {
  constructor(
    readonly bytes: Buffer,
    readonly start: number,
    readonly end: number,
    /** The response's time, else its flow's time, else 0 (seconds since the epoch and nanoseconds). */
    readonly seconds: number,
    readonly nanos: number,
    readonly isFlow: boolean,
    /** Where the flow's UUID lies in `bytes` (uuidStart < 0: none, e.g. not asked for, masked away, not a flow). */
    readonly uuidStart: number,
    readonly uuidEnd: number,
  ) {}

  get length(): number {
    return this.end - this.start;
  }

  /** Whether the flow has a UUID (not empty). */
  get hasUuid(): boolean {
    return this.uuidEnd > this.uuidStart;
  }

  /** The flow's UUID, "" when it has none. */
  uuid(): string {
    return this.uuidStart < 0 ? '' : this.bytes.toString('utf8', this.uuidStart, this.uuidEnd);
  }

  /** Its encoding as a Buffer of its own length (a view, not a copy). */
  body(): Buffer {
    return this.start === 0 && this.end === this.bytes.length ? this.bytes : this.bytes.subarray(this.start, this.end);
  }
}

// Field numbers, from observer.proto, flow.proto and timestamp.proto.
const RESPONSE_FLOW = 1;
const RESPONSE_TIME = 1001;
const FLOW_TIME = 1;
const FLOW_UUID = 34;
const TIMESTAMP_SECONDS = 1;
const TIMESTAMP_NANOS = 2;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

/** Thrown for bytes that are not a well-formed message: the node stream fails with it. */
export class WireError extends Error {}

/**
 * A cursor over protobuf fields, reused for every response: tag() leaves the field number and wire type in `field`
 * and `wire`, span() the extent of a length-delimited field in `spanStart`/`spanEnd`; nothing is allocated.
 */
class WireScanner {
  bytes: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  field = 0;
  wire = 0;
  spanStart = 0;
  spanEnd = 0;

  reset(bytes: Buffer, start: number, end: number): void {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  tag(): void {
    const tag = this.varint();
    this.field = Math.floor(tag / 8);
    this.wire = tag % 8;
  }

  /** A length-delimited field's extent; the cursor moves past it. */
  span(): void {
    const len = this.varint();
    const start = this.pos;
    if (len > this.end - start) throw new WireError('length-delimited field runs past the end of its message');
    this.spanStart = start;
    this.pos = this.spanEnd = start + len;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.int64();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_BYTES:
        this.span();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        throw new WireError(`unsupported wire type ${wire}`);
    }
  }

  /** A varint that fits in 53 bits (tags, lengths). */
  varint(): number {
    const bytes = this.bytes;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      const b = bytes[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new WireError('varint too long for a tag or length');
  }

  /**
   * An int64 varint as a number: exact within ±2^53 (Timestamp seconds always are), negative values included
   * (ten bytes of two's complement).
   */
  int64(): number {
    const bytes = this.bytes;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      const b = bytes[this.pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if (b < 0x80) {
        lo >>>= 0;
        return hi < 0 ? -((~hi >>> 0) * 4294967296 + (~lo >>> 0) + 1) : (hi >>> 0) * 4294967296 + lo;
      }
    }
    throw new WireError('varint longer than 10 bytes');
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new WireError('fixed-width field runs past the end of its message');
    this.pos += n;
  }
}

const outer = new WireScanner();
const inner = new WireScanner();
let scannedSeconds = 0;
let scannedNanos = 0;

/** Reads a Timestamp in `bytes[start, end)` into scannedSeconds/scannedNanos. */
function readTimestamp(bytes: Buffer, start: number, end: number): void {
  const r = inner;
  r.reset(bytes, start, end);
  let seconds = 0;
  let nanos = 0;
  while (r.pos < r.end) {
    r.tag();
    if (r.field === TIMESTAMP_SECONDS && r.wire === WIRE_VARINT) seconds = r.int64();
    else if (r.field === TIMESTAMP_NANOS && r.wire === WIRE_VARINT) nanos = r.int64() | 0;
    else r.skip(r.wire);
  }
  scannedSeconds = seconds;
  scannedNanos = nanos;
}

/**
 * Reads what the relay needs from an encoded GetFlowsResponse in `bytes[start, end)`; WireError when it is not
 * well-formed. The flow's UUID is looked for only when `withUuid` (a following request resumes by it): finding it
 * means walking every field of the flow.
 */
export function scanFlowsResponse(bytes: Buffer, start = 0, end = bytes.length, withUuid = true): RawFlowsResponse {
  const r = outer;
  r.reset(bytes, start, end);
  let hasTime = false;
  let seconds = 0;
  let nanos = 0;
  let flowStart = -1;
  let flowEnd = -1;
  while (r.pos < r.end) {
    r.tag();
    if (r.field === RESPONSE_FLOW && r.wire === WIRE_BYTES) {
      r.span();
      flowStart = r.spanStart;
      flowEnd = r.spanEnd;
    } else if (r.field === RESPONSE_TIME && r.wire === WIRE_BYTES) {
      r.span();
      readTimestamp(bytes, r.spanStart, r.spanEnd);
      hasTime = true;
      seconds = scannedSeconds;
      nanos = scannedNanos;
    } else {
      r.skip(r.wire);
    }
  }
  let uuidStart = -1;
  let uuidEnd = -1;
  if (flowStart >= 0 && (withUuid || !hasTime)) {
    // The flow's own fields: its time (when the response has none) and its UUID. Both scanners are in use: the
    // outer one walks the flow, the inner one reads its Timestamp.
    r.reset(bytes, flowStart, flowEnd);
    let flowSeconds = 0;
    let flowNanos = 0;
    while (r.pos < r.end) {
      r.tag();
      if (r.field === FLOW_TIME && r.wire === WIRE_BYTES) {
        r.span();
        readTimestamp(bytes, r.spanStart, r.spanEnd);
        flowSeconds = scannedSeconds;
        flowNanos = scannedNanos;
        if (!withUuid) break;
      } else if (withUuid && r.field === FLOW_UUID && r.wire === WIRE_BYTES) {
        r.span();
        uuidStart = r.spanStart;
        uuidEnd = r.spanEnd;
      } else r.skip(r.wire);
    }
    if (!hasTime) {
      seconds = flowSeconds;
      nanos = flowNanos;
    }
  }
  return new RawFlowsResponse(bytes, start, end, seconds, nanos, flowStart >= 0, uuidStart, uuidEnd);
}

/** Encodes a response the relay makes itself (node status events). */
export function rawFlowsResponse(res: GetFlowsResponse): RawFlowsResponse {
  return scanFlowsResponse(Buffer.from(GetFlowsResponse.encode(res).finish()));
}

/** -1, 0 or 1 as `a` is before, at or after `b`. */
export function compareFlowTime(a: FlowTime, b: FlowTime): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
}

/** The relay's Observer service: as upstream's definition, except that GetFlows writes responses already encoded. */
export const RELAY_OBSERVER_SERVICE = {
  ...ObserverService,
  getFlows: { ...ObserverService.getFlows, responseSerialize: (value: Buffer): Buffer => value },
} as const;

export interface RelayObserverServer extends grpc.UntypedServiceImplementation {
  getFlows: grpc.handleServerStreamingCall<GetFlowsRequest, Buffer>;
  getAgentEvents: ObserverServer['getAgentEvents'];
  getDebugEvents: ObserverServer['getDebugEvents'];
  getNodes: ObserverServer['getNodes'];
  getNamespaces: ObserverServer['getNamespaces'];
  serverStatus: ObserverServer['serverStatus'];
}

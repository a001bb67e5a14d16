// GetFlowsResponse as the relay handles it: the bytes a node sent, passed on untouched, with only what merging needs
// read from the wire (its time, whether it is a flow, the flow's UUID). Decoding each flow into objects and encoding
// it again was more than half of the relay's CPU per flow, and held ~4.5 KB of heap per response it kept.
import * as grpc from '@grpc/grpc-js';
import {
  GetFlowsRequest,
  GetFlowsResponse,
  ObserverService,
  type ObserverClient,
  type ObserverServer,
} from '../api/observer/observer.js';

/** One GetFlowsResponse: its encoding and what the relay sorts and resumes by. */
export interface RawFlowsResponse {
  readonly bytes: Buffer;
  /** Nanoseconds since the epoch: the response's time, else its flow's time, else 0. */
  readonly time: bigint;
  readonly isFlow: boolean;
  /** The flow's UUID ("" when absent, e.g. left out by a field mask, or not a flow). */
  readonly uuid: string;
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

/** Thrown for bytes that are not a well-formed message: the node stream fails with it (INTERNAL from grpc-js). */
class WireError extends Error {}

/** Reads what the relay needs from an encoded GetFlowsResponse; WireError when it is not well-formed. */
export function scanFlowsResponse(bytes: Buffer): RawFlowsResponse {
  let time: bigint | undefined;
  let flowTime = 0n;
  let isFlow = false;
  let uuid = '';
  const r = new WireReader(bytes, 0, bytes.length);
  while (r.more()) {
    const [field, wire] = r.tag();
    if (field === RESPONSE_FLOW && wire === WIRE_BYTES) {
      isFlow = true;
      const [start, end] = r.span();
      const f = new WireReader(bytes, start, end);
      while (f.more()) {
        const [ff, fw] = f.tag();
        if (ff === FLOW_TIME && fw === WIRE_BYTES) flowTime = readTimestamp(bytes, ...f.span());
        else if (ff === FLOW_UUID && fw === WIRE_BYTES) {
          const [s, e] = f.span();
          uuid = bytes.toString('utf8', s, e);
        } else f.skip(fw);
      }
    } else if (field === RESPONSE_TIME && wire === WIRE_BYTES) {
      time = readTimestamp(bytes, ...r.span());
    } else {
      r.skip(wire);
    }
  }
  return { bytes, time: time ?? flowTime, isFlow, uuid };
}

/** Encodes a response the relay makes itself (node status events). */
export function rawFlowsResponse(res: GetFlowsResponse): RawFlowsResponse {
  return scanFlowsResponse(Buffer.from(GetFlowsResponse.encode(res).finish()));
}

function readTimestamp(bytes: Buffer, start: number, end: number): bigint {
  let seconds = 0n;
  let nanos = 0;
  const r = new WireReader(bytes, start, end);
  while (r.more()) {
    const [field, wire] = r.tag();
    if (field === TIMESTAMP_SECONDS && wire === WIRE_VARINT) seconds = BigInt.asIntN(64, r.varint64());
    else if (field === TIMESTAMP_NANOS && wire === WIRE_VARINT) nanos = Number(BigInt.asIntN(32, r.varint64()));
    else r.skip(wire);
  }
  return seconds * 1_000_000_000n + BigInt(nanos);
}

/** A cursor over one message's fields in `bytes[pos, end)`. */
class WireReader {
  constructor(
    private readonly bytes: Buffer,
    private pos: number,
    private readonly end: number,
  ) {}

  more(): boolean {
    return this.pos < this.end;
  }

  tag(): [field: number, wire: number] {
    const tag = this.varint();
    return [Math.floor(tag / 8), tag % 8];
  }

  /** A length-delimited field's extent; the cursor moves past it. */
  span(): [start: number, end: number] {
    const len = this.varint();
    const start = this.pos;
    if (len > this.end - start) throw new WireError('length-delimited field runs past the end of its message');
    this.pos = start + len;
    return [start, this.pos];
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint64();
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
  private varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      const b = this.bytes[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new WireError('varint too long for a tag or length');
  }

  varint64(): bigint {
    let value = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      const b = this.bytes[this.pos++]!;
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return value;
      shift += 7n;
    }
    throw new WireError('varint longer than 10 bytes');
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new WireError('fixed-width field runs past the end of its message');
    this.pos += n;
  }
}

/** Opens GetFlows on a node, receiving each response as its bytes (scanned, not decoded). */
export function openRawFlows(
  client: ObserverClient,
  request: GetFlowsRequest,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
): grpc.ClientReadableStream<RawFlowsResponse> {
  const { path, requestSerialize } = ObserverService.getFlows;
  return client.makeServerStreamRequest(path, requestSerialize, scanFlowsResponse, request, metadata, options);
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

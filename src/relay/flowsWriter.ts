// How the relay's GetFlows writes to its client: responses pass through as the bytes a node sent, each given its gRPC
// length prefix and copied into a batch that goes to the call's HTTP/2 stream in one write. grpc-js writes a message
// at a time (a new framed copy, a stream write and its callback each, ≈0.8 µs a message even with writes batched);
// a batch costs one write per ~240 flows. Headers and the final status stay grpc-js's: it sends the headers when
// asked (sendMetadata), and ends the HTTP/2 stream with its trailers after everything written here.
import type * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { RawFlowsResponse } from './flowsWire.js';

/** One batch: 64 KiB, four HTTP/2 DATA frames. */
const BATCH_BYTES = 64 * 1024;
/** Bytes queued towards a client before the request waits for it (≈ 1,000 flows): per-client backpressure. */
export const MAX_QUEUED_BYTES = 256 * 1024;
/** The same bound where grpc-js writes (the fallback below): in responses. */
const MAX_QUEUED_RESPONSES = 1024;

type FlowsCall = grpc.ServerWritableStream<unknown, Buffer>;

export interface FlowsWriter {
  /** Queues one response; false when the client is behind: wait for onceDrained() before sending more. */
  write(res: RawFlowsResponse): boolean;
  /** Hands what is batched to the stream now (writes are otherwise flushed once per turn of the event loop). */
  flush(): void;
  /** Calls `cb` once the client has caught up (or the call is gone). */
  onceDrained(cb: () => void): void;
}

/** The batching writer for a call; grpc-js's own writes when the call's HTTP/2 stream cannot be reached. */
export function flowsWriter(call: FlowsCall): FlowsWriter {
  const stream = http2StreamOf(call);
  return stream === undefined ? new MessageWriter(call) : new BatchWriter(call, stream);
}

/**
 * The HTTP/2 stream under a grpc-js server call. grpc-js does not expose it: it sits in the call it wraps
 * (`call.call.stream`, grpc-js 1.10 to 1.14, as long as no server interceptor wraps that call). Anything else found
 * there means another grpc-js: undefined, and grpc-js's own writes are used.
 */
function http2StreamOf(call: FlowsCall): http2.ServerHttp2Stream | undefined {
  const inner = (call as unknown as { call?: { stream?: Partial<http2.ServerHttp2Stream> } }).call;
  const stream = inner?.stream;
  if (
    stream === undefined ||
    typeof stream.write !== 'function' ||
    typeof stream.respond !== 'function' ||
    typeof stream.sendTrailers !== 'function' ||
    typeof (inner as { sendMetadata?: unknown }).sendMetadata !== 'function'
  ) {
    return undefined;
  }
  return stream as http2.ServerHttp2Stream;
}

class BatchWriter implements FlowsWriter {
  private batch = Buffer.allocUnsafe(BATCH_BYTES);
  private pos = 0;
  private flushScheduled = false;
  private headersSent = false;
  private readonly flushSoon = () => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    private readonly call: FlowsCall,
    private readonly stream: http2.ServerHttp2Stream,
  ) {}

  write(res: RawFlowsResponse): boolean {
    const len = res.end - res.start;
    if (this.pos + 5 + len > this.batch.length) {
      this.flush();
      // A response larger than a batch goes on its own.
      if (5 + len > this.batch.length) {
        const framed = Buffer.allocUnsafe(5 + len);
        writePrefix(framed, 0, len);
        copyInto(framed, 5, res);
        this.send(framed);
        return this.stream.writableLength < MAX_QUEUED_BYTES;
      }
    }
    const batch = this.batch;
    writePrefix(batch, this.pos, len);
    copyInto(batch, this.pos + 5, res);
    this.pos += 5 + len;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSoon);
    }
    return this.stream.writableLength + this.pos < MAX_QUEUED_BYTES;
  }

  flush(): void {
    if (this.pos === 0) return;
    const out = this.batch.subarray(0, this.pos);
    // The written batch belongs to the stream until it is on the socket: the next one is a new buffer.
    this.batch = Buffer.allocUnsafe(BATCH_BYTES);
    this.pos = 0;
    this.send(out);
  }

  onceDrained(cb: () => void): void {
    this.flush();
    if (this.gone() || this.stream.writableLength < MAX_QUEUED_BYTES) {
      process.nextTick(cb);
      return;
    }
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      this.stream.off('drain', once);
      this.stream.off('close', once);
      cb();
    };
    this.stream.on('drain', once);
    this.stream.on('close', once);
  }

  private send(bytes: Buffer): void {
    if (this.gone()) return;
    if (!this.headersSent) {
      this.headersSent = true;
      this.call.sendMetadata(new grpc.Metadata());
    }
    // Errors end the call through grpc-js, which watches the same stream; nothing to do per write.
    this.stream.write(bytes);
  }

  private gone(): boolean {
    return this.stream.destroyed || this.stream.closed || this.call.cancelled;
  }
}

/** grpc-js's own writes, one message at a time. */
class MessageWriter implements FlowsWriter {
  constructor(private readonly call: FlowsCall) {}

  write(res: RawFlowsResponse): boolean {
    return this.call.write(res.body()) || this.call.writableLength < MAX_QUEUED_RESPONSES;
  }

  flush(): void {}

  onceDrained(cb: () => void): void {
    if (this.call.writableLength < MAX_QUEUED_RESPONSES || this.call.cancelled) {
      process.nextTick(cb);
      return;
    }
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      this.call.off('drain', once);
      this.call.off('close', once);
      cb();
    };
    this.call.on('drain', once);
    this.call.on('close', once);
  }
}

/** The gRPC message prefix: not compressed, then the length (big-endian). */
function writePrefix(buf: Buffer, at: number, len: number): void {
  buf[at] = 0;
  buf[at + 1] = len >>> 24;
  buf[at + 2] = (len >>> 16) & 0xff;
  buf[at + 3] = (len >>> 8) & 0xff;
  buf[at + 4] = len & 0xff;
}

/** Copies a response's bytes to `at` (a plain view and set: Buffer.copy's checks cost a third of the copy). */
function copyInto(target: Buffer, at: number, res: RawFlowsResponse): void {
  const { bytes } = res;
  target.set(new Uint8Array(bytes.buffer, bytes.byteOffset + res.start, res.end - res.start), at);
}

// How a server stream sends messages that are already encoded (GetFlows and the events calls of a node, the relay's
// GetFlows): each gets its gRPC length prefix and is copied into a batch that goes to the call's HTTP/2 stream in one
// write. grpc-js writes a message at a time (a framed copy, a stream write and its callback each, ≈0.8 µs a message
// even with writes batched); a batch costs one write per ~100-250 flows. Headers and the final status stay grpc-js's:
// it sends the headers when asked (sendMetadata) and ends the HTTP/2 stream with its trailers after what was written
// here — so flush() before ending the call.
import type { EventEmitter } from 'node:events';
import type * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';

/** One batch: 64 KiB, four HTTP/2 DATA frames. */
const BATCH_BYTES = 64 * 1024;
/** Batches smaller than this are copied out on flush and the batch buffer kept (see BatchWriter.flush). */
const SMALL_BATCH_BYTES = 16 * 1024;
/** Bytes queued towards a client before the sender waits for it (≈ 500-1,000 flows): per-client backpressure. */
export const MAX_QUEUED_BYTES = 256 * 1024;
/** The same bound where grpc-js writes (the fallback below): in messages. */
const MAX_QUEUED_MESSAGES = 1024;

type EncodedCall = grpc.ServerWritableStream<unknown, Buffer>;

export interface EncodedStreamWriter {
  /**
   * Queues one message, the bytes of `bytes` from `start` to `end` (copied: the caller may reuse them at once);
   * false when the client is behind: wait for drained() before sending more.
   */
  write(bytes: Uint8Array, start: number, end: number): boolean;
  /** Hands what is batched to the stream now (batches are otherwise handed over once per turn of the event loop). */
  flush(): void;
  /** Calls `cb` once the client has caught up (or the call is gone). */
  onceDrained(cb: () => void): void;
}

/**
 * The batching writer for a call whose responses are serialized as they are (Buffer in, Buffer out); grpc-js's own
 * writes when the call's HTTP/2 stream cannot be reached.
 */
export function encodedStreamWriter(call: EncodedCall): EncodedStreamWriter {
  const stream = http2StreamOf(call);
  if (stream !== undefined) return new BatchWriter(call, stream);
  enableBatchedWrites(call);
  return new MessageWriter(call);
}

/** Resolves once the client has caught up, the call is gone, or `signal` aborts. */
export function drained(writer: EncodedStreamWriter, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    writer.onceDrained(done);
  });
}

/**
 * The HTTP/2 stream under a grpc-js server call. grpc-js does not expose it: it sits in the call it wraps
 * (`call.call.stream`, grpc-js 1.10 to 1.14, as long as no server interceptor wraps that call). Anything else found
 * there means another grpc-js: undefined, and grpc-js's own writes are used.
 */
function http2StreamOf(call: EncodedCall): http2.ServerHttp2Stream | undefined {
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

class BatchWriter implements EncodedStreamWriter {
  private batch = Buffer.allocUnsafe(BATCH_BYTES);
  private pos = 0;
  private flushScheduled = false;
  private headersSent = false;
  private readonly flushSoon = () => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    private readonly call: EncodedCall,
    private readonly stream: http2.ServerHttp2Stream,
  ) {}

  write(bytes: Uint8Array, start: number, end: number): boolean {
    const len = end - start;
    if (this.pos + 5 + len > this.batch.length) {
      this.flush();
      // A message larger than a batch goes on its own.
      if (5 + len > this.batch.length) {
        const framed = Buffer.allocUnsafe(5 + len);
        writePrefix(framed, 0, len);
        copyInto(framed, 5, bytes, start, end);
        this.send(framed);
        return this.stream.writableLength < MAX_QUEUED_BYTES;
      }
    }
    const batch = this.batch;
    writePrefix(batch, this.pos, len);
    copyInto(batch, this.pos + 5, bytes, start, end);
    this.pos += 5 + len;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSoon);
    }
    return this.stream.writableLength + this.pos < MAX_QUEUED_BYTES;
  }

  flush(): void {
    if (this.pos === 0) return;
    let out: Buffer;
    if (this.pos < SMALL_BATCH_BYTES) {
      // A follower's batch is a turn's worth of flows, often a few hundred bytes: copied out (from Node's shared
      // pool when under 4 KiB) so the 64 KiB batch is kept. Handing over a fresh 64 KiB buffer each turn made
      // thousands a second under a steady live load, whose external memory drove V8 into scavenges and
      // Mark-Compacts ("external memory pressure") that stalled the capture.
      out = Buffer.allocUnsafe(this.pos);
      copyInto(out, 0, this.batch, 0, this.pos);
    } else {
      // The written batch belongs to the stream until it is on the socket: the next one is a new buffer.
      out = this.batch.subarray(0, this.pos);
      this.batch = Buffer.allocUnsafe(BATCH_BYTES);
    }
    this.pos = 0;
    this.send(out);
  }

  onceDrained(cb: () => void): void {
    this.flush();
    if (this.gone() || this.stream.writableLength < MAX_QUEUED_BYTES) {
      process.nextTick(cb);
      return;
    }
    onDrainOrClose(this.stream, cb);
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
class MessageWriter implements EncodedStreamWriter {
  constructor(private readonly call: EncodedCall) {}

  write(bytes: Uint8Array, start: number, end: number): boolean {
    const message = Buffer.allocUnsafe(end - start);
    copyInto(message, 0, bytes, start, end);
    return this.call.write(message) || this.call.writableLength < MAX_QUEUED_MESSAGES;
  }

  flush(): void {}

  onceDrained(cb: () => void): void {
    if (this.call.writableLength < MAX_QUEUED_MESSAGES || this.call.cancelled) {
      process.nextTick(cb);
      return;
    }
    onDrainOrClose(this.call, cb);
  }
}

/**
 * grpc-js writes a server stream one message at a time, each waiting for the previous socket write to complete,
 * which caps a stream at a few tens of thousands of messages per second. Messages queued behind a write in flight
 * are handed over together instead: each is still framed and sent by grpc-js itself, but they reach the socket in
 * one write.
 */
export function enableBatchedWrites(call: grpc.ServerWritableStream<unknown, unknown>): void {
  const stream = call as unknown as {
    _write(chunk: unknown, encoding: BufferEncoding, done: (error?: Error | null) => void): void;
    _writev?: (chunks: { chunk: unknown; encoding: BufferEncoding }[], done: (error?: Error | null) => void) => void;
  };
  stream._writev = (chunks, done) => {
    let pending = chunks.length;
    let failed = false;
    for (const { chunk, encoding } of chunks) {
      stream._write(chunk, encoding, (error) => {
        if (failed) return;
        if (error) {
          failed = true;
          done(error);
        } else if (--pending === 0) done();
      });
    }
  };
}

/** Calls `cb` once, on the first 'drain' or 'close' of `emitter`. */
function onDrainOrClose(emitter: EventEmitter, cb: () => void): void {
  const once = () => {
    emitter.off('drain', once);
    emitter.off('close', once);
    cb();
  };
  emitter.on('drain', once);
  emitter.on('close', once);
}

/** The gRPC message prefix: not compressed, then the length (big-endian). */
function writePrefix(buf: Buffer, at: number, len: number): void {
  buf[at] = 0;
  buf[at + 1] = len >>> 24;
  buf[at + 2] = (len >>> 16) & 0xff;
  buf[at + 3] = (len >>> 8) & 0xff;
  buf[at + 4] = len & 0xff;
}

/** Copies bytes[start, end) to `at` (a plain view and set: Buffer.copy's checks cost a third of the copy). */
function copyInto(target: Buffer, at: number, bytes: Uint8Array, start: number, end: number): void {
  target.set(new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start), at);
}

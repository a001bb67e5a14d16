// Raw calls for the fuzzers: requests written as protobuf bytes (so a test can send what a well-behaved client library
// would refuse to encode: uint64s past 2^53, timestamps past year 9999), the grpc.health.v1 check, and the status a
// call ends with.
import * as grpc from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';

export const identity = (b: Buffer): Buffer => b;

/** The health service's answer for `service` ('' for the server): 'SERVING', 'NOT_SERVING', ... or the error. */
export function healthCheck(target: string, service = 'observer.Observer', timeoutMs = 5000): Promise<string> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const request = Buffer.from(new BinaryWriter().uint32(0x0a).string(service).finish());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      identity,
      identity,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        client.close();
        if (err) return resolve(`error ${grpc.status[err.code]}: ${err.details}`);
        // HealthCheckResponse { ServingStatus status = 1; }: 1 SERVING, 2 NOT_SERVING.
        const status = res!.length >= 2 && res![0] === 0x08 ? res![1] : 0;
        resolve(status === 1 ? 'SERVING' : status === 2 ? 'NOT_SERVING' : `status ${status}`);
      },
    );
  });
}

export interface CallEnd {
  code: grpc.status;
  details: string;
  messages: number;
  ms: number;
}

/** Calls a server-streaming method with raw request bytes; resolves with how it ended. */
export function serverStream(
  client: grpc.Client,
  path: string,
  request: Uint8Array,
  deadlineMs: number,
): Promise<CallEnd> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let messages = 0;
    const call = client.makeServerStreamRequest(path, identity, identity, Buffer.from(request), new grpc.Metadata(), {
      deadline: Date.now() + deadlineMs,
    });
    call.on('data', () => messages++);
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) =>
      resolve({ code: s.code, details: s.details, messages, ms: performance.now() - t0 }),
    );
  });
}

/** Writes a google.protobuf.Timestamp or Duration body: int64 seconds = 1, int32 nanos = 2. */
export function secondsNanos(w: BinaryWriter, field: number, seconds: bigint, nanos: number): void {
  w.uint32((field << 3) | 2).fork();
  if (seconds !== 0n) w.uint32(0x08).int64(seconds);
  if (nanos !== 0) w.uint32(0x10).int32(nanos);
  w.join();
}

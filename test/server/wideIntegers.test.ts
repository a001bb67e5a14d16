// Well-formed requests carrying 64-bit integers past 2^53 (found by test/fuzz/apiRequests.test.ts): grpc-js answered
// them INTERNAL ("Error deserializing request") because the generated decoders throw on such values. Now each is
// answered as its value deserves.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecorderService } from '../../src/api/recorder/recorder.js';
import { saturateWideIntegers } from '../../src/server/wideIntegers.js';
import { secondsNanos, serverStream, identity } from '../fuzz/wire.js';
import { startTestNode, type TestNode } from '../recorder/harness.js';

const MAX_U64 = 2n ** 64n - 1n;

/** A StartRecording of everything with these stop counts, as bytes. */
function startRecording(packets: bigint, bytes: bigint): Uint8Array {
  const w = new BinaryWriter();
  w.uint32(0x0a).fork(); // RecordRequest.start
  w.uint32(0x12).fork().uint32(0x0a).string('0.0.0.0/0').uint32(0x1a).string('0.0.0.0/0').join();
  w.uint32(0x22).fork().uint32(0x08).uint64(bytes).uint32(0x10).uint64(packets).join();
  w.join();
  return w.finish();
}

describe('64-bit integers past 2^53 in requests', () => {
  let node: TestNode;
  let client: grpc.Client;

  beforeAll(async () => {
    node = await startTestNode();
    client = new grpc.Client(`unix://${node.socket}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await node?.close();
  });

  it('decode saturated at 2^53 - 1 instead of throwing, and only when they must', () => {
    const wrapped = saturateWideIntegers(RecorderService).record.requestDeserialize;
    const big = wrapped(Buffer.from(startRecording(MAX_U64, 2n ** 53n)));
    expect(big.start?.stopCondition).toMatchObject({
      packetsCapturedCount: Number.MAX_SAFE_INTEGER,
      bytesCapturedCount: Number.MAX_SAFE_INTEGER,
    });
    const small = wrapped(Buffer.from(startRecording(7n, 9n)));
    expect(small.start?.stopCondition).toMatchObject({ packetsCapturedCount: 7, bytesCapturedCount: 9 });
    // Not-protobuf still fails to decode: that stays grpc-js's INTERNAL, as grpc-go answers it.
    expect(() => wrapped(Buffer.from([0x0a, 0xff]))).toThrow();
  });

  it('Record: a stop condition of 2^64 - 1 packets records (no limit reachable), not INTERNAL', async () => {
    const call = client.makeBidiStreamRequest('/recorder.Recorder/Record', identity, identity, new grpc.Metadata());
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    const first = new Promise<Buffer>((resolve) => call.once('data', resolve));
    call.write(Buffer.from(startRecording(MAX_U64, MAX_U64)));
    await Promise.race([first, status]);
    call.write(Buffer.from([0x12, 0x00])); // stop
    call.end();
    const end = await status;
    expect(grpc.status[end.code], end.details).toBe('OK');
  });

  it('GetFlows: an IP trace id past 2^53 is INVALID_ARGUMENT saying so; so is a time past year 9999', async () => {
    const w = new BinaryWriter();
    w.uint32((6 << 3) | 2)
      .fork()
      .uint32((39 << 3) | 2)
      .fork()
      .uint64(MAX_U64)
      .join()
      .join();
    const traceId = await serverStream(client, '/observer.Observer/GetFlows', w.finish(), 5000);
    expect(grpc.status[traceId.code]).toBe('INVALID_ARGUMENT');
    expect(traceId.details).toMatch(/^invalid flow filter: ip_trace_id: ids of 2\^53 - 1 .* cannot be matched/);

    const t = new BinaryWriter();
    secondsNanos(t, 7, 2n ** 62n, 0);
    const since = await serverStream(client, '/observer.Observer/GetFlows', t.finish(), 5000);
    expect(grpc.status[since.code]).toBe('INVALID_ARGUMENT');
    expect(since.details).toBe('since: invalid timestamp: seconds is after 9999-12-31');
  });
});

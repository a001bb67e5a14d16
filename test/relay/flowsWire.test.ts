// The relay reads only time, kind and UUID from the bytes a node sends: checked against ts-proto's own encoding of
// arbitrary responses (flows with and without times and UUIDs, node status events, lost events, unknown fields).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GetFlowsResponse } from '../../src/api/observer/observer.js';
import { compareFlowTime, rawFlowsResponse, scanFlowsResponse } from '../../src/relay/flowsWire.js';

const timestamp = fc.record({
  seconds: fc.integer({ min: -62_135_596_800, max: 253_402_300_799 }),
  nanos: fc.integer({ min: 0, max: 999_999_999 }),
});

const response = fc.oneof(
  fc.record(
    {
      flow: fc.record(
        {
          time: timestamp,
          uuid: fc.string({ unit: 'grapheme', maxLength: 40 }),
          nodeName: fc.string({ maxLength: 20 }),
          summary: fc.string({ maxLength: 60 }),
          sourceNames: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
        },
        { requiredKeys: [] },
      ),
      time: timestamp,
      nodeName: fc.string({ maxLength: 20 }),
    },
    { requiredKeys: ['flow'] },
  ),
  fc.record({
    nodeStatus: fc.record({
      stateChange: fc.integer({ min: 0, max: 4 }),
      nodeNames: fc.array(fc.string()),
      message: fc.string(),
    }),
    time: timestamp,
  }),
  fc.record({
    lostEvents: fc.record({ source: fc.integer({ min: 0, max: 3 }), numEventsLost: fc.integer({ min: 0, max: 1e9 }) }),
    time: timestamp,
  }),
);

describe('scanFlowsResponse', () => {
  it("reads the time (the response's, else the flow's), the kind and the UUID of any response where it lies in a chunk", () => {
    fc.assert(
      fc.property(
        response,
        fc.uint8Array({ maxLength: 8 }),
        fc.uint8Array({ maxLength: 8 }),
        (partial, before, after) => {
          const message = Buffer.from(GetFlowsResponse.encode(GetFlowsResponse.fromPartial(partial)).finish());
          // As a node's response arrives: somewhere inside a larger chunk.
          const chunk = Buffer.concat([before, message, after]);
          const [start, end] = [before.length, before.length + message.length];
          const decoded = GetFlowsResponse.decode(message);
          const ts = decoded.time ?? decoded.flow?.time ?? { seconds: 0, nanos: 0 };
          for (const withUuid of [true, false]) {
            const raw = scanFlowsResponse(chunk, start, end, withUuid);
            expect({ seconds: raw.seconds, nanos: raw.nanos }).toEqual({ seconds: ts.seconds, nanos: ts.nanos });
            expect(raw.isFlow).toBe(decoded.flow !== undefined);
            expect(raw.uuid()).toBe(withUuid ? (decoded.flow?.uuid ?? '') : '');
            expect(raw.hasUuid).toBe(withUuid && (decoded.flow?.uuid ?? '') !== '');
            expect(raw.body().equals(message)).toBe(true);
            expect([raw.bytes, raw.start, raw.end]).toEqual([chunk, start, end]);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('orders times before the epoch and across the nanosecond boundary as Timestamp does', () => {
    const at = (seconds: number, nanos: number) =>
      scanFlowsResponse(
        Buffer.from(GetFlowsResponse.encode(GetFlowsResponse.fromPartial({ time: { seconds, nanos } })).finish()),
      );
    const times = [at(-62_135_596_800, 0), at(-1, 999_999_999), at(0, 0), at(0, 1), at(1, 0), at(253_402_300_799, 5)];
    expect(times.map((t) => [t.seconds, t.nanos])).toEqual([
      [-62_135_596_800, 0],
      [-1, 999_999_999],
      [0, 0],
      [0, 1],
      [1, 0],
      [253_402_300_799, 5],
    ]);
    for (let i = 1; i < times.length; i++) expect(compareFlowTime(times[i - 1]!, times[i]!)).toBe(-1);
  });

  it('encodes the responses the relay makes itself so that they read back the same', () => {
    const res = rawFlowsResponse(
      GetFlowsResponse.fromPartial({ nodeStatus: { nodeNames: ['a'] }, time: { seconds: 5, nanos: 7 } }),
    );
    expect(res).toMatchObject({ seconds: 5, nanos: 7, isFlow: false, hasUuid: false });
    expect(GetFlowsResponse.decode(res.body()).nodeStatus?.nodeNames).toEqual(['a']);
  });

  it('refuses bytes that are not a well-formed message (a node stream fails with it, the relay does not)', () => {
    const bytes = Buffer.from(
      GetFlowsResponse.encode(
        GetFlowsResponse.fromPartial({ flow: { uuid: 'u', time: { seconds: 1, nanos: 2 } }, time: { seconds: 1 } }),
      ).finish(),
    );
    // Any cut inside the flow (field 1, encoded first) leaves a field running past the end.
    expect(bytes[0]).toBe(0x0a);
    for (let cut = 1; cut < 2 + bytes[1]!; cut++) {
      expect(() => scanFlowsResponse(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow();
    }
    expect(() => scanFlowsResponse(Buffer.from([0x0b]))).toThrow(/wire type/);
  });
});

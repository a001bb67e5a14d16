// The relay reads only time, kind and UUID from the bytes a node sends: checked against ts-proto's own encoding of
// arbitrary responses (flows with and without times and UUIDs, node status events, lost events, unknown fields).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GetFlowsResponse } from '../../src/api/observer/observer.js';
import { rawFlowsResponse, scanFlowsResponse } from '../../src/relay/flowsWire.js';

const timestamp = fc.record({
  seconds: fc.integer({ min: -62_135_596_800, max: 253_402_300_799 }),
  nanos: fc.integer({ min: 0, max: 999_999_999 }),
});
const nanosOf = (ts: { seconds: number; nanos: number }) => BigInt(ts.seconds) * 1_000_000_000n + BigInt(ts.nanos);

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
  it("reads the time (the response's, else the flow's), the kind and the UUID of any response, keeping its bytes", () => {
    fc.assert(
      fc.property(response, (partial) => {
        const bytes = Buffer.from(GetFlowsResponse.encode(GetFlowsResponse.fromPartial(partial)).finish());
        const decoded = GetFlowsResponse.decode(bytes);
        const raw = scanFlowsResponse(bytes);
        const ts = decoded.time ?? decoded.flow?.time;
        expect(raw.time).toBe(ts === undefined ? 0n : nanosOf(ts));
        expect(raw.isFlow).toBe(decoded.flow !== undefined);
        expect(raw.uuid).toBe(decoded.flow?.uuid ?? '');
        expect(raw.bytes).toBe(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('encodes the responses the relay makes itself so that they read back the same', () => {
    const res = rawFlowsResponse(
      GetFlowsResponse.fromPartial({ nodeStatus: { nodeNames: ['a'] }, time: { seconds: 5, nanos: 7 } }),
    );
    expect(res).toMatchObject({ time: 5_000_000_007n, isFlow: false, uuid: '' });
    expect(GetFlowsResponse.decode(res.bytes).nodeStatus?.nodeNames).toEqual(['a']);
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

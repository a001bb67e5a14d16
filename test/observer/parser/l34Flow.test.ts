// The two ways out of one L3/L4 event's record: the Flow object (decode, flowOf) and flow.Flow's bytes written from the
// record (writeFlow, as the ring answers GetFlows). For every kind of event and random datapath fields and frames, the bytes decode
// to exactly the object, UUID included.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Flow } from '../../../src/api/flow/flow.js';
import { encodeDebugCapture, DebugCapturePoint } from '../../../src/monitor/datapath/debugCapture.js';
import { encodeDropNotify } from '../../../src/monitor/datapath/dropNotify.js';
import { encodePolicyVerdictNotify } from '../../../src/monitor/datapath/policyVerdict.js';
import {
  encodeTraceNotify,
  TraceNotifyFlag,
  TraceObservationPoint,
  TraceReason,
} from '../../../src/monitor/datapath/traceNotify.js';
import type { MonitorEvent } from '../../../src/monitor/types.js';
import { loadMetadata } from '../../../src/observer/metadata/index.js';
import { Parser } from '../../../src/observer/parser/index.js';
import { ParserError } from '../../../src/observer/parser/parserError.js';
import { writeFlow } from '../../../src/observer/parser/l34Flow.js';
import { ProtoWriter } from '../../../src/protowire/compiledEncoder.js';
import { SAMPLE_FRAMES as frames } from '../../harness/sampleFrames.js';

const TIME = { seconds: 1_700_000_000, nanos: 123_456_789 };

function event(data: Uint8Array, nodeName = 'node-a'): MonitorEvent {
  return { timestamp: TIME, nodeName, payload: { kind: 'perf', cpu: 1, data } };
}

function newParser(): Parser {
  return new Parser({
    nodeName: 'default-node',
    clusterName: 'default',
    emitter: { name: 'hubble-ts', version: 'test' },
    ...loadMetadata({ clusterName: 'default', endpointsFile: 'test/fixtures/endpoints.yaml' }),
  });
}

/** Both outputs for one event, or the error both paths threw. */
function bothWays(parser: Parser, e: MonitorEvent): { bytes: Flow; object: Flow } | string {
  const w = new ProtoWriter(64);
  try {
    const record = parser.recordFlow(e);
    if (record === undefined) return 'not an L3/L4 event';
    writeFlow(record, parser.emitter, w);
    return { bytes: Flow.decode(w.buf.subarray(0, w.pos)), object: parser.flowOf(record) };
  } catch (err) {
    if (err instanceof ParserError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

/** What a Flow object encodes to and decodes back as: the form the bytes must equal. */
function normalized(flow: Flow): Flow {
  return Flow.decode(Flow.encode(flow).finish());
}

describe('L3/L4 flows as objects and as bytes', () => {
  it('agree for traces, drops, policy verdicts and debug captures of every kind', () => {
    const parser = newParser();
    const events: Uint8Array[] = [];
    for (const frame of Object.values(frames)) {
      events.push(encodeTraceNotify({ obsPoint: TraceObservationPoint.FROM_NETWORK, origLen: frame.length }, frame));
      events.push(
        encodeTraceNotify(
          {
            obsPoint: TraceObservationPoint.TO_PROXY,
            origLen: frame.length,
            reason: TraceReason.CT_REPLY,
            source: 12,
            srcLabel: 1234,
            dstLabel: 2,
            dstID: 15001,
            ifindex: 3,
            ipTraceId: 99n,
            origIP: Uint8Array.of(192, 168, 0, 1, ...new Array(12).fill(0)),
          },
          frame,
        ),
      );
      events.push(
        encodeDropNotify({ subType: 133, source: 12, srcLabel: 1234, dstLabel: 2, line: 42, file: 3 }, frame),
      );
      events.push(encodePolicyVerdictNotify({ remoteLabel: 2, verdict: -133, flags: 1, authType: 1 }, frame));
      events.push(encodePolicyVerdictNotify({ remoteLabel: 2, verdict: 0, flags: 2 | 0x10 }, frame));
      events.push(encodeDebugCapture({ subType: DebugCapturePoint.DELIVERY, arg1: 7 }, frame));
    }
    events.push(
      encodeTraceNotify(
        { obsPoint: TraceObservationPoint.TO_STACK, origLen: 20, flags: TraceNotifyFlag.IS_L3_DEVICE },
        frames.tcpSyn.subarray(14),
      ),
    );
    for (const data of events) {
      const out = bothWays(parser, event(data));
      if (typeof out === 'string') throw new Error(out);
      expect(out.bytes).toEqual(normalized(out.object));
    }
  });

  it('agree on any datapath fields and any frame bytes (or throw the same error)', () => {
    const parser = newParser();
    const reference = newParser();
    let flows = 0;
    fc.assert(
      fc.property(
        fc.record({
          obsPoint: fc.integer({ min: 0, max: 15 }),
          reason: fc.integer({ min: 0, max: 255 }),
          flags: fc.integer({ min: 0, max: 255 }),
          srcLabel: fc.integer({ min: 0, max: 0xffff_ffff }),
          dstLabel: fc.integer({ min: 0, max: 0xffff_ffff }),
          source: fc.integer({ min: 0, max: 0xffff }),
          ifindex: fc.integer({ min: 0, max: 8 }),
        }),
        fc.oneof(
          fc.constantFrom(...Object.values(frames)),
          fc.uint8Array({ maxLength: 120 }),
          fc
            .constantFrom(...Object.values(frames))
            .chain((f) => fc.integer({ min: 0, max: f.length }).map((cut) => f.subarray(0, cut))),
        ),
        fc.constantFrom('', 'node-b'),
        (init, frame, nodeName) => {
          const data = encodeTraceNotify({ ...init, origLen: frame.length }, frame);
          const out = bothWays(parser, event(data, nodeName));
          // The object path of a second parser fed the same events: the record is no shortcut.
          let expected: Flow | string;
          try {
            const decoded = reference.decode(event(data, nodeName));
            expected = decoded.kind === 'flow' ? decoded.flow : decoded.kind;
          } catch (err) {
            expected = `${(err as ParserError).code}: ${(err as Error).message}`;
          }
          if (typeof out === 'string') {
            expect(out).toBe(expected);
            return;
          }
          flows++;
          expect(out.bytes).toEqual(normalized(out.object));
          expect({ ...normalized(out.object), uuid: '' }).toEqual({ ...normalized(expected as Flow), uuid: '' });
        },
      ),
      { numRuns: 2000 },
    );
    expect(flows).toBeGreaterThan(500);
  });
});

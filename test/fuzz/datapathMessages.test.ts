// Hostile datapath messages: random bytes under every message type, and valid messages of every kind cut, extended and
// bit-flipped, into the parser (it may refuse an event only with its own ParserError) and into each codec (only
// DatapathDecodeError). Agent events with random text and lost events with random counts go through the parser too.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentNotification, encodeAgentNotify } from '../../src/monitor/agentNotify.js';
import { decodeDebugCapture, encodeDebugCapture } from '../../src/monitor/datapath/debugCapture.js';
import { decodeDebugMsg, encodeDebugMsg } from '../../src/monitor/datapath/debugMsg.js';
import { DatapathDecodeError } from '../../src/monitor/datapath/decodeError.js';
import { decodeDropNotify, encodeDropNotify } from '../../src/monitor/datapath/dropNotify.js';
import { decodePolicyVerdictNotify, encodePolicyVerdictNotify } from '../../src/monitor/datapath/policyVerdict.js';
import { decodeRecorderCapture, encodeRecorderCapture } from '../../src/monitor/datapath/recorderCapture.js';
import { decodeTraceNotify, encodeTraceNotify } from '../../src/monitor/datapath/traceNotify.js';
import { decodeTraceSockNotify, encodeTraceSockNotify } from '../../src/monitor/datapath/traceSock.js';
import type { MonitorEvent, MonitorPayload } from '../../src/monitor/types.js';
import { Parser, ParserError } from '../../src/observer/parser/index.js';
import { ethernet, icmp, ipv4, ipv4Address, ipv6, tcp, udp } from '../harness/frames.js';
import { CaseCounter, fuzzRuns, heapAfterGc } from './fuzzRuns.js';

const counter = new CaseCounter();
const parser = new Parser({
  nodeName: 'fuzz',
  clusterName: 'default',
  emitter: { name: 'hubble-ts', version: 'fuzz' },
});

/** Frames the valid messages carry: the layers the parser walks. */
const FRAMES = [
  ethernet(
    { type: 0x0800 },
    ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 }, tcp({ sport: 1, dport: 80, flags: 0x12 })),
  ),
  ethernet(
    { type: 0x0800 },
    ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17 }, udp(53, 5353, new Uint8Array(30))),
  ),
  ethernet({ type: 0x86dd }, ipv6({ src: 'fd00::1', dst: 'fd00::2', next: 58 }, icmp(128, 0, 1, 1))),
  ethernet({ type: 0x8100, vlans: [[0x8100, 5]] }, new Uint8Array(0)),
];

/** One valid message of every kind the datapath sends. */
function validMessages(frame: Uint8Array): Uint8Array[] {
  return [
    encodeTraceNotify({ obsPoint: 3, origLen: frame.length, version: 0 }, frame),
    encodeTraceNotify({ obsPoint: 0, origLen: frame.length, origIP: new Uint8Array(16).fill(7) }, frame),
    encodeTraceNotify({ obsPoint: 5, origLen: frame.length, ipTraceId: 123456789n }, frame),
    encodeDropNotify({ subType: 133, srcLabel: 2, dstLabel: 1 }, frame),
    encodePolicyVerdictNotify({}, frame),
    encodeDebugCapture({}, frame),
    encodeDebugMsg({ subType: 1, source: 9 }),
    encodeRecorderCapture({}, frame),
    encodeTraceSockNotify({ dstIP: ipv4Address('10.0.0.9'), dstPort: 80 }),
  ];
}
const VALID = FRAMES.flatMap(validMessages);

/** A mutation of a valid message: cut, extended with noise, bytes overwritten, bits flipped, the type byte changed. */
const mutatedMessage = fc
  .record({
    base: fc.constantFrom(...VALID),
    cut: fc.option(fc.nat(), { nil: undefined }),
    extra: fc.uint8Array({ maxLength: 64 }),
    writes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 8 }),
    type: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
  })
  .map(({ base, cut, extra, writes, flips, type }) => {
    let bytes = Uint8Array.from(base);
    if (cut !== undefined) bytes = bytes.slice(0, cut % (bytes.length + 1));
    if (extra.length > 0) bytes = Uint8Array.from([...bytes, ...extra]);
    for (const [at, value] of writes) if (bytes.length > 0) bytes[at % bytes.length] = value;
    for (const [at, bit] of flips) if (bytes.length > 0) bytes[at % bytes.length]! ^= 1 << bit;
    if (type !== undefined && bytes.length > 0) bytes[0] = type;
    return bytes;
  });

/** Random bytes, mostly under a known message type. */
const randomMessage = fc
  .tuple(fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 255 })), fc.uint8Array({ maxLength: 200 }))
  .map(([type, rest]) => Uint8Array.from([type, ...rest]));

const agentPayload: fc.Arbitrary<MonitorPayload> = fc.oneof(
  fc.record({ kind: fc.constant('agent' as const), type: fc.integer({ min: 0, max: 255 }), message: fc.string() }),
  fc.record({
    kind: fc.constant('agent' as const),
    type: fc.constantFrom(...Object.values(AgentNotification)),
    message: fc.oneof(
      fc.json(),
      fc.constantFrom(
        encodeAgentNotify({
          kind: 'start',
          type: AgentNotification.START,
          notification: { time: '2026-01-01T00:00:00Z' },
        }).message,
        '{"time":"not a time"}',
        '{"labels":null,"revision":"x"}',
        '{"id":1e400,"labels":[1,2,3]}',
        '[]',
        'null',
      ),
    ),
  }),
);

const lostPayload: fc.Arbitrary<MonitorPayload> = fc.record({
  kind: fc.constant('lost' as const),
  source: fc.integer({ min: 0, max: 3 }) as fc.Arbitrary<0 | 1 | 2 | 3>,
  numLost: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
  cpu: fc.integer({ min: -1, max: 1024 }),
});

function event(payload: MonitorPayload): MonitorEvent {
  return { timestamp: { seconds: 1_800_000_000, nanos: 5 }, nodeName: 'fuzz', payload };
}

/** Decodes; anything thrown but a ParserError fails the case. Returns the time it took. */
function decodeOrRefuse(payload: MonitorPayload): number {
  const t0 = performance.now();
  try {
    parser.decode(event(payload));
  } catch (err) {
    if (!(err instanceof ParserError)) throw err;
    expect(err.message.length).toBeGreaterThan(0);
  }
  return performance.now() - t0;
}

const CODECS: ReadonlyArray<[string, (data: Uint8Array) => unknown]> = [
  ['trace', decodeTraceNotify],
  ['drop', decodeDropNotify],
  ['policy verdict', decodePolicyVerdictNotify],
  ['debug capture', decodeDebugCapture],
  ['debug message', decodeDebugMsg],
  ['recorder capture', decodeRecorderCapture],
  ['trace sock', decodeTraceSockNotify],
];

describe('hostile datapath messages', () => {
  const heapBefore = heapAfterGc();
  let slowest = 0;

  afterAll(() => {
    counter.report('datapath messages into the parser', `slowest ${slowest.toFixed(1)} ms`);
    counter.report('datapath messages into the codecs');
    counter.report('agent and lost events into the parser');
  });

  it('the parser refuses a random or damaged message only with a ParserError, quickly', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedMessage, randomMessage), fc.integer({ min: 0, max: 255 }), (data, cpu) => {
        counter.add('datapath messages into the parser');
        slowest = Math.max(slowest, decodeOrRefuse({ kind: 'perf', cpu, data }));
      }),
      { numRuns: fuzzRuns(3000) },
    );
    expect(slowest).toBeLessThan(1000); // a hang, not a collection pause on a busy machine
  });

  it('each codec refuses what it cannot read only with a DatapathDecodeError', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedMessage, randomMessage), (data) => {
        for (const [, decode] of CODECS) {
          counter.add('datapath messages into the codecs');
          try {
            decode(data);
          } catch (err) {
            if (!(err instanceof DatapathDecodeError)) throw err;
          }
        }
      }),
      { numRuns: fuzzRuns(1500) },
    );
  });

  it('agent notifications with any text and lost events with any count decode or are refused with a ParserError', () => {
    fc.assert(
      fc.property(fc.oneof(agentPayload, lostPayload), (payload) => {
        counter.add('agent and lost events into the parser');
        decodeOrRefuse(payload);
      }),
      { numRuns: fuzzRuns(1000) },
    );
  });

  it('keeps no more memory after all of it than its bounded tables hold', () => {
    // The parser keeps a bounded connection table and name cache; thousands of hostile events must not grow it more.
    expect(heapAfterGc() - heapBefore).toBeLessThan(32 * 1024 * 1024);
  });
});

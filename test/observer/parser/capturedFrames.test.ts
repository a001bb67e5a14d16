// Captured frames decoded straight from their bytes (Parser.recordFrame, the Observer's path for capture sources) give
// the flow the TraceNotify a capture source wraps them in gives (recordFlow): field for field, UUID aside, for real
// captures and for random, truncated and mangled frames in either direction on any interface.
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Flow } from '../../../src/api/flow/flow.js';
import type { CapturedFrame } from '../../../src/monitor/types.js';
import { loadMetadata } from '../../../src/observer/metadata/index.js';
import { Parser } from '../../../src/observer/parser/index.js';
import { ParserError } from '../../../src/observer/parser/parserError.js';
import { EtherType, IpProtocol } from '../../../src/packet/protocols.js';
import { FrameEventBuilder } from '../../../src/source/frameEvent.js';
import { Direction, LinkType } from '../../../src/source/linkTypes.js';
import { PcapFileSource } from '../../../src/source/pcapFile.js';
import { ethernet, ipv4, tcp } from '../../harness/frames.js';
import { SAMPLE_FRAMES } from '../../harness/sampleFrames.js';

function newParser(): Parser {
  return new Parser({
    nodeName: 'default-node',
    clusterName: 'default',
    emitter: { name: 'hubble-ts', version: 'test' },
    ...loadMetadata({ clusterName: 'default', endpointsFile: 'test/fixtures/endpoints.yaml' }),
  });
}

/** Two parsers fed the same frames, one through each path; each frame's two outcomes. */
class BothPaths {
  readonly byEvent = newParser();
  readonly byFrame = newParser();
  readonly outcomes: { event: Flow | string; frame: Flow | string }[] = [];

  take(frame: CapturedFrame): void {
    const event = frame.event();
    this.outcomes.push({
      event: outcome(() => this.byEvent.flowOf(this.byEvent.recordFlow(event)!)),
      frame: outcome(() => this.byFrame.flowOf(this.byFrame.recordFrame(frame))),
    });
  }
}

/** The flow without its UUID (random on each path), or the error's code and message. */
function outcome(decode: () => Flow): Flow | string {
  try {
    return { ...decode(), uuid: '' };
  } catch (err) {
    if (err instanceof ParserError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

const FRAMES = [
  ...Object.values(SAMPLE_FRAMES),
  // The SYN's answer, so that the connection table has a reply to find.
  ethernet(
    { type: EtherType.IPV4 },
    ipv4({ src: '10.0.0.2', dst: '10.0.0.1', protocol: IpProtocol.TCP }, tcp({ sport: 80, dport: 40000, flags: 0x12 })),
  ),
];

describe('captured frames decoded from their bytes', () => {
  it('give every flow of real captures as their events do', async () => {
    for (const name of ['loopback.pcap', 'loopback.pcapng']) {
      const both = new BothPaths();
      const source = new PcapFileSource(join('test/fixtures/source', name), { nodeName: 'node-a' });
      await source.run(
        { publish: () => expect.fail('an Ethernet capture publishes frames'), publishFrame: (f) => both.take(f) },
        new AbortController().signal,
      );
      expect(both.outcomes.length, name).toBeGreaterThan(10);
      for (const { event, frame } of both.outcomes) expect(frame).toEqual(event);
      expect(both.outcomes.filter((o) => typeof o.frame !== 'string').length, name).toBeGreaterThan(10);
    }
  });

  it('give the same flow or the same error for random, truncated and mangled frames, either way, on any interface', () => {
    const frame = fc.oneof(
      fc.constantFrom(...FRAMES),
      fc.uint8Array({ minLength: 0, maxLength: 200 }),
      fc
        .tuple(fc.constantFrom(...FRAMES), fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }))))
        .map(([bytes, cut, flips]) => {
          const mangled = bytes.slice(0, bytes.length === 0 ? 0 : cut % (bytes.length + 1));
          for (const [at, value] of flips) if (mangled.length > 0) mangled[at % mangled.length] = value;
          return mangled;
        }),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            bytes: frame,
            outbound: fc.boolean(),
            ifindex: fc.nat(),
            seconds: fc.integer({ min: 1, max: 4_000_000_000 }),
            nanos: fc.integer({ min: 0, max: 999_999_999 }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        (frames) => {
          const both = new BothPaths();
          const builder = new FrameEventBuilder('node-a');
          const target = {
            publish: () => expect.fail('Ethernet frames go as frames'),
            publishFrame: both.take.bind(both),
          };
          for (const f of frames) {
            const direction = f.outbound ? Direction.OUTBOUND : Direction.INBOUND;
            const { bytes } = f;
            builder.publish(
              target,
              bytes,
              0,
              bytes.length,
              bytes.length,
              LinkType.ETHERNET,
              direction,
              f.ifindex,
              f.seconds,
              f.nanos,
            );
          }
          expect(both.outcomes).toHaveLength(frames.length);
          for (const { event, frame } of both.outcomes) expect(frame).toEqual(event);
        },
      ),
      { numRuns: 300 },
    );
  });
});

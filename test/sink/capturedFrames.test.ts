// Recordings fed captured frames (the capture sources' path through the monitor agent, no event built) record exactly
// what they record from the frames' events, and exactly what decodeFrame's reading of each frame selects: the
// dispatcher's own reading of common packets must agree with decodeFrame on damaged and unusual ones too.
import { rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { CapturedFrame } from '../../src/monitor/types.js';
import { decodeFrame, PacketHeaders } from '../../src/packet/frame.js';
import { ParsedAddr } from '../../src/packet/ipAddress.js';
import { SinkDispatcher } from '../../src/sink/dispatcher.js';
import { RecordingProtocol, type RecordingFilter } from '../../src/sink/types.js';
import { FrameEventBuilder } from '../../src/source/frameEvent.js';
import { Direction, LinkType } from '../../src/source/linkTypes.js';
import {
  authenticationHeader,
  ethernet,
  icmp,
  ipv4,
  ipv6,
  ipv6Extension,
  ipv6Fragment,
  sctp,
  tcp,
  udp,
} from '../harness/frames.js';
import { readPcap } from '../harness/pcapFiles.js';
import { recordingFilter, sinkOptions, tempDir } from './recording.js';

const dir = tempDir('frames');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const V4 = ['10.0.0.1', '10.0.0.2', '192.168.1.1'];
const V6 = ['fd00::1', 'fd00::2', '2001:db8::1'];
const PORTS = [53, 80, 443];

/** Transport headers, some cut short, behind any of the IP headers below. */
const transportArb = fc.record({
  protocol: fc.constantFrom(6, 17, 132, 1, 58, 51, 0, 47),
  sport: fc.constantFrom(...PORTS),
  dport: fc.constantFrom(...PORTS),
  body: fc.integer({ min: 0, max: 24 }),
});

function transport(t: { protocol: number; sport: number; dport: number; body: number }): Uint8Array {
  const body = new Uint8Array(t.body).fill(0x33);
  switch (t.protocol) {
    case 6:
      return tcp({ sport: t.sport, dport: t.dport, flags: 0x18 }, body);
    case 17:
      return udp(t.sport, t.dport, body);
    case 132:
      return sctp(t.sport, t.dport, body);
    case 1:
    case 58:
      return icmp(8, 0, 1, 1, body);
    default:
      return body;
  }
}

/** IPv4 and IPv6 packets of every shape the fast reading must leave to decodeFrame, then damaged at random. */
const frameArb: fc.Arbitrary<Uint8Array> = fc
  .record({
    family: fc.constantFrom(4, 6),
    src: fc.nat(2),
    dst: fc.nat(2),
    t: transportArb,
    vlans: fc.constantFrom<Array<[number, number]>>([], [[0x8100, 7]]),
    ipOptions: fc.constantFrom(0, 4, 8),
    fragment: fc.constantFrom('none', 'first', 'later'),
    totalLength: fc.constantFrom('right', 'zero', 'short', 'long'),
    v6Extension: fc.constantFrom('none', 'hop', 'fragment', 'ah'),
    // Most frames whole and undamaged, so that filters still match often.
    cut: fc.oneof(
      { weight: 3, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 80 }) },
      // Inside the IP header, its options or the first transport bytes.
      { weight: 1, arbitrary: fc.integer({ min: 30, max: 62 }) },
    ),
    flips: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      {
        weight: 1,
        arbitrary: fc.array(fc.tuple(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 2,
        }),
      },
    ),
  })
  .map((p) => {
    const l4 = transport(p.t);
    let l3: Uint8Array;
    if (p.family === 4) {
      const headerLength = 20 + p.ipOptions;
      l3 = ipv4(
        {
          src: V4[p.src]!,
          dst: V4[p.dst]!,
          protocol: p.t.protocol,
          options: new Uint8Array(p.ipOptions),
          moreFragments: p.fragment === 'first',
          fragmentOffset: p.fragment === 'later' ? 8 : 0,
          totalLength: {
            right: undefined,
            zero: 0,
            short: headerLength + 2,
            long: headerLength + l4.length + 100,
          }[p.totalLength],
        },
        l4,
      );
    } else {
      let next: number = p.t.protocol;
      let payload = l4;
      if (p.v6Extension === 'hop') [next, payload] = [0, Uint8Array.from([...ipv6Extension(next), ...l4])];
      if (p.v6Extension === 'fragment')
        [next, payload] = [44, Uint8Array.from([...ipv6Fragment(next, p.fragment === 'later' ? 8 : 0, true), ...l4])];
      if (p.v6Extension === 'ah') [next, payload] = [51, Uint8Array.from([...authenticationHeader(next), ...l4])];
      l3 = ipv6(
        {
          src: V6[p.src]!,
          dst: V6[p.dst]!,
          next,
          payloadLength: { right: undefined, zero: 0, short: 2, long: payload.length + 100 }[p.totalLength],
        },
        payload,
      );
    }
    const frame = ethernet({ type: p.family === 4 ? 0x0800 : 0x86dd, vlans: p.vlans }, l3);
    for (const [at, xor] of p.flips) if (at < frame.length) frame[at] ^= xor;
    return p.cut === null ? frame : frame.slice(0, p.cut);
  });

const filterArb: fc.Arbitrary<string> = fc.constantFrom(4, 6).chain((family) => {
  const address = fc.constantFrom(...(family === 4 ? V4 : V6));
  // Wide filters often, so that damaged frames still meet some.
  const bits = fc.constantFrom(...(family === 4 ? [0, 0, 24, 32] : [0, 0, 64, 128]));
  const port = fc.constantFrom(0, 0, 0, ...PORTS);
  return fc
    .tuple(address, bits, port, address, bits, port, fc.constantFrom('ANY', 'ANY', 'TCP', 'UDP', 'SCTP'))
    .map(([s, sb, sp, d, db, dp, proto]) => `${s}/${sb} ${sp} ${d}/${db} ${dp} ${proto}`);
});

const PORT_PROTOCOLS: readonly number[] = [6, 17, 132];

/** What a filter selects, from decodeFrame's reading of the frame. */
function referenceMatch(f: RecordingFilter, frame: Uint8Array): boolean {
  const h = new PacketHeaders();
  decodeFrame(h, frame, 0, 0, frame.length);
  if (h.ipVersion !== f.source.family) return false;
  const address = (offset: number) => {
    const addr = new ParsedAddr();
    addr.family = h.ipVersion as 4 | 6;
    addr.bytes.set(frame.subarray(offset, offset + (h.ipVersion === 4 ? 4 : 16)));
    return addr;
  };
  if (!f.source.contains(address(h.sourceAddressOffset))) return false;
  if (!f.destination.contains(address(h.destinationAddressOffset))) return false;
  if (f.protocol !== RecordingProtocol.ANY && f.protocol !== h.ipProtocol) return false;
  const hasPorts = h.hasPorts && PORT_PROTOCOLS.includes(h.ipProtocol);
  if (f.sourcePort !== 0 && (!hasPorts || f.sourcePort !== h.sourcePort)) return false;
  if (f.destinationPort !== 0 && (!hasPorts || f.destinationPort !== h.destinationPort)) return false;
  return true;
}

const SECONDS = 1_700_000_000;

/** What each recording's file holds, as indexes into `frames`, fed as events or as captured frames. */
async function record(frames: Uint8Array[], recordings: string[][], as: 'events' | 'frames'): Promise<number[][]> {
  const dispatcher = new SinkDispatcher();
  const sinks = [];
  for (const filters of recordings) sinks.push(await dispatcher.startSink(sinkOptions(dir, filters)));
  const builder = new FrameEventBuilder('test-node');
  // A target like the monitor agent with the dispatcher as its only consumer.
  const target = {
    publish: () => expect.unreachable('Ethernet frames come as frames'),
    publishFrame: (frame: CapturedFrame) => dispatcher.onCapturedFrame(frame),
  };
  frames.forEach((frame, i) => {
    if (as === 'frames') {
      builder.publish(
        target,
        frame,
        0,
        frame.length,
        frame.length,
        LinkType.ETHERNET,
        Direction.UNKNOWN,
        0,
        SECONDS + i,
        0,
      );
    } else {
      const event = builder.build(frame, 0, frame.length, frame.length, LinkType.ETHERNET, 0, 0, SECONDS + i, 0);
      dispatcher.onMonitorEvent(event!);
    }
  });
  await dispatcher.stopAll('shutdown');
  return sinks.map((sink) => {
    const records = readPcap(sink.path).records;
    rmSync(sink.path);
    return records.map((r) => {
      const i = r.seconds - SECONDS;
      expect(r.data).toEqual(frames[i]);
      return i;
    });
  });
}

describe('recordings fed captured frames', () => {
  it('select what decodeFrame reads in damaged and unusual frames, as frames and as events alike', async () => {
    let matched = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(frameArb, { minLength: 5, maxLength: 40 }),
        fc.array(fc.array(filterArb, { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 3 }),
        async (frames, recordings) => {
          const expected = recordings.map((filters) => {
            const compiled = filters.map(recordingFilter);
            return frames.flatMap((frame, i) => (compiled.some((f) => referenceMatch(f, frame)) ? [i] : []));
          });
          matched += expected.flat().length;
          expect(await record(frames, recordings, 'frames')).toEqual(expected);
          expect(await record(frames, recordings, 'events')).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
    // The damage must leave plenty that still matches, or the property says little.
    // (About 180 matches in a run; the bar is far enough below that for the property's randomness not to fail it.)
    expect(matched).toBeGreaterThan(60);
  });
});

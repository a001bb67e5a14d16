import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ParsedAddr, parseAddrInto } from '../../src/packet/ipAddress.js';
import { SinkDispatcher } from '../../src/sink/dispatcher.js';
import { RecordingProtocol, type RecordingFilter } from '../../src/sink/types.js';
import { ethernet, icmp, ipv4, ipv6, sctp, sctpChunk, tcp, udp } from '../harness/frames.js';
import { readPcap, writePcap } from '../harness/pcapFiles.js';
import { frameEvent, recordingFilter, sinkOptions, tempDir, tsharkSelects } from './recording.js';

const dir = tempDir('property');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Small pools, so that random filters and packets meet often.
const V4 = ['10.0.0.1', '10.0.0.2', '10.1.0.1', '192.168.1.1', '172.16.0.9'];
const V6 = ['fd00::1', 'fd00::2', 'fd00:1::1', '2001:db8::1'];
const PORTS = [53, 80, 443, 1234, 5000];
const PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ICMP'] as const;

interface Packet {
  family: 4 | 6;
  src: string;
  dst: string;
  protocol: (typeof PROTOCOLS)[number];
  sport: number;
  dport: number;
  bytes: number;
}

const packetArb: fc.Arbitrary<Packet> = fc.oneof(fc.constant<4 | 6>(4), fc.constant<4 | 6>(6)).chain((family) =>
  fc.record({
    family: fc.constant(family),
    src: fc.constantFrom(...(family === 4 ? V4 : V6)),
    dst: fc.constantFrom(...(family === 4 ? V4 : V6)),
    protocol: fc.constantFrom(...PROTOCOLS),
    sport: fc.constantFrom(...PORTS),
    dport: fc.constantFrom(...PORTS),
    bytes: fc.integer({ min: 0, max: 40 }),
  }),
);

/** A filter in `hubble record`'s words. */
const filterArb: fc.Arbitrary<string> = fc.oneof(fc.constant<4 | 6>(4), fc.constant<4 | 6>(6)).chain((family) => {
  const address = fc.constantFrom(...(family === 4 ? V4 : V6));
  const bits = fc.constantFrom(...(family === 4 ? [0, 8, 16, 24, 31, 32] : [0, 16, 32, 64, 127, 128]));
  const port = fc.oneof(fc.constant(0), fc.constantFrom(...PORTS));
  return fc
    .tuple(address, bits, port, address, bits, port, fc.constantFrom('ANY', 'TCP', 'UDP', 'SCTP'))
    .map(([s, sb, sp, d, db, dp, proto]) => `${s}/${sb} ${sp} ${d}/${db} ${dp} ${proto}`);
});

function frameOf(p: Packet): Uint8Array {
  const body = new Uint8Array(p.bytes).fill(0x5a);
  let l4: Uint8Array;
  let next: number;
  switch (p.protocol) {
    case 'TCP':
      [l4, next] = [tcp({ sport: p.sport, dport: p.dport, flags: 0x10 }, body), 6];
      break;
    case 'UDP':
      [l4, next] = [udp(p.sport, p.dport, body), 17];
      break;
    case 'SCTP':
      [l4, next] = [sctp(p.sport, p.dport, sctpChunk(0, body)), 132];
      break;
    case 'ICMP':
      [l4, next] = [icmp(p.family === 4 ? 8 : 128, 0, 1, 1, body), p.family === 4 ? 1 : 58];
      break;
  }
  return p.family === 4
    ? ethernet({ type: 0x0800 }, ipv4({ src: p.src, dst: p.dst, protocol: next }, l4))
    : ethernet({ type: 0x86dd }, ipv6({ src: p.src, dst: p.dst, next }, l4));
}

const PROTOCOL_NUMBERS = { TCP: 6, UDP: 17, SCTP: 132, ICMP: 1 } as const;

/** What a recording filter selects, said the plain way: containment, port 0 = any, ANY = any protocol. */
function referenceMatch(f: RecordingFilter, p: Packet): boolean {
  if (f.source.family !== p.family) return false;
  const addr = new ParsedAddr();
  parseAddrInto(p.src, addr);
  if (!f.source.contains(addr)) return false;
  parseAddrInto(p.dst, addr);
  if (!f.destination.contains(addr)) return false;
  if (f.protocol !== RecordingProtocol.ANY && f.protocol !== PROTOCOL_NUMBERS[p.protocol]) return false;
  const hasPorts = p.protocol !== 'ICMP';
  if (f.sourcePort !== 0 && (!hasPorts || f.sourcePort !== p.sport)) return false;
  if (f.destinationPort !== 0 && (!hasPorts || f.destinationPort !== p.dport)) return false;
  return true;
}

/** The same filter as a Wireshark display filter. */
function displayFilter(text: string): string {
  const [src, sport, dst, dport, proto] = text.split(' ') as [string, string, string, string, string];
  const ip = src.includes(':') ? 'ipv6' : 'ip';
  const parts = [`${ip}.src == ${src}`, `${ip}.dst == ${dst}`];
  const transports = proto === 'ANY' ? ['tcp', 'udp', 'sctp'] : [proto.toLowerCase()];
  if (proto !== 'ANY') parts.push(proto.toLowerCase());
  for (const [port, field] of [
    [sport, 'srcport'],
    [dport, 'dstport'],
  ] as const) {
    if (port !== '0') parts.push(`(${transports.map((t) => `${t}.${field} == ${port}`).join(' || ')})`);
  }
  return `(${parts.join(' && ')})`;
}

const scenario = fc.record({
  packets: fc.array(packetArb, { minLength: 1, maxLength: 60 }),
  recordings: fc.array(fc.array(filterArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
});

/** What each recording's file holds, as indexes into `packets`. */
async function recordScenario(packets: Packet[], recordings: string[][]): Promise<number[][]> {
  const frames = packets.map(frameOf);
  const dispatcher = new SinkDispatcher();
  const sinks = [];
  for (const filters of recordings) sinks.push(await dispatcher.startSink(sinkOptions(dir, filters)));
  frames.forEach((frame, i) => dispatcher.onMonitorEvent(frameEvent(frame, 1_700_000_000 + i)));
  await dispatcher.stopAll('shutdown');
  return sinks.map((sink) => {
    const records = readPcap(sink.path).records;
    rmSync(sink.path);
    // Each packet's second says which one it is; its bytes must be the frame's.
    return records.map((r) => {
      const i = r.seconds - 1_700_000_000;
      expect(r.data).toEqual(frames[i]);
      return i;
    });
  });
}

describe('recordings select exactly what their filters say', () => {
  it('matches a straightforward reference matcher on random packets and filters', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ packets, recordings }) => {
        const recorded = await recordScenario(packets, recordings);
        recordings.forEach((filters, r) => {
          const compiled = filters.map(recordingFilter);
          const expected = packets.flatMap((p, i) => (compiled.some((f) => referenceMatch(f, p)) ? [i] : []));
          expect(recorded[r]).toEqual(expected);
        });
      }),
      { numRuns: 60 },
    );
  });

  it('matches the reference with many recordings at once (long index buckets split by address)', async () => {
    const many = fc.record({
      packets: fc.array(packetArb, { minLength: 20, maxLength: 80 }),
      recordings: fc.array(fc.array(filterArb, { minLength: 1, maxLength: 4 }), { minLength: 12, maxLength: 24 }),
    });
    await fc.assert(
      fc.asyncProperty(many, async ({ packets, recordings }) => {
        const recorded = await recordScenario(packets, recordings);
        recordings.forEach((filters, r) => {
          const compiled = filters.map(recordingFilter);
          const expected = packets.flatMap((p, i) => (compiled.some((f) => referenceMatch(f, p)) ? [i] : []));
          expect(recorded[r]).toEqual(expected);
        });
      }),
      { numRuns: 8 },
    );
  });

  it('agrees with tshark given the equivalent display filters', async () => {
    const [{ packets, recordings }] = fc.sample(
      fc.record({
        packets: fc.array(packetArb, { minLength: 150, maxLength: 150 }),
        recordings: fc.array(fc.array(filterArb, { minLength: 1, maxLength: 3 }), { minLength: 4, maxLength: 4 }),
      }),
      { numRuns: 1, seed: 20240611 },
    ) as [{ packets: Packet[]; recordings: string[][] }];
    const recorded = await recordScenario(packets, recordings);
    const all = join(dir, 'all.pcap');
    writeFileSync(
      all,
      writePcap(
        packets.map((p, i) => ({ seconds: i, fraction: 0, data: frameOf(p) })),
        { linkType: 1 },
      ),
    );
    let selectedSomething = false;
    for (const [r, filters] of recordings.entries()) {
      const frames = await tsharkSelects(all, filters.map(displayFilter).join(' || '));
      expect(
        frames.map((n) => n - 1),
        filters.join(' | '),
      ).toEqual(recorded[r]);
      selectedSomething ||= frames.length > 0;
    }
    expect(selectedSomething).toBe(true);
  });
});

// Hostile capture files: real captures (the fixtures, one tcpdump makes now, and crafted pcap/pcapng variants) cut,
// bit-flipped, with lengths made huge and headers zeroed, replayed through the real source and parser path and through
// `hubble-ts serve` as a process. Every replay ends in time with its events or a SourceError that says where (byte
// offset), the result does not depend on how the file is chunked, the parser throws nothing but ParserError, memory
// stays bounded, and serve either refuses the file with one line or serves what came before the damage.
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObserverClient, ServerStatusResponse } from '../../src/api/observer/observer.js';
import { Parser, ParserError } from '../../src/observer/parser/index.js';
import { PcapFileSource } from '../../src/source/pcapFile.js';
import { SourceError } from '../../src/source/source.js';
import { captureWhile, tcpExchange, udpBurst } from '../harness/capture.js';
import { spawnCli } from '../harness/cli.js';
import { ethernet, ipv4, ipv6, tcp, udp } from '../harness/frames.js';
import { writePcap, writePcapng } from '../harness/pcapFiles.js';
import { CaseCounter, fuzzRuns, heapAfterGc } from './fuzzRuns.js';

const counter = new CaseCounter();
const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-fuzz-captures-'));
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'source');
const parser = new Parser({
  nodeName: 'fuzz',
  clusterName: 'default',
  emitter: { name: 'hubble-ts', version: 'fuzz' },
});

/** Crafted variants the fixtures lack: big-endian nanosecond pcap, pcapng with two sections, options, SPB and PB. */
function craftedCaptures(): Uint8Array[] {
  const frames = [
    ethernet(
      { type: 0x0800 },
      ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 }, tcp({ sport: 1, dport: 2, flags: 2 })),
    ),
    ethernet({ type: 0x86dd }, ipv6({ src: 'fd00::1', dst: 'fd00::2', next: 17 }, udp(53, 53, new Uint8Array(40)))),
    ethernet(
      { type: 0x0800, vlans: [[0x8100, 7]] },
      ipv4({ src: '10.0.0.3', dst: '10.0.0.4', protocol: 17 }, udp(1, 2)),
    ),
  ];
  const records = frames.map((data, i) => ({ seconds: 1_700_000_000 + i, fraction: 999_999_999 - i, data }));
  return [
    writePcap(records, { linkType: 1, littleEndian: false, nanosecond: true, snaplen: 65535 }),
    writePcap(
      records.map((r) => ({ ...r, fraction: r.fraction % 1_000_000 })),
      { linkType: 1, snaplen: 0x7fffffff },
    ),
    writePcapng([
      { type: 'section', littleEndian: false },
      { type: 'interface', linkType: 1, snaplen: 96, name: 'eth0', tsresol: 9, tsoffset: 5n },
      { type: 'enhanced', interfaceId: 0, timestamp: 1_700_000_000_123_456_789n, data: frames[0]!, flags: 2 },
      { type: 'simple', data: frames[1]! },
      { type: 'other', blockType: 0x0bad, body: new Uint8Array(13) },
      { type: 'section' },
      { type: 'interface', linkType: 1, tsresol: 0x80 | 20 },
      { type: 'interface', linkType: 113 },
      { type: 'packet', interfaceId: 0, timestamp: 1n << 40n, data: frames[2]! },
      { type: 'enhanced', interfaceId: 1, timestamp: 12345n, data: new Uint8Array(20) },
      { type: 'enhanced', interfaceId: 0, timestamp: 99n, data: frames[0]!, origLen: 9000 },
    ]),
  ];
}

type Mutation =
  | { kind: 'cut'; at: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'huge'; at: number; value: number; littleEndian: boolean }
  | { kind: 'zero'; at: number; length: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'repeat'; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('huge' as const),
    // Lengths sit on 4-byte boundaries in both formats: aim there mostly.
    at: fc.nat().map((n) => n * 4),
    value: fc.constantFrom(0xffffffff, 0x7fffffff, 0x80000000, 0x04000000, 0x04000001, 0x0400000c, 65536, 262145),
    littleEndian: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('zero' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }),
  }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 200 }) }),
);

function mutate(base: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = base.slice();
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.kind) {
      case 'cut':
        b = b.slice(0, at);
        break;
      case 'flip':
        b[at]! ^= 1 << m.bit;
        break;
      case 'byte':
        b[at] = m.value;
        break;
      case 'huge':
        if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at, m.value >>> 0, m.littleEndian);
        break;
      case 'zero':
        b.fill(0, at, at + m.length);
        break;
      case 'insert':
        b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
        break;
      case 'repeat':
        b = Uint8Array.from([...b.subarray(0, at + m.length), ...b.subarray(at)]);
        break;
    }
  }
  return b;
}

interface Replayed {
  events: number;
  /** Events the parser refused (ParserError). */
  refused: number;
  error: SourceError | undefined;
  ms: number;
}

let fileNumber = 0;

/** Replays bytes through PcapFileSource and the parser, as serve does; anything but SourceError/ParserError throws. */
async function replay(bytes: Uint8Array, chunkSize?: number): Promise<Replayed> {
  const path = join(dir, `case${fileNumber++}.cap`);
  writeFileSync(path, bytes);
  const t0 = performance.now();
  let events = 0;
  let refused = 0;
  let error: SourceError | undefined;
  try {
    const tuning = chunkSize === undefined ? {} : { chunkSize, carry: 16 + (chunkSize % 97) };
    await new PcapFileSource(path, { nodeName: 'fuzz' }, tuning).run((event) => {
      events++;
      try {
        parser.decode(event);
      } catch (err) {
        if (!(err instanceof ParserError)) throw err;
        refused++;
      }
    }, new AbortController().signal);
  } catch (err) {
    if (!(err instanceof SourceError)) throw err;
    error = err;
  } finally {
    rmSync(path, { force: true });
  }
  return { events, refused, error, ms: performance.now() - t0 };
}

/** A SourceError a user can act on: names the file; damage says at which byte, within the file. */
function expectClearError(err: SourceError, length: number): void {
  expect(err.message).toContain(dir);
  if (err.code === 'CORRUPT' || err.code === 'TRUNCATED') {
    expect(err.offset, err.message).toBeTypeOf('number');
    expect(err.offset!).toBeGreaterThanOrEqual(0);
    expect(err.offset!).toBeLessThanOrEqual(length);
    if (err.offset! > 0) expect(err.message).toContain(`at byte ${err.offset}`);
  }
}

describe('hostile capture files', () => {
  let bases: Array<{ name: string; bytes: Uint8Array }> = [];
  let slowest = 0;
  const serveOutcomes: Record<string, number> = {};
  const outcome = (what: string) => (serveOutcomes[what] = (serveOutcomes[what] ?? 0) + 1);
  const heapBefore = heapAfterGc();

  beforeAll(async () => {
    // A capture made here and now, so the fuzzer also sees what this machine's tcpdump writes.
    const made = await captureWhile('tcp or udp port 40998', async () => {
      await tcpExchange(3);
      await udpBurst(3, 40998);
    });
    bases = [
      ...['loopback.pcap', 'loopback.pcapng', 'any-sll2.pcap'].map((name) => ({
        name,
        bytes: new Uint8Array(readFileSync(join(fixtures, name))),
      })),
      { name: 'tcpdump now', bytes: new Uint8Array(readFileSync(made)) },
      ...craftedCaptures().map((bytes, i) => ({ name: `crafted ${i}`, bytes })),
    ];
    // Every base replays cleanly: the damage is all the fuzzer's.
    for (const b of bases) expect((await replay(b.bytes)).error, b.name).toBeUndefined();
  });

  afterAll(() => {
    counter.report('mutated captures through source and parser', `slowest ${slowest.toFixed(0)} ms`);
    counter.report(
      'mutated captures through serve',
      Object.entries(serveOutcomes)
        .map(([k, v]) => `${v} ${k}`)
        .join(', '),
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('every mutated capture ends in time, in events or a SourceError naming the byte, however it is chunked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 24, max: 9000 }),
        async (which, mutations, chunkSize) => {
          counter.add('mutated captures through source and parser');
          const base = bases[which % bases.length]!;
          const bytes = mutate(base.bytes, mutations);
          const whole = await replay(bytes);
          const chunked = await replay(bytes, chunkSize);
          slowest = Math.max(slowest, whole.ms, chunked.ms);
          expect(whole.ms, `${base.name}: ${JSON.stringify(mutations)}`).toBeLessThan(2000);
          if (whole.error !== undefined) expectClearError(whole.error, bytes.length);
          // The same file read in other chunks: the same events, the same verdict at the same byte.
          expect({ events: chunked.events, code: chunked.error?.code, offset: chunked.error?.offset }).toEqual({
            events: whole.events,
            code: whole.error?.code,
            offset: whole.error?.offset,
          });
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  }, 120_000);

  it('keeps no more memory afterwards than before (a huge length buffers one record at most, then lets go)', () => {
    expect(heapAfterGc() - heapBefore).toBeLessThan(32 * 1024 * 1024);
  });

  it('serve refuses a damaged file with one line, or serves what came before the damage and answers', async () => {
    const client = (socket: string) => new ObserverClient(`unix://${socket}`, grpc.credentials.createInsecure());
    const cases = fc.sample(fc.tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 3 })), {
      numRuns: fuzzRuns(4),
      seed: Number(process.env['HUBBLE_TS_FUZZ_SEED'] ?? 9),
    });
    for (const [i, [which, mutations]] of cases.entries()) {
      counter.add('mutated captures through serve');
      const base = bases[which % bases.length]!;
      const bytes = mutate(base.bytes, mutations);
      const expected = await replay(bytes);
      const path = join(dir, `serve${i}.cap`);
      writeFileSync(path, bytes);
      const socket = join(dir, `serve${i}.sock`);
      const serve = spawnCli([
        'serve',
        '--source',
        `pcap:${path}`,
        '--socket-path',
        socket,
        '--recordings-dir',
        join(dir, `rec${i}`),
        '--node-name',
        'fuzz',
      ]);
      try {
        await serve
          .waitFor(
            (out, err) =>
              out.includes('source ended') || out.includes('"level":50') || serve.child.exitCode !== null || err !== '',
            30_000,
            'the replay to end',
          )
          .catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
        const what = `${base.name} ${JSON.stringify(mutations)}: ${serve.stderr()}${serve.stdout().slice(-500)}`;
        if (serve.child.exitCode !== null || serve.child.signalCode !== null) {
          // Refused at startup (the header is unusable): exit 2, one line, no stack trace.
          expect(serve.child.exitCode, what).toBe(2);
          expect(serve.stderr().trim().split('\n'), what).toHaveLength(1);
          expect(serve.stderr(), what).not.toMatch(/\n\s+at /);
          expect(expected.error, what).toBeDefined();
          outcome('refused at startup');
          continue;
        }
        if (
          expected.error !== undefined &&
          (expected.error.code === 'CORRUPT' || expected.error.code === 'TRUNCATED')
        ) {
          expect(serve.stdout(), what).toContain(`at byte ${expected.error.offset}`);
        }
        const status = await new Promise<ServerStatusResponse>((resolve, reject) => {
          const c = client(socket);
          c.serverStatus({}, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) => {
            c.close();
            if (err) reject(err);
            else resolve(res);
          });
        });
        // What came before the damage is served (the ring holds up to 4095).
        expect(Number(status.seenFlows), what).toBe(
          Math.min(expected.events - expected.refused, Number.MAX_SAFE_INTEGER),
        );
        expect(await serve.stop('SIGTERM'), what).toBe(0);
        outcome(expected.error === undefined ? 'replayed whole' : `served up to the damage (${expected.error.code})`);
      } finally {
        await serve.stop('SIGKILL');
      }
    }
  }, 180_000);
});

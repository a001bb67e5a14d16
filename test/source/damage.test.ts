import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MonitorEvent } from '../../src/monitor/types.js';
import { PcapFileSource, type PcapFileTuning } from '../../src/source/pcapFile.js';
import { SourceError, type SourceSummary } from '../../src/source/source.js';
import { writePcap, writePcapng } from '../harness/pcapFiles.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'source');
const fixture = (name: string) => new Uint8Array(readFileSync(join(fixtures, name)));
const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-damage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
interface Outcome {
  events: MonitorEvent[];
  summary?: SourceSummary;
  error?: unknown;
}

async function replayBytes(bytes: Uint8Array, tuning?: PcapFileTuning): Promise<Outcome> {
  const path = join(dir, `f${fileCounter++}.cap`);
  writeFileSync(path, bytes);
  const events: MonitorEvent[] = [];
  try {
    const summary = await new PcapFileSource(path, { nodeName: 'n' }, tuning).run(
      (e) => events.push(e),
      new AbortController().signal,
    );
    return { events, summary };
  } catch (error) {
    return { events, error };
  } finally {
    rmSync(path, { force: true });
  }
}

const dataHex = (events: MonitorEvent[]) =>
  events.map((e) => (e.payload.kind === 'perf' ? Buffer.from(e.payload.data).toString('hex') : e.payload.kind));

/** Start offsets of the records of a classic pcap, plus the offset where the last one ends. */
function pcapRecordOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  let at = 24;
  while (at < bytes.length) {
    offsets.push(at);
    at += 16 + view.getUint32(at + 8, true);
  }
  offsets.push(at);
  return offsets;
}

/** Start offsets and types of the blocks of a little-endian pcapng, plus the end offset. */
function pcapngBlocks(bytes: Uint8Array): { offset: number; type: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks: { offset: number; type: number }[] = [];
  let at = 0;
  while (at < bytes.length) {
    blocks.push({ offset: at, type: view.getUint32(at, true) });
    at += view.getUint32(at + 4, true);
  }
  blocks.push({ offset: at, type: -1 });
  return blocks;
}

const isPacketBlock = (type: number) => type === 6 || type === 3 || type === 2;

/**
 * Where to cut a file: every byte of its start, around every record boundary, and 150 points picked at random
 * (seeded, so a failure repeats).
 */
function cutPoints(length: number, boundaries: number[]): number[] {
  const cuts = new Set<number>();
  for (let c = 1; c < Math.min(length, 160); c++) cuts.add(c);
  for (const b of boundaries) for (const d of [-17, -16, -9, -1, 0, 1, 4, 8, 15, 16, 17]) cuts.add(b + d);
  let seed = 0x2545f491;
  for (let i = 0; i < 150; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    cuts.add(seed % length);
  }
  return [...cuts].filter((c) => c > 0 && c < length).sort((a, b) => a - b);
}

function expectSourceError(outcome: Outcome, code: string, message?: RegExp): SourceError {
  expect(
    outcome.error,
    `expected a ${code} error, got ${outcome.error === undefined ? 'success' : String(outcome.error)}`,
  ).toBeInstanceOf(SourceError);
  const err = outcome.error as SourceError;
  expect(err.code).toBe(code);
  if (message) expect(err.message).toMatch(message);
  return err;
}

describe('a truncated file', () => {
  it('pcap cut anywhere: every record before the cut is published, then TRUNCATED at the cut record', async () => {
    const whole = fixture('loopback.pcap');
    const full = dataHex((await replayBytes(whole)).events);
    const offsets = pcapRecordOffsets(whole);
    expect(offsets.at(-1)).toBe(whole.length);
    for (const cut of cutPoints(whole.length, offsets)) {
      const outcome = await replayBytes(whole.subarray(0, cut));
      if (cut < 4) {
        expectSourceError(outcome, 'NOT_A_CAPTURE');
        continue;
      }
      if (cut < 24) {
        const err = expectSourceError(outcome, 'TRUNCATED', /pcap file header/);
        expect(err.offset).toBe(0);
        continue;
      }
      // Records that end at or before the cut.
      const ended = offsets.slice(1).filter((end) => end <= cut).length;
      expect(dataHex(outcome.events), `cut at ${cut}`).toEqual(full.slice(0, ended));
      if (offsets.includes(cut)) {
        expect(outcome.error, `cut at record boundary ${cut}`).toBeUndefined();
      } else {
        const err = expectSourceError(outcome, 'TRUNCATED', /truncated: record \d+ at byte \d+: /);
        expect(err.message).toContain(`record ${ended + 1} at byte ${offsets[ended]}`);
        expect({ offset: err.offset, record: err.record }).toEqual({ offset: offsets[ended], record: ended + 1 });
      }
    }
  }, 60_000);

  it('pcapng cut anywhere: every packet before the cut is published, then TRUNCATED at the cut block', async () => {
    const whole = fixture('loopback.pcapng');
    const full = dataHex((await replayBytes(whole)).events);
    const blocks = pcapngBlocks(whole);
    for (const cut of cutPoints(
      whole.length,
      blocks.map((b) => b.offset),
    )) {
      const outcome = await replayBytes(whole.subarray(0, cut));
      if (cut < 4) {
        expectSourceError(outcome, 'NOT_A_CAPTURE');
        continue;
      }
      const ended = blocks.slice(0, -1).filter((_, i) => blocks[i + 1]!.offset <= cut);
      const packets = ended.filter((b) => isPacketBlock(b.type)).length;
      expect(dataHex(outcome.events), `cut at ${cut}`).toEqual(full.slice(0, packets));
      if (blocks.some((b) => b.offset === cut)) {
        expect(outcome.error, `cut at block boundary ${cut}`).toBeUndefined();
      } else {
        const err = expectSourceError(outcome, 'TRUNCATED');
        const at = blocks[ended.length]!.offset;
        expect(err.message).toContain(`block ${ended.length + 1} at byte ${at}`);
        expect({ offset: err.offset, record: err.record }).toEqual({ offset: at, record: ended.length + 1 });
      }
    }
  }, 60_000);
});

describe('a corrupt header', () => {
  const pcap = fixture('loopback.pcap');
  const offsets = pcapRecordOffsets(pcap);
  const edit = (bytes: Uint8Array, change: (view: DataView) => void) => {
    const copy = bytes.slice();
    change(new DataView(copy.buffer));
    return copy;
  };

  it('a record claiming more bytes than the snaplen allows: earlier records published, then CORRUPT naming record and offset', async () => {
    const k = 7;
    const outcome = await replayBytes(edit(pcap, (v) => v.setUint32(offsets[k - 1]! + 8, 4_000_000_000, true)));
    expect(outcome.events).toHaveLength(k - 1);
    const err = expectSourceError(
      outcome,
      'CORRUPT',
      new RegExp(
        `record ${k} at byte ${offsets[k - 1]} claims 4000000000 captured bytes, more than the snaplen 262144`,
      ),
    );
    expect({ offset: err.offset, record: err.record }).toEqual({ offset: offsets[k - 1], record: k });
    expect(err.message).toMatch(/^\/.*f\d+\.cap: corrupt: /);
  });

  const pcapCases: [string, (v: DataView) => void, string, RegExp][] = [
    [
      'an unknown magic number',
      (v) => v.setUint32(0, 0xdeadbeef, true),
      'NOT_A_CAPTURE',
      /not a pcap or pcapng capture \(it starts with bytes ef be ad de\)/,
    ],
    ['pcap version 3.0', (v) => v.setUint16(4, 3, true), 'UNSUPPORTED_FORMAT', /pcap version 3\.4 is not supported/],
    ['the "modified" pcap magic', (v) => v.setUint32(0, 0xa1b2cd34, true), 'UNSUPPORTED_FORMAT', /modified/],
    [
      'a link type we cannot turn into Ethernet (USB)',
      (v) => v.setUint32(20, 220, true),
      'UNSUPPORTED_LINK_TYPE',
      /USB_LINUX_MMAPPED \(220\) cannot be turned into Ethernet/,
    ],
    ['gzip-compressed bytes', (v) => v.setUint32(0, 0x00088b1f, true), 'NOT_A_CAPTURE', /gzip/],
  ];
  it.each(pcapCases)(
    'pcap with %s fails with a clear error and publishes nothing',
    async (_name, change, code, message) => {
      const outcome = await replayBytes(edit(pcap, change));
      expect(outcome.events).toHaveLength(0);
      expectSourceError(outcome, code, message);
    },
  );

  const ng = fixture('loopback.pcapng');
  const blocks = pcapngBlocks(ng);
  const firstPacket = blocks.findIndex((b) => b.type === 6);
  const k = firstPacket + 5; // the sixth packet block
  const at = blocks[k]!.offset;
  const ngCases: [string, (v: DataView) => void, string, RegExp, number][] = [
    [
      'a block length that is not a multiple of 4',
      (v) => v.setUint32(at + 4, 13, true),
      'CORRUPT',
      new RegExp(`block ${k + 1} at byte ${at}: enhanced packet block \\(packet 6\\) claims a length of 13 bytes`),
      5,
    ],
    [
      'a block longer than any block may be',
      (v) => v.setUint32(at + 4, 0xfffffff0, true),
      'CORRUPT',
      /claims a length of 4294967280 bytes/,
      5,
    ],
    [
      'a trailing length that disagrees',
      (v) => v.setUint32(blocks[k + 1]!.offset - 4, 1234, true),
      'CORRUPT',
      /says \d+ bytes at its start but 1234 at its end/,
      5,
    ],
    [
      'a packet on an interface the section never described',
      (v) => v.setUint32(at + 8, 5, true),
      'CORRUPT',
      /refers to interface 5, but its section describes only 1 before it/,
      5,
    ],
    [
      'a captured length beyond its block',
      (v) => v.setUint32(at + 20, 100_000, true),
      'CORRUPT',
      /claims 100000 captured bytes, more than the \d+ its length leaves room for/,
      5,
    ],
    [
      'a section header with a wrong byte-order magic',
      (v) => v.setUint32(8, 0x01020304, true),
      'CORRUPT',
      /block 1 at byte 0: section header has byte-order magic 0x01020304/,
      0,
    ],
    [
      'pcapng version 2.0',
      (v) => v.setUint16(12, 2, true),
      'UNSUPPORTED_FORMAT',
      /pcapng version 2\.0 at byte 0 is not supported/,
      0,
    ],
  ];
  it.each(ngCases)(
    'pcapng with %s: earlier packets published, then a clear error',
    async (_name, change, code, message, published) => {
      const outcome = await replayBytes(edit(ng, change));
      expect(outcome.events).toHaveLength(published);
      expectSourceError(outcome, code, message);
    },
  );

  it('pcapng whose only interface has a link type we cannot normalise fails with UNSUPPORTED_LINK_TYPE', async () => {
    const file = writePcapng([
      { type: 'section' },
      { type: 'interface', linkType: 220 },
      { type: 'enhanced', interfaceId: 0, timestamp: 1n, data: new Uint8Array(64) },
    ]);
    const outcome = await replayBytes(file);
    expectSourceError(
      outcome,
      'UNSUPPORTED_LINK_TYPE',
      /every frame is of a link type that cannot be turned into Ethernet \(USB_LINUX_MMAPPED \(220\)\)/,
    );
  });

  it('pcapng mixing a supported and an unsupported interface publishes the one and counts the other', async () => {
    const eth = fixture('loopback.pcap').subarray(24 + 16, 24 + 16 + 74);
    const file = writePcapng([
      { type: 'section' },
      { type: 'interface', linkType: 220 },
      { type: 'interface', linkType: 1 },
      { type: 'enhanced', interfaceId: 0, timestamp: 1n, data: new Uint8Array(64) },
      { type: 'enhanced', interfaceId: 1, timestamp: 2n, data: eth },
      { type: 'enhanced', interfaceId: 0, timestamp: 3n, data: new Uint8Array(64) },
    ]);
    const outcome = await replayBytes(file);
    expect(outcome.error).toBeUndefined();
    expect(outcome.events).toHaveLength(1);
    expect(outcome.summary).toMatchObject({ events: 1, skipped: 2, unsupportedLinkTypes: [220] });
  });

  it('cooked frames too short for their own header are skipped and counted, not published broken', async () => {
    const file = writePcap(
      [
        { seconds: 1, fraction: 0, data: new Uint8Array(10) },
        { seconds: 2, fraction: 0, data: fixture('any-sll2.pcap').subarray(24 + 16, 24 + 16 + 80) },
      ],
      { linkType: 276 },
    );
    const outcome = await replayBytes(file);
    expect(outcome.summary).toMatchObject({ events: 1, skipped: 1, unsupportedLinkTypes: [] });
  });
});

describe('random damage', () => {
  /** Runs a replay that must end (resolve, or reject with SourceError) well within a second. */
  async function mustEndCleanly(bytes: Uint8Array, tuning?: PcapFileTuning): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      replayBytes(bytes, tuning),
      new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 5000))),
    ]);
    clearTimeout(timer);
    expect(outcome).not.toBe('hung');
    const { error, events } = outcome as Outcome;
    if (error !== undefined && !(error instanceof SourceError)) throw error;
    for (const e of events) {
      expect(e.payload.kind).toBe('perf');
      if (e.payload.kind === 'perf') {
        expect(e.payload.data[0]).toBe(4);
        expect(e.payload.data.length).toBeGreaterThanOrEqual(32);
      }
      expect(Number.isInteger(e.timestamp.seconds) && e.timestamp.nanos >= 0 && e.timestamp.nanos < 1e9).toBe(true);
    }
  }

  const tuning = fc.option(
    fc.record({
      chunkSize: fc.integer({ min: 24, max: 5000 }),
      carry: fc.integer({ min: 16, max: 300 }),
      slabSize: fc.integer({ min: 64, max: 4096 }),
    }),
    { nil: undefined },
  );

  it('random bytes only ever end in success or SourceError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), tuning, async (bytes, t) => mustEndCleanly(bytes, t)),
      { numRuns: 200 },
    );
  }, 60_000);

  it('random bytes behind a valid magic only ever end in success or SourceError', async () => {
    const heads = [
      fixture('loopback.pcap').subarray(0, 24),
      fixture('loopback.pcapng').subarray(0, 28),
      fixture('any-sll2.pcap').subarray(0, 24),
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...heads), fc.uint8Array({ maxLength: 3000 }), tuning, async (head, tail, t) => {
        const bytes = new Uint8Array(head.length + tail.length);
        bytes.set(head);
        bytes.set(tail, head.length);
        await mustEndCleanly(bytes, t);
      }),
      { numRuns: 200 },
    );
  }, 60_000);

  it('random edits and cuts of real captures only ever end in success or SourceError', async () => {
    const files = ['loopback.pcap', 'loopback.pcapng', 'any-sll2.pcap'].map(fixture);
    const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...files),
        edits,
        fc.option(fc.nat(), { nil: undefined }),
        tuning,
        async (file, changes, cut, t) => {
          const bytes = file.slice();
          for (const [at, value] of changes) bytes[at % bytes.length] = value;
          await mustEndCleanly(cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length), t);
        },
      ),
      { numRuns: 400 },
    );
  }, 120_000);
});

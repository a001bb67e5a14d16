import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeTraceNotify,
  TraceNotifyFlag,
  TraceObservationPoint,
  TraceReason,
} from '../../src/monitor/datapath/traceNotify.js';
import type { CapturedFrame, MonitorEvent, Timestamp } from '../../src/monitor/types.js';
import { PcapFileSource, type PcapFileTuning } from '../../src/source/pcapFile.js';
import { parseSourceSpec, type SourceSummary } from '../../src/source/source.js';
import { tsharkRecords, type TsharkRecord } from '../harness/tshark.js';
import { CASE_NAMES, makeCaptures, type CaptureCase, type Captures } from './captures.js';

let captures: Captures;
beforeAll(async () => {
  captures = await makeCaptures();
}, 120_000);
afterAll(() => {
  if (captures) rmSync(captures.dir, { recursive: true, force: true });
});

async function replay(
  path: string,
  tuning?: PcapFileTuning,
): Promise<{ events: MonitorEvent[]; summary: SourceSummary }> {
  const source = tuning
    ? new PcapFileSource(path, { nodeName: 'replay-node' }, tuning)
    : parseSourceSpec(`pcap:${path}`, { nodeName: 'replay-node' });
  const events: MonitorEvent[] = [];
  const summary = await source.run((e) => events.push(e), new AbortController().signal);
  return { events, summary };
}

const timeText = (t: Timestamp) => `${t.seconds}.${String(t.nanos).padStart(9, '0')}`;
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const dataOf = (e: MonitorEvent) => {
  if (e.payload.kind !== 'perf') throw new Error(`expected a perf event, got ${e.payload.kind}`);
  return e.payload.data;
};

/** What tshark says each of our events must hold, and what they hold, side by side for one readable diff. */
function compare(c: CaptureCase, events: MonitorEvent[], frames: TsharkRecord[]) {
  const expected: unknown[] = [];
  const actual: unknown[] = [];
  frames.forEach((f, i) => {
    const header = c.linkHeader?.(i) ?? -1;
    const cooked = header >= 0;
    if (cooked && f.ipOffset !== undefined) expect(f.ipOffset, `frame ${f.number}: tshark's IP offset`).toBe(header);
    let ethertype: number | undefined;
    if (cooked) {
      if (f.ipVersion !== undefined) ethertype = f.ipVersion === 4 ? 0x0800 : 0x86dd;
      else if (header === 16) ethertype = (f.raw[14]! << 8) | f.raw[15]!;
      else if (header === 20) ethertype = (f.raw[0]! << 8) | f.raw[1]!;
    }
    const outbound = f.sllPacketType !== undefined ? f.sllPacketType === 4 : f.direction === 2;
    const frameLen = cooked ? f.capLen - header + 14 : f.capLen;
    expected.push({
      frame: f.number,
      // Simple packet blocks carry no time (tshark shows none); ours repeat the last time seen.
      time: f.timeEpoch ?? (events[i] ? timeText(events[i]!.timestamp) : undefined),
      nodeName: 'replay-node',
      obsPoint: outbound ? TraceObservationPoint.TO_NETWORK : TraceObservationPoint.FROM_NETWORK,
      reason: TraceReason.UNKNOWN,
      source: 0,
      version: 0,
      origLen: cooked ? f.len - header + 14 : f.len,
      capLen: Math.min(frameLen, 0xffff),
      // Cooked v2 frames carry the capturing host's ifindex; a named pcapng interface gets its number + 1.
      ifindex:
        header === 20 ? f.sllIfindex : (c.ifindex?.(i) ?? (f.interfaceName !== undefined ? f.interfaceId! + 1 : 0)),
      ipv6: f.ipVersion === 6,
      ethertype,
      bytes: cooked ? hex(f.raw.subarray(header)) : hex(f.raw),
    });
    const e = events[i];
    if (e === undefined) return;
    const data = dataOf(e);
    const tn = decodeTraceNotify(data);
    const frame = data.subarray(tn.payloadOffset);
    actual.push({
      frame: f.number,
      time: timeText(e.timestamp),
      nodeName: e.nodeName,
      obsPoint: tn.obsPoint,
      reason: tn.reason,
      source: tn.source,
      version: tn.version,
      origLen: tn.origLen,
      capLen: tn.capLen,
      ifindex: tn.ifindex,
      ipv6: (tn.flags & TraceNotifyFlag.IS_IPV6) !== 0,
      ethertype: cooked ? (frame[12]! << 8) | frame[13]! : undefined,
      bytes: cooked ? hex(frame.subarray(14)) : hex(frame),
    });
  });
  expect(actual).toEqual(expected);
  expect(events.length, 'events vs tshark frames').toBe(frames.length);
}

describe('pcap/pcapng replay agrees with tshark on every frame', () => {
  it.each(CASE_NAMES)('%s', async (name) => {
    const c = captures.byName(name);
    const [{ events, summary }, records] = await Promise.all([replay(c.path), tsharkRecords(c.path)]);
    const frames = records.filter((f) => f.encapType !== undefined);
    expect(frames.length).toBeGreaterThan(10);
    compare(c, events, frames);
    expect(summary).toMatchObject({ events: frames.length, skipped: 0, aborted: false });
    expect(summary.bytes).toBe(frames.reduce((n, f) => n + f.capLen, 0));
    expect(summary.sliced).toBe(frames.filter((f) => f.len > f.capLen).length);
  });
});

describe('what the captures hold', () => {
  it("tells the link registry the names of a pcapng file's interfaces, under the index their events carry", async () => {
    const path = captures.byName(
      'pcapng, crafted: big-endian, 2^-20 s, if_tsoffset, flags, PB, SPB, unknown blocks',
    ).path;
    const registered: [number, string][] = [];
    const source = parseSourceSpec(`pcap:${path}`, {
      nodeName: 'n',
      links: { register: (i, n) => registered.push([i, n]) },
    });
    await source.run(() => undefined, new AbortController().signal);
    // Interface 0 "lo" (Ethernet) and 2 "any" (SLL); interface 1 is cooked v2, whose frames name their own index.
    expect(registered).toEqual([
      [1, 'lo'],
      [3, 'any'],
    ]);
  });

  it('cooked captures tell frames that left this host from frames that arrived, and v2 names the interface', async () => {
    const { events } = await replay(captures.byName('pcap, LINUX_SLL2 (tcpdump -i any -y LINUX_SLL2)').path);
    const frames = events.map((e) => {
      const data = dataOf(e);
      const tn = decodeTraceNotify(data);
      const frame = data.subarray(tn.payloadOffset);
      const text = Buffer.from(frame.subarray(14 + 20 + 8)).toString();
      return { ...tn, text };
    });
    // The datagrams sent into the namespace (other tests' interfaces may add frames of their own to "any").
    const sent = frames.filter((f) => f.text.startsWith('leaves through the veth'));
    expect(sent.map((f) => [f.obsPoint, f.ifindex])).toEqual([
      [TraceObservationPoint.TO_NETWORK, captures.vethIfindex],
      [TraceObservationPoint.TO_NETWORK, captures.vethIfindex],
    ]);
    const loopback = frames.filter((f) => f.text.startsWith('datagram '));
    expect(loopback.length).toBe(2); // the IPv4 ones: "datagram 1", "datagram 2"
    for (const f of loopback) expect([f.obsPoint, f.ifindex]).toEqual([TraceObservationPoint.FROM_NETWORK, 1]);
  });

  it('reports frames cut short by the snaplen and keeps their wire length', async () => {
    const { events, summary } = await replay(captures.byName('pcap, sliced to 80 bytes (editcap -s 80)').path);
    expect(summary.sliced).toBeGreaterThan(0);
    const big = events.map((e) => decodeTraceNotify(dataOf(e))).find((h) => h.origLen > 1000);
    expect(big).toMatchObject({ capLen: 80 });
  });
});

describe('chunk boundaries', () => {
  const tunings: PcapFileTuning[] = [
    { chunkSize: 61, carry: 16, slabSize: 200 },
    { chunkSize: 1000, carry: 100, slabSize: 4096 },
    { chunkSize: 70_000, carry: 16 },
  ];
  const files = [
    'pcap, microseconds, little-endian (tcpdump -i lo)',
    'pcapng, crafted: big-endian, 2^-20 s, if_tsoffset, flags, PB, SPB, unknown blocks',
    'pcapng, two sections (eth.pcapng + sll.pcapng)',
  ];
  it.each(files.flatMap((f) => tunings.map((t) => [f, t] as const)))(
    '%s read in chunks of %o gives the same events',
    async (name, tuning) => {
      const path = captures.byName(name).path;
      const whole = await replay(path);
      const chunked = await replay(path, tuning);
      const view = (events: MonitorEvent[]) => events.map((e) => `${timeText(e.timestamp)} ${hex(dataOf(e))}`);
      expect(chunked.summary).toEqual(whole.summary);
      expect(view(chunked.events)).toEqual(view(whole.events));
    },
  );
});

describe('capture frames handed over as frames', () => {
  /** A target like the monitor agent with one consumer of each kind: it takes every Ethernet frame as a frame. */
  async function replayAsFrames(path: string, tuning?: PcapFileTuning) {
    const events: MonitorEvent[] = [];
    const frames: string[] = [];
    const source = new PcapFileSource(path, { nodeName: 'replay-node' }, tuning);
    const summary = await source.run(
      {
        publish: (e) => void events.push(e),
        publishFrame(frame: CapturedFrame) {
          frames.push(hex(frame.bytes.subarray(frame.start, frame.start + frame.capLen)));
          events.push(frame.event());
          // Asked twice, the same event.
          expect(frame.event()).toBe(events[events.length - 1]);
        },
      },
      new AbortController().signal,
    );
    return { events, frames, summary };
  }

  it.each([
    'pcap, microseconds, little-endian (tcpdump -i lo)',
    'pcapng, Ethernet and LINUX_SLL2 interfaces (mergecap)',
    'pcapng, crafted: big-endian, 2^-20 s, if_tsoffset, flags, PB, SPB, unknown blocks',
    'pcap, LINUX_SLL (tcpdump -i any)',
  ])('%s: the frames and their events are what publish gets', async (name) => {
    const path = captures.byName(name).path;
    const plain = await replay(path);
    const framed = await replayAsFrames(path, { chunkSize: 1000, carry: 100, slabSize: 4096 });
    const view = (events: MonitorEvent[]) => events.map((e) => `${timeText(e.timestamp)} ${hex(dataOf(e))}`);
    expect(framed.summary).toEqual(plain.summary);
    expect(view(framed.events)).toEqual(view(plain.events));
    // Only Ethernet frames come as frames, each exactly its event's frame (behind the 32-byte TraceNotify).
    const eventFrames = plain.events.map((e) => hex(dataOf(e).subarray(32)));
    if (name.startsWith('pcap, LINUX_SLL')) expect(framed.frames).toEqual([]);
    else if (name.startsWith('pcap, ')) expect(framed.frames).toEqual(eventFrames);
    else {
      expect(framed.frames.length).toBeGreaterThan(0);
      expect(framed.frames.length).toBeLessThan(eventFrames.length);
      for (const f of framed.frames) expect(eventFrames).toContain(f);
    }
  });
});

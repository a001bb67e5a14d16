import { existsSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeDebugCapture } from '../../src/monitor/datapath/debugCapture.js';
import { encodeDropNotify } from '../../src/monitor/datapath/dropNotify.js';
import { encodePolicyVerdictNotify, PolicyVerdictFlag } from '../../src/monitor/datapath/policyVerdict.js';
import { encodeRecorderCapture } from '../../src/monitor/datapath/recorderCapture.js';
import { encodeTraceNotify, TraceNotifyFlag } from '../../src/monitor/datapath/traceNotify.js';
import { MonitorAgent } from '../../src/monitor/agent.js';
import type { MonitorEvent } from '../../src/monitor/types.js';
import { SinkDispatcher } from '../../src/sink/dispatcher.js';
import type { RecordingStatistics, SinkEnd } from '../../src/sink/types.js';
import { ethernet, ipv4, ipv6, ipv6Extension, icmp, sctp, sctpChunk, tcp, udp, arp } from '../harness/frames.js';
import { readPcap } from '../harness/pcapFiles.js';
import {
  frameEvent,
  judgePcap,
  perfEvent,
  sinkOptions,
  tempDir,
  tsharkSelects,
  validPcap,
  withTmpfs,
} from './recording.js';

const dir = tempDir('dispatch');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const payload = (n: number) => new Uint8Array(n).map((_, i) => i & 0xff);

function tcp4(src: string, sport: number, dst: string, dport: number, bytes = 10): Uint8Array {
  return ethernet(
    { type: 0x0800 },
    ipv4({ src, dst, protocol: 6 }, tcp({ sport, dport, flags: 0x18 }, payload(bytes))),
  );
}
function udp4(src: string, sport: number, dst: string, dport: number, bytes = 10): Uint8Array {
  return ethernet({ type: 0x0800 }, ipv4({ src, dst, protocol: 17 }, udp(sport, dport, payload(bytes))));
}
function sctp4(src: string, sport: number, dst: string, dport: number): Uint8Array {
  return ethernet({ type: 0x0800 }, ipv4({ src, dst, protocol: 132 }, sctp(sport, dport, sctpChunk(1, payload(16)))));
}
function icmp4(src: string, dst: string): Uint8Array {
  return ethernet({ type: 0x0800 }, ipv4({ src, dst, protocol: 1 }, icmp(8, 0, 1, 1, payload(8))));
}
function tcp6(src: string, sport: number, dst: string, dport: number, bytes = 10): Uint8Array {
  return ethernet({ type: 0x86dd }, ipv6({ src, dst, next: 6 }, tcp({ sport, dport, flags: 0x18 }, payload(bytes))));
}

/** Runs one recording over `events`, stops it, and returns how it ended and what its file holds. */
async function record(
  filters: string[],
  events: MonitorEvent[],
  overrides: Parameters<typeof sinkOptions>[2] = {},
): Promise<{ end: SinkEnd; path: string; frames: Uint8Array[] }> {
  const dispatcher = new SinkDispatcher();
  const sink = await dispatcher.startSink(sinkOptions(dir, filters, overrides));
  for (const event of events) dispatcher.onMonitorEvent(event);
  const end = await sink.stop();
  return { end, path: sink.path, frames: readPcap(sink.path).records.map((r) => r.data) };
}

describe('SinkDispatcher: which packets a recording takes', () => {
  const cases: { name: string; filter: string; frame: Uint8Array; matches: boolean }[] = [
    {
      name: 'TCP to the port, from the prefix',
      filter: '10.0.0.0/8 0 0.0.0.0/0 80 TCP',
      frame: tcp4('10.1.2.3', 1234, '192.168.1.1', 80),
      matches: true,
    },
    {
      name: 'TCP to another port',
      filter: '10.0.0.0/8 0 0.0.0.0/0 80 TCP',
      frame: tcp4('10.1.2.3', 1234, '192.168.1.1', 443),
      matches: false,
    },
    {
      name: 'TCP from outside the prefix',
      filter: '10.0.0.0/8 0 0.0.0.0/0 80 TCP',
      frame: tcp4('11.1.2.3', 1234, '192.168.1.1', 80),
      matches: false,
    },
    {
      name: 'UDP where TCP is asked for',
      filter: '10.0.0.0/8 0 0.0.0.0/0 80 TCP',
      frame: udp4('10.1.2.3', 1234, '192.168.1.1', 80),
      matches: false,
    },
    {
      name: 'the reply direction (filters are one-way, as upstream)',
      filter: '10.0.0.1/32 0 10.0.0.2/32 0 ANY',
      frame: tcp4('10.0.0.2', 80, '10.0.0.1', 1234),
      matches: false,
    },
    {
      name: 'UDP to port 53',
      filter: '0.0.0.0/0 0 0.0.0.0/0 53 UDP',
      frame: udp4('10.0.0.1', 5353, '10.0.0.53', 53),
      matches: true,
    },
    {
      name: 'SCTP, any port',
      filter: '0.0.0.0/0 0 0.0.0.0/0 0 SCTP',
      frame: sctp4('10.0.0.1', 3868, '10.0.0.2', 3868),
      matches: true,
    },
    {
      name: 'TCP where SCTP is asked for',
      filter: '0.0.0.0/0 0 0.0.0.0/0 0 SCTP',
      frame: tcp4('10.0.0.1', 3868, '10.0.0.2', 3868),
      matches: false,
    },
    {
      name: 'ANY protocol with a source port: UDP',
      filter: '0.0.0.0/0 5000 0.0.0.0/0 0 ANY',
      frame: udp4('10.0.0.1', 5000, '10.0.0.2', 9),
      matches: true,
    },
    {
      name: 'ANY protocol with a source port: TCP',
      filter: '0.0.0.0/0 5000 0.0.0.0/0 0 ANY',
      frame: tcp4('10.0.0.1', 5000, '10.0.0.2', 9),
      matches: true,
    },
    {
      name: 'ANY protocol with a port: ICMP has none',
      filter: '0.0.0.0/0 5000 0.0.0.0/0 0 ANY',
      frame: icmp4('10.0.0.1', '10.0.0.2'),
      matches: false,
    },
    {
      name: 'ANY protocol, any port: ICMP',
      filter: '0.0.0.0/0 0 0.0.0.0/0 0 ANY',
      frame: icmp4('10.0.0.1', '10.0.0.2'),
      matches: true,
    },
    {
      name: 'ANY protocol, any port: ARP is not IP',
      filter: '0.0.0.0/0 0 0.0.0.0/0 0 ANY',
      frame: ethernet({ type: 0x0806 }, arp(1, '020000000001', '10.0.0.1', '000000000000', '10.0.0.2')),
      matches: false,
    },
    {
      name: 'an IPv4 filter and an IPv6 packet',
      filter: '0.0.0.0/0 0 0.0.0.0/0 0 ANY',
      frame: tcp6('fd00::1', 1, 'fd00::2', 2),
      matches: false,
    },
    {
      name: 'an IPv6 filter and an IPv4 packet',
      filter: '::/0 0 ::/0 0 ANY',
      frame: tcp4('10.0.0.1', 1, '10.0.0.2', 2),
      matches: false,
    },
    {
      name: 'IPv6 TCP to 443 from the prefix',
      filter: 'fd00::/16 0 ::/0 443 TCP',
      frame: tcp6('fd00:1::5', 40000, '2001:db8::1', 443),
      matches: true,
    },
    {
      name: 'IPv6 from outside a /127',
      filter: 'fd00::2/127 0 ::/0 0 ANY',
      frame: tcp6('fd00::4', 1, '2001:db8::1', 2),
      matches: false,
    },
    {
      name: 'IPv6 inside a /127',
      filter: 'fd00::2/127 0 ::/0 0 ANY',
      frame: tcp6('fd00::3', 1, '2001:db8::1', 2),
      matches: true,
    },
    {
      name: 'IPv6 with a hop-by-hop header before TCP',
      filter: '::/0 0 ::/0 80 TCP',
      frame: ethernet(
        { type: 0x86dd },
        ipv6(
          { src: 'fd00::1', dst: 'fd00::2', next: 0 },
          new Uint8Array([...ipv6Extension(6), ...tcp({ sport: 1, dport: 80, flags: 2 })]),
        ),
      ),
      matches: true,
    },
    {
      name: 'a later IPv4 fragment of TCP has no ports for a port filter',
      filter: '0.0.0.0/0 0 0.0.0.0/0 80 TCP',
      frame: ethernet(
        { type: 0x0800 },
        ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, fragmentOffset: 1480 }, payload(40)),
      ),
      matches: false,
    },
    {
      name: 'a later IPv4 fragment of TCP is still TCP',
      filter: '0.0.0.0/0 0 0.0.0.0/0 0 TCP',
      frame: ethernet(
        { type: 0x0800 },
        ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, fragmentOffset: 1480 }, payload(40)),
      ),
      matches: true,
    },
    {
      name: 'a VLAN-tagged frame',
      filter: '10.0.0.0/8 0 10.0.0.0/8 80 TCP',
      frame: ethernet(
        { type: 0x0800, vlans: [[0x8100, 7]] },
        ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 }, tcp({ sport: 1, dport: 80, flags: 2 })),
      ),
      matches: true,
    },
  ];
  it.each(cases)('$name: $matches', async ({ filter, frame, matches }) => {
    const { frames, end } = await record([filter], [frameEvent(frame)]);
    expect(end.reason).toBe('stopped');
    expect(frames).toEqual(matches ? [frame] : []);
  });

  it('takes a packet once however many of its filters match, and each matching recording takes it', async () => {
    const dispatcher = new SinkDispatcher();
    const both = await dispatcher.startSink(
      sinkOptions(dir, ['10.0.0.0/8 0 0.0.0.0/0 0 ANY', '0.0.0.0/0 0 0.0.0.0/0 80 TCP']),
    );
    const other = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 10.0.0.2/32 80 TCP']));
    const none = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 10.0.0.3/32 80 TCP']));
    dispatcher.onMonitorEvent(frameEvent(tcp4('10.0.0.1', 1, '10.0.0.2', 80)));
    const ends = await dispatcher.stopAll('shutdown');
    expect(ends.map((e) => [e.reason, e.statistics.packetsCaptured])).toEqual([
      ['shutdown', 1],
      ['shutdown', 1],
      ['shutdown', 0],
    ]);
    for (const sink of [both, other, none]) expect(await validPcap(sink.path)).toBe(sink === none ? 0 : 1);
  });
});

describe('SinkDispatcher without recordings', () => {
  it('does not even look at an event', () => {
    const dispatcher = new SinkDispatcher();
    const event = frameEvent(tcp4('10.0.0.1', 1, '10.0.0.2', 2));
    Object.defineProperty(event, 'payload', {
      get: () => {
        throw new Error('the payload was read');
      },
    });
    expect(() => dispatcher.onMonitorEvent(event)).not.toThrow();
  });
});

describe('SinkDispatcher: events that carry packets', () => {
  const frame = tcp4('10.0.0.1', 1000, '10.0.0.2', 80, 100);
  const ip = frame.subarray(14);
  const filter = '10.0.0.0/8 0 10.0.0.0/8 80 TCP';
  const cases: { name: string; event: MonitorEvent; expected: Uint8Array | undefined }[] = [
    { name: 'a capture source trace', event: frameEvent(frame), expected: frame },
    {
      name: 'a trace v2',
      event: perfEvent(encodeTraceNotify({ obsPoint: 0, origLen: frame.length, ipTraceId: 5n }, frame)),
      expected: frame,
    },
    {
      name: 'a drop v3',
      event: perfEvent(encodeDropNotify({ subType: 133, origLen: frame.length }, frame)),
      expected: frame,
    },
    {
      name: 'a drop v1',
      event: perfEvent(encodeDropNotify({ subType: 133, version: 1, origLen: frame.length }, frame)),
      expected: frame,
    },
    {
      name: 'a policy verdict',
      event: perfEvent(encodePolicyVerdictNotify({ origLen: frame.length }, frame)),
      expected: frame,
    },
    {
      name: 'a debug capture',
      event: perfEvent(encodeDebugCapture({ subType: 4, origLen: frame.length }, frame)),
      expected: frame,
    },
    {
      name: 'a trace from an L3 device (no Ethernet header: one is added)',
      event: perfEvent(encodeTraceNotify({ obsPoint: 3, origLen: ip.length, flags: TraceNotifyFlag.IS_L3_DEVICE }, ip)),
      expected: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, ...ip]),
    },
    {
      name: 'a drop from an L3 device',
      event: perfEvent(encodeDropNotify({ subType: 133, origLen: ip.length, flags: 2 }, ip)),
      expected: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, ...ip]),
    },
    {
      name: 'a trace-sock event (no packet)',
      event: perfEvent(new Uint8Array([7, ...new Uint8Array(60)])),
      expected: undefined,
    },
    {
      name: 'a debug message (no packet)',
      event: perfEvent(new Uint8Array([2, ...new Uint8Array(30)])),
      expected: undefined,
    },
    {
      name: 'an agent event',
      event: { timestamp: { seconds: 1, nanos: 0 }, nodeName: 'n', payload: { kind: 'agent', type: 1, message: '{}' } },
      expected: undefined,
    },
    {
      name: 'a lost event',
      event: {
        timestamp: { seconds: 1, nanos: 0 },
        nodeName: 'n',
        payload: { kind: 'lost', source: 1, numLost: 3, cpu: 0 },
      },
      expected: undefined,
    },
    { name: 'a truncated trace header', event: perfEvent(new Uint8Array(20).fill(4)), expected: undefined },
  ];
  it.each(cases)('$name', async ({ event, expected }) => {
    const { frames } = await record([filter], [event]);
    expect(frames).toEqual(expected === undefined ? [] : [expected]);
  });

  it('records an IPv6 policy verdict of an L3 device with an IPv6 Ethernet header', async () => {
    const ip6 = tcp6('fd00::1', 1000, 'fd00::2', 443).subarray(14);
    const flags = PolicyVerdictFlag.IS_IPV6 | PolicyVerdictFlag.IS_L3;
    const { path, frames } = await record(
      ['fd00::/16 0 fd00::/16 443 TCP'],
      [perfEvent(encodePolicyVerdictNotify({ flags, origLen: ip6.length }, ip6))],
    );
    expect(frames).toEqual([new Uint8Array([...new Uint8Array(12), 0x86, 0xdd, ...ip6])]);
    expect(await tsharkSelects(path, 'ipv6.src == fd00::1 && tcp.dstport == 443')).toEqual([1]);
    expect((await judgePcap(path)).lens).toEqual([ip6.length + 14]);
  });

  it('sends recorder captures straight to the recording of their rule id, without filters', async () => {
    const dispatcher = new SinkDispatcher();
    const target = await dispatcher.startSink(
      sinkOptions(dir, ['192.168.0.0/16 0 192.168.0.0/16 0 ANY'], { ruleId: 4242 }),
    );
    const bystander = await dispatcher.startSink(sinkOptions(dir, [filter]));
    dispatcher.onMonitorEvent(perfEvent(encodeRecorderCapture({ ruleID: 4242, len: 1500 }, frame)));
    dispatcher.onMonitorEvent(perfEvent(encodeRecorderCapture({ ruleID: 999 }, frame)));
    // Bytes the perf ring may leave after the capture are not part of it.
    const withTrailer = new Uint8Array([...encodeRecorderCapture({ ruleID: 4242 }, frame), 0xde, 0xad]);
    dispatcher.onMonitorEvent(perfEvent(withTrailer));
    await dispatcher.stopAll('shutdown');
    const records = readPcap(target.path).records;
    expect(records.map((r) => [r.data.length, r.origLen])).toEqual([
      [frame.length, 1500],
      [frame.length, frame.length],
    ]);
    expect(records[0]!.data).toEqual(frame);
    expect(readPcap(bystander.path).records).toEqual([]);
  });

  it('stamps records with the event time, to the microsecond', async () => {
    const { path } = await record(
      [filter],
      [frameEvent(frame, 1_712_345_678, 987_654_321), frameEvent(frame, 1_712_345_679, 1_000)],
    );
    expect((await judgePcap(path)).times).toEqual(['1712345678.987654000', '1712345679.000001000']);
  });
});

describe('Sink: lengths, limits and statistics', () => {
  const frames = Array.from({ length: 150 }, (_, i) => tcp4('10.0.0.1', 1000 + i, '10.0.0.2', 80, 20 + (i % 50)));

  it('cuts packets to the max capture length and keeps their wire length; tshark agrees', async () => {
    const { path, end } = await record(
      ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'],
      frames.map((f) => frameEvent(f, 1, 0, f.length + 1000)),
      { maxCaptureLength: 64 },
    );
    const verdict = await judgePcap(path);
    expect(verdict.packets).toBe(150);
    expect(verdict.capLens).toEqual(frames.map((f) => Math.min(64, f.length)));
    expect(verdict.lens).toEqual(frames.map((f) => f.length + 1000));
    expect(readPcap(path).snaplen).toBe(64);
    expect(end.statistics).toEqual({
      packetsCaptured: 150,
      bytesCaptured: verdict.capLens.reduce((a, b) => a + b),
      packetsLost: 0,
      bytesLost: 0,
    });
  });

  it('stops at a packet limit of 100 with exactly 100 packets in the file', async () => {
    const { path, end } = await record(
      ['0.0.0.0/0 0 0.0.0.0/0 80 TCP'],
      frames.map((f) => frameEvent(f)),
      { stop: { packets: 100, bytes: 0, durationMs: 0 } },
    );
    expect(end.reason).toBe('packet-limit');
    expect(end.statistics.packetsCaptured).toBe(100);
    const verdict = await judgePcap(path);
    expect(verdict.packets).toBe(100);
    // The first 100, in order.
    expect(await tsharkSelects(path, 'tcp.srcport == 1099')).toEqual([100]);
  });

  it('stops at a byte limit counting captured bytes, the packet that reaches it included (as upstream)', async () => {
    const limit = 1000;
    const { path, end } = await record(
      ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'],
      frames.map((f) => frameEvent(f)),
      { stop: { packets: 0, bytes: limit, durationMs: 0 }, maxCaptureLength: 60 },
    );
    const verdict = await judgePcap(path);
    const total = verdict.capLens.reduce((a, b) => a + b);
    expect(end.reason).toBe('byte-limit');
    expect(total).toBeGreaterThanOrEqual(limit);
    expect(total - verdict.capLens.at(-1)!).toBeLessThan(limit);
    expect(end.statistics).toMatchObject({ packetsCaptured: verdict.packets, bytesCaptured: total });
  });

  it('stops at whichever limit comes first', async () => {
    const { end } = await record(
      ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'],
      frames.map((f) => frameEvent(f)),
      { stop: { packets: 10, bytes: 100_000, durationMs: 60_000 } },
    );
    expect(end).toMatchObject({ reason: 'packet-limit', statistics: { packetsCaptured: 10 } });
  });

  it('stops at a time limit with what came before it', async () => {
    const dispatcher = new SinkDispatcher();
    const sink = await dispatcher.startSink(
      sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], { stop: { packets: 0, bytes: 0, durationMs: 150 } }),
    );
    for (const f of frames.slice(0, 5)) dispatcher.onMonitorEvent(frameEvent(f));
    const started = performance.now();
    const end = await sink.ended;
    const after = performance.now() - started;
    for (const f of frames.slice(5)) dispatcher.onMonitorEvent(frameEvent(f));
    expect(end).toMatchObject({ reason: 'time-limit', statistics: { packetsCaptured: 5 } });
    expect(after).toBeGreaterThan(100);
    expect(after).toBeLessThan(1000);
    expect(dispatcher.sinks.size).toBe(0);
    expect(await validPcap(sink.path)).toBe(5);
  });

  it('drops and counts packets when the queue is full, and another recording gets them all', async () => {
    const dispatcher = new SinkDispatcher();
    const small = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], { queueSize: 8 }));
    const big = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], { queueSize: 1024 }));
    // All in one go, as a capture source publishes a burst: the small queue has no chance to drain.
    for (const f of frames) dispatcher.onMonitorEvent(frameEvent(f));
    const [smallEnd, bigEnd] = await dispatcher.stopAll('shutdown');
    const lostBytes = frames.slice(8).reduce((n, f) => n + f.length, 0);
    expect(smallEnd!.statistics).toEqual({
      packetsCaptured: 8,
      bytesCaptured: frames.slice(0, 8).reduce((n, f) => n + f.length, 0),
      packetsLost: 142,
      bytesLost: lostBytes,
    });
    expect(bigEnd!.statistics).toMatchObject({ packetsCaptured: 150, packetsLost: 0 });
    expect(await validPcap(small.path)).toBe(8);
    expect(await validPcap(big.path)).toBe(150);
  });

  it('coalesces statistics updates while they change, and ends with the final ones', async () => {
    const updates: { at: number; statistics: RecordingStatistics }[] = [];
    const dispatcher = new SinkDispatcher({ tuning: { statisticsIntervalMs: 100 } });
    const sink = await dispatcher.startSink(
      sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], {
        onStatistics: (statistics) => updates.push({ at: performance.now(), statistics }),
      }),
    );
    const started = performance.now();
    let sent = 0;
    while (performance.now() - started < 600) {
      for (let i = 0; i < 20; i++, sent++) dispatcher.onMonitorEvent(frameEvent(frames[sent % frames.length]!));
      await new Promise((r) => setTimeout(r, 5));
    }
    const end = await sink.stop();
    expect(updates.length).toBeGreaterThanOrEqual(3);
    expect(updates.length).toBeLessThanOrEqual(9);
    for (let i = 1; i < updates.length - 1; i++) expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(95);
    expect(updates.at(-1)!.statistics).toEqual(end.statistics);
    expect(end.statistics.packetsCaptured).toBe(sent);
  });

  it('tells followers how far the file is written; the last size is the file', async () => {
    const dispatcher = new SinkDispatcher({ tuning: { writer: { flushDelayMs: 1 } } });
    const sink = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY']));
    const sizes: number[] = [];
    sink.onFileGrowth((size) => sizes.push(size));
    expect(sink.fileSize).toBe(24);
    for (const f of frames.slice(0, 3)) {
      dispatcher.onMonitorEvent(frameEvent(f));
      await new Promise((r) => setTimeout(r, 20));
    }
    await sink.stop();
    expect(sizes).toHaveLength(3);
    expect(sizes.at(-1)).toBe(statSync(sink.path).size);
    expect(sink.fileSize).toBe(statSync(sink.path).size);
  });
});

describe('Sink: failures stay with their recording', () => {
  const frame = tcp4('10.0.0.1', 1000, '10.0.0.2', 80, 900);

  it('fills a small disk: that recording ends with a clear error and a valid file, the other carries on', async () => {
    await withTmpfs('64k', async (mnt) => {
      const dispatcher = new SinkDispatcher();
      const doomed = await dispatcher.startSink(sinkOptions(mnt, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY']));
      const fine = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY']));
      for (let i = 0; i < 200; i++) {
        dispatcher.onMonitorEvent(frameEvent(frame, 1, i));
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2));
      }
      const end = await doomed.ended;
      expect(end.reason).toBe('error');
      expect(end.error).toMatchObject({ code: 'DISK_FULL', message: `disk full while writing ${doomed.path}: ENOSPC` });
      expect(await validPcap(doomed.path)).toBe(end.statistics.packetsCaptured);
      expect(end.statistics.packetsCaptured + end.statistics.packetsLost).toBeLessThanOrEqual(200);
      expect(dispatcher.sinks.has(doomed.ruleId)).toBe(false);
      const fineEnd = await fine.stop();
      expect(fineEnd).toMatchObject({ reason: 'stopped', statistics: { packetsCaptured: 200, packetsLost: 0 } });
      expect(await validPcap(fine.path)).toBe(200);
    });
  });

  it('ends a recording whose file is removed, and no other', async () => {
    const dispatcher = new SinkDispatcher({ tuning: { writer: { identityCheckMs: 0, flushDelayMs: 1 } } });
    const victim = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY']));
    const other = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY']));
    dispatcher.onMonitorEvent(frameEvent(frame));
    await new Promise((r) => setTimeout(r, 20));
    unlinkSync(victim.path);
    for (let i = 0; i < 5; i++) {
      dispatcher.onMonitorEvent(frameEvent(frame));
      await new Promise((r) => setTimeout(r, 10));
    }
    const end = await victim.ended;
    expect(end).toMatchObject({ reason: 'error', error: { code: 'FILE_REMOVED' } });
    expect(end.error!.message).toContain(victim.path);
    expect(await other.stop()).toMatchObject({ reason: 'stopped', statistics: { packetsCaptured: 6 } });
  });

  it('flushes everything queued when stopped under heavy load', async () => {
    const dispatcher = new SinkDispatcher();
    const sink = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 80 TCP'], { queueSize: 4096 }));
    let offered = 0;
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 2000; i++, offered++)
        dispatcher.onMonitorEvent(frameEvent(tcp4('10.0.0.1', i, '10.0.0.2', 80, i % 200)));
      await new Promise((r) => setImmediate(r));
    }
    // Stop right after a burst, with the queue full.
    for (let i = 0; i < 3000; i++, offered++)
      dispatcher.onMonitorEvent(frameEvent(tcp4('10.0.0.1', i, '10.0.0.2', 80, 64)));
    const end = await sink.stop();
    expect(end.statistics.packetsCaptured + end.statistics.packetsLost).toBe(offered);
    expect(end.statistics.packetsCaptured).toBeGreaterThan(20_000);
    const verdict = await judgePcap(sink.path);
    expect(verdict.packets).toBe(end.statistics.packetsCaptured);
    expect(verdict.capLens.reduce((a, b) => a + b)).toBe(end.statistics.bytesCaptured);
  });

  it('stops ten concurrent recordings together, leaving ten valid files', async () => {
    const agent = new MonitorAgent();
    const dispatcher = new SinkDispatcher();
    agent.register(dispatcher);
    const sinks = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        dispatcher.startSink(sinkOptions(dir, [`10.0.0.${i}/32 0 0.0.0.0/0 0 ANY`, '0.0.0.0/0 0 0.0.0.0/0 9999 UDP'])),
      ),
    );
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 10; i++) agent.publish(frameEvent(udp4(`10.0.0.${i}`, 1, '10.0.1.1', 53, 300)));
      agent.publish(frameEvent(udp4('10.9.9.9', 1, '10.0.1.1', 9999, 30)));
    }
    const ends = await dispatcher.stopAll('shutdown');
    expect(ends).toHaveLength(10);
    for (const [i, end] of ends.entries()) {
      expect(end).toMatchObject({ reason: 'shutdown', statistics: { packetsCaptured: 100, packetsLost: 0 } });
      expect(await validPcap(sinks[i]!.path)).toBe(100);
    }
    expect(dispatcher.sinks.size).toBe(0);
  });
});

describe('SinkDispatcher.startSink', () => {
  it('rejects a file that exists, a missing directory, a rule id in use, and starts after shutdown, each saying why', async () => {
    const dispatcher = new SinkDispatcher();
    const taken = join(dir, 'taken.pcap');
    writeFileSync(taken, 'x');
    await expect(
      dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], { path: taken })),
    ).rejects.toThrow(`${taken} already exists`);
    await expect(
      dispatcher.startSink(sinkOptions(join(dir, 'missing'), ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'])),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const first = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], { ruleId: 77 }));
    const second = sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], { ruleId: 77 });
    await expect(dispatcher.startSink(second)).rejects.toThrow('rule id 77 belongs to a running recording');
    expect(existsSync(second.path)).toBe(false);
    await expect(dispatcher.startSink(sinkOptions(dir, [], { queueSize: 0 }))).rejects.toMatchObject({
      code: 'BAD_OPTIONS',
    });
    expect(dispatcher.sinks.get(77)).toBe(first);
    await dispatcher.stopAll('shutdown');
    await expect(dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY']))).rejects.toThrow(
      'shutting down',
    );
  });

  it('stop() resolves with the same end as `ended`, however often it is called', async () => {
    const dispatcher = new SinkDispatcher();
    const sink = await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY']));
    const [a, b] = await Promise.all([sink.stop(), sink.stop('shutdown')]);
    expect(a).toBe(b);
    expect(await sink.ended).toBe(a);
    expect(a.reason).toBe('stopped');
  });
});

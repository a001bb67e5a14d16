import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MonitorAgent } from '../../src/monitor/agent.js';
import { TRACE_NOTIFY_V0_LEN } from '../../src/monitor/datapath/traceNotify.js';
import type { MonitorEvent } from '../../src/monitor/types.js';
import { Observer } from '../../src/observer/observer.js';
import { Parser } from '../../src/observer/parser/index.js';
import { SinkDispatcher } from '../../src/sink/dispatcher.js';
import { PcapFileSource } from '../../src/source/pcapFile.js';
import { captureWhile, ping, tcpExchange, udpBurst } from '../harness/capture.js';
import { readPcap, writePcap } from '../harness/pcapFiles.js';
import { ethernet, ipv4, udp } from '../harness/frames.js';
import { judgePcap, sinkOptions, tempDir, tsharkSelects, validPcap } from './recording.js';

const dir = tempDir('replay');

/** The frame a capture source's event carries behind its TraceNotify header, as hex. */
function frameOf(event: MonitorEvent): string {
  if (event.payload.kind !== 'perf') throw new Error(`a ${event.payload.kind} event`);
  return Buffer.from(event.payload.data.subarray(TRACE_NOTIFY_V0_LEN)).toString('hex');
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
}
let capture = '';
let serverPort = 0;

beforeAll(async () => {
  capture = await captureWhile('host 127.0.0.1', async () => {
    ({ serverPort } = await tcpExchange(30));
    await udpBurst(20, 9);
    await ping('127.0.0.1', 3);
  });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('recording a real tcpdump capture replayed through the pipeline', () => {
  /**
   * How a replay reaches the recordings: as events through a plain function, or as `hubble-ts serve` runs it (the
   * agent itself, so the recordings take the frames as they lie in the file), alone or beside an Observer and a
   * raw-event listener, which get the frames' events.
   */
  const ways = ['as events', 'as frames', 'as frames, with an Observer and a listener'] as const;

  it.each(ways)('holds exactly the frames tshark selects with the equivalent filter (%s)', async (way) => {
    const agent = new MonitorAgent();
    const dispatcher = new SinkDispatcher();
    agent.register(dispatcher);
    const observer = new Observer({
      parser: new Parser({ nodeName: 'test', clusterName: 'default', emitter: { name: 'hubble-ts', version: 'test' } }),
      ringCapacity: 4095,
      clusterName: 'default',
    });
    const listened: string[] = [];
    if (way === 'as frames, with an Observer and a listener') {
      agent.register(observer);
      agent.addListener({ deliver: (e) => void listened.push(frameOf(e)) }, { queueSize: 1 << 16 });
    }
    const recordings = [
      {
        filters: [`127.0.0.1/32 0 127.0.0.1/32 ${serverPort} TCP`],
        display: `ip.dst == 127.0.0.1 && tcp.dstport == ${serverPort}`,
      },
      { filters: ['127.0.0.0/8 0 127.0.0.0/8 9 UDP'], display: 'udp.dstport == 9 && !icmp' },
      // ICMP (echo, and the port unreachables the UDP burst draws) and everything else: ANY, cut to 64 bytes.
      { filters: ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], display: 'ip', maxCaptureLength: 64 },
    ];
    const sinks = [];
    for (const r of recordings) {
      sinks.push(
        await dispatcher.startSink(sinkOptions(dir, r.filters, { maxCaptureLength: r.maxCaptureLength ?? 0 })),
      );
    }
    const summary = await new PcapFileSource(capture, { nodeName: 'test' }).run(
      way === 'as events' ? (e) => agent.publish(e) : agent,
      new AbortController().signal,
      () => agent.backlog(),
    );
    const ends = await dispatcher.stopAll('shutdown');
    const original = readPcap(capture).records;
    expect(summary.events).toBe(original.length);

    for (const [i, r] of recordings.entries()) {
      const selected = await tsharkSelects(capture, r.display);
      expect(selected.length).toBeGreaterThan(0);
      const ours = readPcap(sinks[i]!.path);
      expect(ours.snaplen).toBe(r.maxCaptureLength ?? 262144);
      const cut = r.maxCaptureLength ?? Infinity;
      expect(ours.records.map((x) => [x.seconds, x.fraction, x.origLen, Array.from(x.data)])).toEqual(
        selected.map((n) => {
          const o = original[n - 1]!;
          return [o.seconds, o.fraction, o.origLen, Array.from(o.data.subarray(0, cut))];
        }),
      );
      expect(ends[i]!.statistics).toEqual({
        packetsCaptured: selected.length,
        bytesCaptured: ours.records.reduce((n, x) => n + x.data.length, 0),
        packetsLost: 0,
        bytesLost: 0,
      });
    }
    const cutShort = await judgePcap(sinks[2]!.path);
    expect(Math.max(...cutShort.capLens)).toBeLessThanOrEqual(64);
    expect(cutShort.lens.some((len) => len > 64)).toBe(true);

    if (way === 'as frames, with an Observer and a listener') {
      // The others still see every packet, each as the event of its frame.
      expect(observer.seenFlows).toBe(original.length);
      expect(observer.decodeErrors).toBe(0);
      await until(() => listened.length === original.length);
      expect(listened).toEqual(original.map((o) => Buffer.from(o.data).toString('hex')));
    }
  });

  it.each(ways.slice(0, 2))(
    'loses nothing with the default queue when a large file replays as fast as it reads (%s)',
    async (way) => {
      // 50,000 UDP frames (about 5 MB): far more than one sink queue of 1024 records holds at once, so this only
      // passes if the replay waits for the sink's writes instead of publishing the file faster than it is written.
      const frame = ethernet(
        { type: 0x0800 },
        ipv4({ src: '10.1.0.1', dst: '10.1.0.2', protocol: 17 }, udp(5000, 6000, new Uint8Array(48))),
      );
      const records = Array.from({ length: 50_000 }, (_, i) => ({
        seconds: 1_700_000_000 + Math.floor(i / 1000),
        fraction: i % 1000,
        data: frame,
      }));
      const input = join(dir, 'large-replay.pcap');
      writeFileSync(input, writePcap(records, { linkType: 1 }));
      const agent = new MonitorAgent();
      const dispatcher = new SinkDispatcher();
      agent.register(dispatcher);
      const sink = await dispatcher.startSink(sinkOptions(dir, ['10.1.0.0/16 0 10.1.0.2/32 6000 UDP']));
      expect(sink.path).not.toBe(input);
      await new PcapFileSource(input, { nodeName: 'test' }).run(
        way === 'as events' ? (e) => agent.publish(e) : agent,
        new AbortController().signal,
        () => agent.backlog(),
      );
      const [end] = await dispatcher.stopAll('shutdown');
      expect(end!.statistics).toMatchObject({ packetsCaptured: 50_000, packetsLost: 0 });
      expect(await validPcap(sink.path)).toBe(50_000);
    },
  );

  it('loses nothing with a queue far smaller than a chunk: the replay waits in the middle of chunks', async () => {
    const frame = ethernet(
      { type: 0x0800 },
      ipv4({ src: '10.1.0.1', dst: '10.1.0.2', protocol: 17 }, udp(5000, 6000, new Uint8Array(16))),
    );
    const records = Array.from({ length: 5_000 }, (_, i) => ({ seconds: 1_700_000_000 + i, fraction: 0, data: frame }));
    const input = join(dir, 'small-queue-replay.pcap');
    writeFileSync(input, writePcap(records, { linkType: 1 }));
    const agent = new MonitorAgent();
    const dispatcher = new SinkDispatcher();
    agent.register(dispatcher);
    const sinks = [
      await dispatcher.startSink(sinkOptions(dir, ['10.1.0.0/16 0 10.1.0.2/32 6000 UDP'], { queueSize: 8 })),
      await dispatcher.startSink(sinkOptions(dir, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], { queueSize: 1 })),
    ];
    // The agent itself, as serve passes it: the recordings take the frames as frames.
    const summary = await new PcapFileSource(input, { nodeName: 'test' }).run(agent, new AbortController().signal, () =>
      agent.backlog(),
    );
    expect(summary.events).toBe(5_000);
    const ends = await dispatcher.stopAll('shutdown');
    for (const [i, end] of ends.entries()) {
      expect(end.statistics).toMatchObject({ packetsCaptured: 5_000, packetsLost: 0 });
      expect(readPcap(sinks[i]!.path).records.map((r) => r.seconds)).toEqual(records.map((r) => r.seconds));
    }
  });
});

// The server's own health metrics on a running node (startNode, as `hubble-ts serve` runs it): losses where they
// happen — an API reader the ring writer overtakes, a monitor listener whose queue is full, a source reporting lost
// events, a recording whose queue is full — counted by source and by consumer, scraped over HTTP.
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LostEventSource, lostMonitorEvent } from '../../src/monitor/lostEvent.js';
import { isLostMarker } from '../../src/observer/ring.js';
import { resolveSettings } from '../../src/server/config.js';
import { startNode, type RunningNode } from '../../src/server/node.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';
import { LiveCaptureSource } from '../../src/source/liveCapture.js';
import { ethernet, ipv4, udp } from '../harness/frames.js';
import { craftCapture, tempDir } from '../relay/harness.js';
import { frameEvent, sinkOptions } from '../sink/recording.js';
import { scrape, valueOf, type Exposition } from './promText.js';

const udpFrame = (i: number) =>
  ethernet({ type: 0x0800 }, ipv4({ src: '10.3.0.1', dst: '10.3.0.2', protocol: 17 }, udp(20000 + i, 53)));

describe('health metrics of a running node', () => {
  let dir: string;
  let node: RunningNode;
  const metrics = async (): Promise<Exposition> => scrape(node.metricsPort!);

  beforeAll(async () => {
    dir = tempDir('metrics-health');
    const settings = resolveSettings(SERVE_SETTINGS, {
      source: [`pcap:${craftCapture(dir, 0, 1, 40)}`],
      'socket-path': join(dir, 'hubble.sock'),
      'recordings-dir': join(dir, 'recordings'),
      'buffer-capacity': 15,
      'metrics-address': '127.0.0.1:0',
      metrics: ['flow'],
    });
    node = await startNode(toServeOptions(settings), pino({ level: 'silent' }));
    await node.sourcesDone;
  });

  afterAll(async () => {
    await node?.close();
  });

  it('shows the ring full and every decoded flow', async () => {
    const m = await metrics();
    expect(valueOf(m, 'hubblets_ring_buffer_capacity')).toBe(15);
    expect(valueOf(m, 'hubblets_ring_buffer_events')).toBe(15);
    expect(valueOf(m, 'hubblets_events_total', { kind: 'flow' })).toBe(40);
    expect(
      valueOf(m, 'hubble_flows_processed_total', {
        protocol: 'UDP',
        type: 'Trace',
        subtype: 'from-network',
        verdict: 'FORWARDED',
      }),
    ).toBe(40);
  });

  it('counts what an API reader missed when the writer overtook it', async () => {
    const reader = node.observer.ring.readerFromOldest();
    for (let i = 0; i < 20; i++) node.agent.publish(frameEvent(udpFrame(i)));
    const first = reader.next();
    expect(isLostMarker(first) && first.numLost).toBe(20);
    const m = await metrics();
    expect(valueOf(m, 'hubble_lost_events_total', { source: 'hubble_ring_buffer' })).toBe(20);
    expect(valueOf(m, 'hubblets_consumer_lost_events_total', { consumer: 'api_reader' })).toBe(20);
  });

  it('counts what a monitor listener with a full queue dropped, even after it is gone', async () => {
    const stuck = node.agent.addListener({ deliver: () => new Promise<void>(() => undefined) }, { queueSize: 2 });
    for (let i = 0; i < 10; i++) node.agent.publish(frameEvent(udpFrame(i)));
    const lost = stuck.stats.lost;
    expect(lost).toBe(7); // one being delivered, two queued
    stuck.remove();
    const m = await metrics();
    expect(valueOf(m, 'hubble_lost_events_total', { source: 'observer_events_queue' })).toBe(lost);
    expect(valueOf(m, 'hubblets_consumer_lost_events_total', { consumer: 'monitor_listener' })).toBe(lost);
  });

  it('counts events a source reports lost, by their source', async () => {
    node.agent.publish(lostMonitorEvent(LostEventSource.PERF_EVENT_RING_BUFFER, 42, { seconds: 1, nanos: 0 }, 'n'));
    const m = await metrics();
    expect(valueOf(m, 'hubble_lost_events_total', { source: 'perf_event_ring_buffer' })).toBe(42);
    expect(valueOf(m, 'hubblets_events_total', { kind: 'lost' })).toBe(1);
  });

  it("counts the packets a live capture's kernel ring dropped, and stores them as lost events", async () => {
    const port = 40009 + (process.pid % 20000);
    const before = valueOf(await metrics(), 'hubble_lost_events_total', { source: 'perf_event_ring_buffer' }) ?? 0;
    const stop = new AbortController();
    const source = new LiveCaptureSource(
      'lo',
      `udp port ${port}`,
      { nodeName: 'n' },
      { bufferSize: 64 * 1024, snaplen: 100 },
    );
    const running = source.run(node.agent, stop.signal);
    await new Promise((r) => setTimeout(r, 100));
    const reader = node.observer.ring.readerFromOldest();
    while (reader.next() !== undefined);
    // One burst without the event loop turning overruns the small ring.
    const sender = createSocket('udp4');
    await Promise.all(
      Array.from(
        { length: 2000 },
        (_, i) => new Promise<void>((r) => sender.send(`flood ${i}`, port, '127.0.0.1', () => r())),
      ),
    );
    sender.close();
    await new Promise((r) => setTimeout(r, 200));
    stop.abort();
    const summary = await running;
    expect(summary.dropped).toBeGreaterThan(0);
    const m = await metrics();
    expect(valueOf(m, 'hubble_lost_events_total', { source: 'perf_event_ring_buffer' })).toBe(before + summary.dropped);
    const stored: number[] = [];
    for (let e = reader.next(); e !== undefined; e = reader.next()) {
      if (isLostMarker(e)) continue;
      const event = node.observer.ring.eventAt(e);
      if (event.kind === 'lost') stored.push(event.lostEvent.numEventsLost);
    }
    expect(stored.reduce((a, b) => a + b, 0)).toBe(summary.dropped);
  });

  it('counts running recordings and the packets one drops, after it has ended too', async () => {
    const sink = await node.dispatcher.startSink(
      sinkOptions(join(dir, 'recordings'), ['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], { queueSize: 4 }),
    );
    // One burst, as a capture source publishes it: the queue of 4 cannot drain in between.
    for (let i = 0; i < 50; i++) node.agent.publish(frameEvent(udpFrame(i)));
    const running = await metrics();
    expect(valueOf(running, 'hubblets_recordings_running')).toBe(1);
    const end = await sink.stop();
    expect(end.statistics.packetsLost).toBe(46);
    const ended = await metrics();
    expect(valueOf(ended, 'hubblets_recordings_running')).toBe(0);
    expect(valueOf(ended, 'hubblets_recorder_sink_queue_packets')).toBe(0);
    expect(valueOf(ended, 'hubblets_consumer_lost_events_total', { consumer: 'recorder' })).toBe(46);
  });
});

describe('health metrics of a node with no flow metrics (--metrics-address alone)', () => {
  it('counts the events stored and reported lost without flow handlers on the Observer', async () => {
    const dir = tempDir('metrics-health-only');
    const settings = resolveSettings(SERVE_SETTINGS, {
      source: [`pcap:${craftCapture(dir, 0, 1, 40)}`],
      'socket-path': join(dir, 'hubble.sock'),
      'recordings-dir': join(dir, 'recordings'),
      'metrics-address': '127.0.0.1:0',
    });
    const node = await startNode(toServeOptions(settings), pino({ level: 'silent' }));
    try {
      await node.sourcesDone;
      node.agent.publish(lostMonitorEvent(LostEventSource.PERF_EVENT_RING_BUFFER, 5, { seconds: 1, nanos: 0 }, 'n'));
      const m = await scrape(node.metricsPort!);
      expect(valueOf(m, 'hubblets_events_total', { kind: 'flow' })).toBe(40);
      expect(valueOf(m, 'hubblets_events_total', { kind: 'lost' })).toBe(1);
      expect(valueOf(m, 'hubble_lost_events_total', { source: 'perf_event_ring_buffer' })).toBe(5);
      expect(m.samples.some((s) => s.name === 'hubble_flows_processed_total')).toBe(false);
    } finally {
      await node.close();
    }
  });
});

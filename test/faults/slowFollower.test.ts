// A GetFlows follower that never reads, beside one that does, while `hubble-ts serve` captures a flood live: the
// server holds a bounded amount for the stalled one (its memory stays flat), the reading one gets every event, and
// when the stalled one finally reads it is told exactly how many events it lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowCounter, observerClient, waitUntil } from '../soak/flowCounter.js';
import { startServe, type ServedProcess } from '../soak/processes.js';
import { eventsOf, memoryAfterGc, metricOf, MiB, UdpTarget } from './load.js';

describe('a follower that never reads', () => {
  let dir: string;
  let serve: ServedProcess;
  let target: UdpTarget;
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-fault-slow-'));
    target = await UdpTarget.open();
    serve = await startServe({
      name: 'slow',
      dir,
      sources: [`live:lo:udp dst port ${target.port}`],
      extra: ['--buffer-capacity', '1023'],
      measured: true,
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    target?.close();
    await serve?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('costs the server bounded memory, costs the others nothing, and is told what it lost', async () => {
    const stalledClient = observerClient(`unix://${serve.socket}`, 'stalled');
    const readingClient = observerClient(`unix://${serve.socket}`, 'reading');
    clients.push(stalledClient, readingClient);
    const stalled = new FlowCounter(stalledClient, { follow: true });
    stalled.call.pause();
    const reading = new FlowCounter(readingClient, { follow: true });
    await waitUntil(async () => (await metricOf(serve, 'hubblets_getflows_clients')) === 2, 'both followers');
    const eventsBefore = await eventsOf(serve);
    const memoryBefore = await memoryAfterGc(serve);

    // 40,000 datagrams of 1 KB: forty rings' worth, far more than any buffer between the server and a client holds.
    const sent = await target.send(40_000, 8_000, 1000);
    // What the capture took in (on a busy machine the kernel may drop some: counted events are what matter here).
    let events = 0;
    let last = -1;
    await waitUntil(
      async () => {
        events = (await eventsOf(serve)) - eventsBefore;
        const settled = events === last && events > 0;
        last = events;
        return settled;
      },
      'the capture to settle',
      30_000,
      () => `${events} of ${sent}`,
      1000,
    );
    expect(events, `${events} of ${sent} captured`).toBeGreaterThan(10_000);
    const memoryAfter = await memoryAfterGc(serve);

    // The reading follower got every event the server took in; nothing was lost on its account.
    await waitUntil(
      () => reading.accounted === events,
      'the reading follower to have every event',
      15_000,
      () => JSON.stringify({ flows: reading.flows, lost: reading.lost, events }),
    );
    expect(reading.lost).toBe(0);
    // The stalled one held the server to a bounded queue: its heap and RSS barely moved for 40 MB of traffic.
    console.log(
      `fault: stalled follower: server heap ${(memoryBefore.heapUsed / MiB).toFixed(1)} -> ${(memoryAfter.heapUsed / MiB).toFixed(1)} MiB, ` +
        `RSS ${(memoryBefore.rss / MiB).toFixed(0)} -> ${(memoryAfter.rss / MiB).toFixed(0)} MiB over ${events} events`,
    );
    expect(memoryAfter.heapUsed - memoryBefore.heapUsed).toBeLessThan(24 * MiB);
    expect(memoryAfter.rss - memoryBefore.rss).toBeLessThan(96 * MiB);

    // Reading at last: what was buffered for it, then how many it lost, then nothing more than there was.
    stalled.call.resume();
    await waitUntil(
      () => stalled.accounted === events,
      'the stalled follower to account for every event',
      15_000,
      () => JSON.stringify({ flows: stalled.flows, lost: stalled.lost, events }),
    );
    expect(stalled.lost).toBeGreaterThan(events / 2);
    expect(stalled.lostMessages).toBeGreaterThanOrEqual(1);
    expect(await metricOf(serve, 'hubblets_consumer_lost_events_total', { consumer: 'api_reader' })).toBe(stalled.lost);

    stalled.cancel();
    reading.cancel();
    await waitUntil(async () => (await metricOf(serve, 'hubblets_getflows_clients')) === 0, 'the streams to close');
  }, 90_000);
});

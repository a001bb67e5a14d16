// SIGTERM while `hubble-ts serve` is busy: live capture under a steady flood, twenty followers, ten recordings and
// flow export, the flood going on through the shutdown. It exits 0 within 5 s; every recording is answered with its
// final statistics and leaves a valid pcap holding exactly what those say; the export file holds only whole lines;
// every follower is told UNAVAILABLE, the server shutting down.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecorderClient } from '../../src/api/recorder/recorder.js';
import { tsharkFields } from '../harness/tshark.js';
import { RecordStream } from '../recorder/harness.js';
import { FlowCounter, observerClient, waitUntil } from '../soak/flowCounter.js';
import { startServe, type ServedProcess } from '../soak/processes.js';
import { metricOf, UdpTarget } from './load.js';

describe('SIGTERM under load', () => {
  let dir: string;
  let serve: ServedProcess;
  let target: UdpTarget;
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-fault-term-'));
    target = await UdpTarget.open();
    serve = await startServe({
      name: 'term',
      dir,
      sources: [`live:lo:udp dst port ${target.port}`],
      extra: ['--export-file-path', join(dir, 'export', 'events.log')],
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    target?.close();
    await serve?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 within 5 s, every recording answered and whole, the export file whole lines', async () => {
    const server = `unix://${serve.socket}`;
    const shared = observerClient(server, 'followers');
    const recorder = new RecorderClient(server, grpc.credentials.createInsecure());
    clients.push(shared, recorder);
    const followers = Array.from({ length: 20 }, () => new FlowCounter(shared, { follow: true }));
    const recordings = Array.from({ length: 10 }, (_, i) =>
      new RecordStream(recorder).start({
        filesink: { filePrefix: `term${i}` },
        include: [
          { sourceCidr: '127.0.0.1/32', destinationCidr: '127.0.0.1/32', destinationPort: target.port, protocol: 17 },
        ],
      }),
    );
    await Promise.all(recordings.map((r) => r.running()));
    await waitUntil(async () => (await metricOf(serve, 'hubblets_getflows_clients')) === 20, 'twenty followers');

    const flood = { stopped: false };
    const sending = target.send(1_000_000, 3000, 300, flood);
    await waitUntil(() => followers.every((f) => f.flows > 1000), 'the load to be under way', 20_000);
    const t0 = Date.now();
    serve.child.kill('SIGTERM');
    const code = await serve.exited;
    const exitMs = Date.now() - t0;
    flood.stopped = true;
    await sending;
    console.log(`fault: SIGTERM under load: exited ${code} after ${exitMs} ms`);
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(5000);

    // Every recording was answered with its final statistics, and its file holds exactly that many packets.
    const stopped = await Promise.all(recordings.map((r) => r.stopped()));
    for (const s of stopped) {
      const { stats, filesink } = s.stopped!;
      const rows = await tsharkFields(filesink!.filePath, ['udp.dstport']);
      expect(rows.length, filesink!.filePath).toBe(stats!.packetsCaptured);
      expect(stats!.packetsCaptured).toBeGreaterThan(0);
    }
    // The export file: whole lines, each one an event.
    const text = readFileSync(join(dir, 'export', 'events.log'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    for (const line of lines) JSON.parse(line);
    expect(lines.length).toBeGreaterThan(1000);
    // Every follower's stream has ended, told the server went away (UNAVAILABLE), not that it cancelled (CANCELLED).
    const ends = await Promise.all(followers.map((f) => f.ended));
    expect(ends).toHaveLength(20);
    for (const end of ends)
      expect([end.code, end.details]).toEqual([grpc.status.UNAVAILABLE, 'the server is shutting down']);
  }, 90_000);
});

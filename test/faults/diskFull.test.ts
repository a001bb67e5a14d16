// The disk fills up under `hubble-ts serve` while it captures live traffic: the recordings' file system (three
// recordings running) and the export file's (a separate small tmpfs). Each recording ends RESOURCE_EXHAUSTED leaving a
// valid pcap that holds at least every packet it reported captured; export stops with whole lines only, every line
// it counted as written on disk; followers keep getting every event; and once space is freed a new recording works
// and export resumes.
import { readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecorderClient } from '../../src/api/recorder/recorder.js';
import { mountTmpfs, type Tmpfs } from '../harness/tmpfs.js';
import { tsharkFields } from '../harness/tshark.js';
import { RecordStream } from '../recorder/harness.js';
import { healthCheck } from '../fuzz/wire.js';
import { FlowCounter, observerClient, waitUntil } from '../soak/flowCounter.js';
import { startServe, type ServedProcess } from '../soak/processes.js';
import { eventsOf, metricOf, UdpTarget } from './load.js';

describe('a full disk under recordings and export', () => {
  let dir: string;
  let recordingsFs: Tmpfs;
  let exportFs: Tmpfs;
  let serve: ServedProcess;
  let target: UdpTarget;
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-fault-full-'));
    recordingsFs = mountTmpfs(256, 'full-rec');
    exportFs = mountTmpfs(4096, 'full-exp');
    // Most of the export file system is taken already, so export runs out of room within a few hundred events; freed,
    // it holds every event still queued (up to 8192 wait while export is stopped).
    writeFileSync(join(exportFs.dir, 'filler'), Buffer.alloc(4096 * 1024 - 64 * 1024, 1));
    target = await UdpTarget.open();
    serve = await startServe({
      name: 'full',
      dir,
      sources: [`live:lo:udp dst port ${target.port}`],
      extra: [
        '--recordings-dir',
        join(recordingsFs.dir, 'recordings'),
        '--export-file-path',
        join(exportFs.dir, 'export', 'events.log'),
      ],
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    target?.close();
    await serve?.stop('SIGKILL');
    recordingsFs?.unmount();
    exportFs?.unmount();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails what cannot be written, keeps what was, and keeps the rest working', async () => {
    const follower = new FlowCounter(observerClient(`unix://${serve.socket}`, 'follower'), { follow: true });
    const recorder = new RecorderClient(`unix://${serve.socket}`, grpc.credentials.createInsecure());
    clients.push(recorder);
    const filter = {
      sourceCidr: '127.0.0.1/32',
      destinationCidr: '127.0.0.1/32',
      destinationPort: target.port,
      protocol: 17,
    };
    const recordings = [0, 1, 2].map((i) =>
      new RecordStream(recorder).start({ filesink: { filePrefix: `full${i}` }, include: [filter] }),
    );
    await Promise.all(recordings.map((r) => r.running()));
    await waitUntil(async () => (await metricOf(serve, 'hubblets_getflows_clients')) === 1, 'the follower');
    const eventsBefore = await eventsOf(serve);

    // 1 KB datagrams until both file systems are full: ~240 packets fill the recordings', a few hundred lines export's.
    await target.send(1500, 500, 1000);
    const ended = await Promise.all(recordings.map((r) => r.ended));
    for (const err of ended) {
      expect(err?.code, err?.details).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(err?.details).toMatch(/disk full/);
    }
    await waitUntil(async () => (await metricOf(serve, 'hubblets_export_stopped')) === 1, 'export to stop');

    // The rest keeps working: the follower has every event the server took in, nothing lost.
    const events = (await eventsOf(serve)) - eventsBefore;
    await waitUntil(() => follower.accounted === events, 'the follower to have every event');
    expect(follower.lost).toBe(0);
    expect(await healthCheck(`unix://${serve.socket}`)).toBe('SERVING');

    // Every pcap is valid and holds at least every packet its recording reported captured.
    const recDir = join(recordingsFs.dir, 'recordings');
    for (const [i, r] of recordings.entries()) {
      const reported = Math.max(0, ...r.responses.map((x) => x.running?.stats?.packetsCaptured ?? 0));
      const file = readdirSync(recDir).find((f) => f.startsWith(`full${i}_`))!;
      const rows = await tsharkFields(join(recDir, file), ['frame.len']);
      expect(rows.length, file).toBeGreaterThanOrEqual(Math.max(1, reported));
    }

    // Export: whole lines only, as many as it counted written.
    const exportFile = join(exportFs.dir, 'export', 'events.log');
    const text = readFileSync(exportFile, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    for (const line of lines) JSON.parse(line);
    expect(lines.length).toBe(await metricOf(serve, 'hubblets_export_events_written_total'));
    expect(await metricOf(serve, 'hubblets_export_write_errors_total')).toBeGreaterThanOrEqual(1);
    console.log(
      `fault: disk full: recordings ended RESOURCE_EXHAUSTED with ${recordings.map((r) => Math.max(0, ...r.responses.map((x) => x.running?.stats?.packetsCaptured ?? 0))).join('/')} packets reported, ` +
        `export stopped after ${lines.length} whole lines; follower got all ${events} events`,
    );

    // Space freed: a new recording works, and export resumes within its retry interval.
    for (const f of readdirSync(recDir)) unlinkSync(join(recDir, f));
    unlinkSync(join(exportFs.dir, 'filler'));
    const again = new RecordStream(recorder).start({
      filesink: { filePrefix: 'again' },
      include: [filter],
      stopCondition: { packetsCapturedCount: 5 },
    });
    await again.running();
    await target.send(20, 100, 1000);
    const stopped = await again.stopped();
    expect(stopped.stopped!.stats!.packetsCaptured).toBe(5);
    expect(await tsharkFields(stopped.stopped!.filesink!.filePath, ['frame.len'])).toHaveLength(5);
    await waitUntil(async () => (await metricOf(serve, 'hubblets_export_stopped')) === 0, 'export to resume', 15_000);
    await waitUntil(async () => (await metricOf(serve, 'hubblets_export_queue_events')) === 0, 'export to catch up');
    const after = readFileSync(exportFile, 'utf8');
    expect(after.endsWith('\n')).toBe(true);
    const linesAfter = after.trimEnd().split('\n');
    for (const line of linesAfter) JSON.parse(line);
    // Nothing written before the disk filled is lost; every line counted written is there.
    expect(linesAfter.slice(0, lines.length)).toEqual(lines);
    expect(linesAfter.length).toBe(await metricOf(serve, 'hubblets_export_events_written_total'));
    follower.cancel();
  }, 90_000);
});

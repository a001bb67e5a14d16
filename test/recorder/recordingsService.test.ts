// hubblets.recordings.v1.Recordings over the node's unix socket: List, Download (with follow of a running recording)
// and Delete against files real sinks wrote, hostile names and planted files, and retention as recordings end.
import { linkSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DownloadRequest,
  type DownloadResponse,
  type ListResponse,
  type RecordingsClient,
} from '../../src/api/hubblets/recordings/v1/recordings.js';
import { Protocol } from '../../src/api/recorder/recorder.js';
import {
  anyFilter,
  readRecording,
  RecordStream,
  replay,
  startTestNode,
  syntheticPackets,
  writeSyntheticCapture,
  type TestNode,
} from './harness.js';

const WEB_FILTER = {
  sourceCidr: '10.0.0.0/8',
  sourcePort: 0,
  destinationCidr: '192.168.0.0/16',
  destinationPort: 80,
  protocol: Protocol.PROTOCOL_TCP,
};

function list(client: RecordingsClient): Promise<ListResponse> {
  return new Promise((resolve, reject) => client.list({}, (err, res) => (err ? reject(err) : resolve(res))));
}

function remove(client: RecordingsClient, name: string, stopIfRunning = false): Promise<{ stopped: boolean }> {
  return new Promise((resolve, reject) =>
    client.delete({ name, stopIfRunning }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** A Download call whose chunks the test can inspect while it runs. */
function download(client: RecordingsClient, name: string, follow: boolean) {
  const chunks: Buffer[] = [];
  const call = client.download(DownloadRequest.fromPartial({ name, follow }));
  call.on('data', (r: DownloadResponse) => chunks.push(r.data));
  const done = new Promise<Buffer>((resolve, reject) => {
    call.on('end', () => resolve(Buffer.concat(chunks)));
    call.on('error', reject);
  });
  return { chunks, done, bytes: () => Buffer.concat(chunks) };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('hubblets.recordings.v1.Recordings over the unix socket', () => {
  let t: TestNode;
  let capture: string;

  beforeAll(async () => {
    t = await startTestNode();
    capture = writeSyntheticCapture(syntheticPackets(20));
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lists finished recordings with their statistics and running ones as running', async () => {
    const done = new RecordStream(t.recorder).start({ include: [WEB_FILTER], filesink: { filePrefix: 'listdone' } });
    await done.running();
    await replay(t.node, capture);
    await done.waitFor((r) => r.running?.stats?.packetsCaptured === 20);
    done.stop();
    const path = (await done.stopped()).stopped!.filesink!.filePath;
    const live = new RecordStream(t.recorder).start({ include: [WEB_FILTER], filesink: { filePrefix: 'listlive' } });
    await live.running();

    const { recordings } = await list(t.recordings);
    const finished = recordings.find((r) => r.name.startsWith('listdone_'))!;
    expect(finished).toMatchObject({
      filePath: path,
      running: false,
      nodeName: 'rec-node',
      size: readFileSync(path).length,
      stats: { packetsCaptured: 20 },
    });
    expect(finished.created!.seconds).toBeGreaterThan(1_600_000_000);
    expect(recordings.find((r) => r.name.startsWith('listlive_'))).toMatchObject({ running: true, size: 24 });
    live.stop();
    await live.stopped();
  });

  it('downloads a finished recording byte for byte', async () => {
    const { recordings } = await list(t.recordings);
    const r = recordings.find((x) => x.name.startsWith('listdone_'))!;
    expect((await download(t.recordings, r.name, false).done).equals(readFileSync(r.filePath))).toBe(true);
  });

  it('follows a running recording: a valid pcap that grows with it and ends when it stops', async () => {
    const rec = new RecordStream(t.recorder).start({ include: [WEB_FILTER], filesink: { filePrefix: 'follow' } });
    await rec.running();
    const name = (await list(t.recordings)).recordings.find((r) => r.name.startsWith('follow_'))!.name;
    const dl = download(t.recordings, name, true);
    await until(() => dl.bytes().length >= 24, 'the file header');
    await replay(t.node, capture);
    await until(() => dl.bytes().length > 24, 'the first records');
    // What has arrived so far is a pcap tshark reads, record for record.
    const partial = join(mkdtempSync(join(tmpdir(), 'hubble-ts-follow-')), 'partial.pcap');
    writeFileSync(partial, dl.bytes());
    const early = (await readRecording(partial)).length;
    expect(early).toBeGreaterThan(0);
    await replay(t.node, capture);
    await rec.waitFor((r) => r.running?.stats?.packetsCaptured === 40);
    let settled = false;
    void dl.done.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    rec.stop();
    const stopped = await rec.stopped();
    const all = await dl.done;
    expect(all.equals(readFileSync(stopped.stopped!.filesink!.filePath))).toBe(true);
    writeFileSync(partial, all);
    expect(await readRecording(partial)).toHaveLength(40);
  });

  it('refuses to delete a running recording unless asked to stop it, which answers its Record stream', async () => {
    const rec = new RecordStream(t.recorder).start({ include: [anyFilter], filesink: { filePrefix: 'del' } });
    await rec.running();
    const name = (await list(t.recordings)).recordings.find((r) => r.name.startsWith('del_'))!.name;
    await expect(remove(t.recordings, name)).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringMatching(/still running/),
    });
    expect(await remove(t.recordings, name, true)).toEqual({ stopped: true });
    expect((await rec.stopped()).stopped!.filesink!.filePath).toBe(join(t.node.store.dir, name));
    expect((await list(t.recordings)).recordings.map((r) => r.name)).not.toContain(name);
    await expect(remove(t.recordings, name)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it.each([
    ['../hubble.sock', grpc.status.INVALID_ARGUMENT],
    ['/etc/passwd', grpc.status.INVALID_ARGUMENT],
    ['recordings/../../x', grpc.status.INVALID_ARGUMENT],
    ['hubble_1_2_n.pcap\0', grpc.status.INVALID_ARGUMENT],
    ['', grpc.status.INVALID_ARGUMENT],
    ['hubble_1_2_nothere.pcap', grpc.status.NOT_FOUND],
    ['hubble_1700000000_1_planted.pcap', grpc.status.NOT_FOUND],
    ['hubble_1700000000_2_hardlink.pcap', grpc.status.NOT_FOUND],
  ])('refuses the name %j for Download and Delete, touching nothing outside the directory', async (name, code) => {
    const outside = join(t.dir, 'outside.txt');
    writeFileSync(outside, 'not yours');
    try {
      symlinkSync(outside, join(t.node.store.dir, 'hubble_1700000000_1_planted.pcap'));
      linkSync(outside, join(t.node.store.dir, 'hubble_1700000000_2_hardlink.pcap'));
    } catch {
      // planted by an earlier case
    }
    await expect(download(t.recordings, name, false).done).rejects.toMatchObject({ code });
    await expect(download(t.recordings, name, true).done).rejects.toMatchObject({ code });
    await expect(remove(t.recordings, name, true)).rejects.toMatchObject({ code });
    expect(readFileSync(outside, 'utf8')).toBe('not yours');
    expect(readdirSync(t.dir).sort()).toEqual(['hubble.sock', 'outside.txt', 'recordings']);
  });

  it('creates no file anywhere for a hostile file prefix', async () => {
    const before = readdirSync(t.node.store.dir).sort();
    for (const filePrefix of ['../x', '/tmp/x', 'a/b', 'x\0y', '..']) {
      const s = new RecordStream(t.recorder).start({ include: [anyFilter], filesink: { filePrefix } });
      expect((await s.ended)?.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    expect(readdirSync(t.node.store.dir).sort()).toEqual(before);
    expect(readdirSync(t.dir).sort()).toEqual(['hubble.sock', 'outside.txt', 'recordings']);
  });
});

describe('recordings retention', () => {
  it('removes the oldest finished recordings once a recording ends over --recordings-max-bytes, never a running one', async () => {
    const capture = writeSyntheticCapture(syntheticPackets(20));
    // Each finished recording holds 20 web packets (~5 KB); the budget keeps about two.
    const t = await startTestNode({ 'recordings-max-bytes': 11_000 });
    try {
      // The oldest recording of all is still running (its filter matches nothing here): it counts, and it stays.
      const running = new RecordStream(t.recorder).start({
        include: [{ ...anyFilter, protocol: Protocol.PROTOCOL_SCTP }],
        filesink: { filePrefix: 'keeper' },
      });
      await running.running();
      const names: string[] = [];
      for (let i = 0; i < 3; i++) {
        const s = new RecordStream(t.recorder).start({ include: [WEB_FILTER], filesink: { filePrefix: `r${i}` } });
        await s.running();
        await replay(t.node, capture);
        await s.waitFor((r) => r.running?.stats?.packetsCaptured === 20);
        s.stop();
        names.push((await s.stopped()).stopped!.filesink!.filePath.split('/').pop()!);
        await new Promise((r) => setTimeout(r, 20)); // distinct modification times
      }
      await until(() => !readdirSync(t.node.store.dir).includes(names[0]!), 'the oldest recording to go', 5000);
      const left = readdirSync(t.node.store.dir);
      expect(left.some((n) => n.startsWith('keeper_'))).toBe(true);
      expect(left).not.toContain(names[0]);
      expect(left).toContain(names[2]);
      running.stop();
      await running.stopped();
    } finally {
      await t.close();
    }
  });
});

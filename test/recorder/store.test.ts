// The recordings store on real files: what it lists, hostile names and planted files (nothing outside the
// directory is ever read or removed), downloads that follow a running recording, deletion, and retention.
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/recorder/apiError.js';
import { prepareRecordingsDir } from '../../src/recorder/recordingsDir.js';
import { RecordingsStore } from '../../src/recorder/store.js';
import { FakeSink, frame } from './fakeSink.js';

const PCAP_HEADER = Buffer.from('d4c3b2a1020004000000000000000000000004000100000', 'hex');

function writeRecording(dir: string, name: string, bytes: number, mtimeSeconds?: number): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([PCAP_HEADER, Buffer.alloc(Math.max(0, bytes - PCAP_HEADER.length))]), {
    mode: 0o600,
  });
  if (mtimeSeconds !== undefined) utimesSync(path, mtimeSeconds, mtimeSeconds);
  return path;
}

async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of gen) chunks.push(c);
  return Buffer.concat(chunks);
}

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('RecordingsStore', () => {
  let base: string;
  let dir: string;
  let store: RecordingsStore;

  beforeEach(async () => {
    base = mkdtempSync(join(tmpdir(), 'hubble-ts-store-'));
    dir = await prepareRecordingsDir(join(base, 'recordings'));
    store = new RecordingsStore({ dir });
  });

  it('lists only recordings: regular files with a recording name, directly in the directory', async () => {
    writeRecording(dir, 'hubble_1700000000_1_node-a.pcap', 100);
    writeRecording(dir, 'web_1700000100_2_node-b.pcap', 200);
    writeFileSync(join(dir, 'notes.txt'), 'not a recording');
    writeFileSync(join(dir, 'hubble_1700000000_1_node-a.pcap.partial'), '');
    mkdirSync(join(dir, 'hubble_1700000000_9_dir.pcap'));
    writeFileSync(join(base, 'secret'), 'outside');
    symlinkSync(join(base, 'secret'), join(dir, 'hubble_1700000000_3_link.pcap'));
    linkSync(join(base, 'secret'), join(dir, 'hubble_1700000000_4_hardlink.pcap'));
    const listed = await store.list();
    expect(listed.map((r) => r.name)).toEqual(['hubble_1700000000_1_node-a.pcap', 'web_1700000100_2_node-b.pcap']);
    expect(listed[1]).toMatchObject({
      size: 200,
      running: false,
      nodeName: 'node-b',
      path: join(dir, 'web_1700000100_2_node-b.pcap'),
      stats: undefined,
    });
  });

  it.each([
    ['a parent path', '../secret', grpc.status.INVALID_ARGUMENT],
    ['an absolute path', '/etc/passwd', grpc.status.INVALID_ARGUMENT],
    ['a path through a subdirectory', 'sub/hubble_1_2_n.pcap', grpc.status.INVALID_ARGUMENT],
    ['a NUL byte', 'hubble_1_2_n.pcap\0.txt', grpc.status.INVALID_ARGUMENT],
    ['a name that is not there', 'hubble_1_2_missing.pcap', grpc.status.NOT_FOUND],
    ['a planted symlink to a file outside', 'hubble_1700000000_3_link.pcap', grpc.status.NOT_FOUND],
    ['a planted hard link to a file outside', 'hubble_1700000000_4_hardlink.pcap', grpc.status.NOT_FOUND],
  ])('refuses to download or delete %s', async (_case, name, code) => {
    writeFileSync(join(base, 'secret'), 'outside');
    symlinkSync(join(base, 'secret'), join(dir, 'hubble_1700000000_3_link.pcap'));
    linkSync(join(base, 'secret'), join(dir, 'hubble_1700000000_4_hardlink.pcap'));
    const signal = new AbortController().signal;
    expect((await apiError(collect(store.download(name, false, signal)))).code).toBe(code);
    expect((await apiError(store.delete(name, true))).code).toBe(code);
    expect(readFileSync(join(base, 'secret'), 'utf8')).toBe('outside');
    if (name.startsWith('hubble_1700000000_3')) expect(existsSync(join(dir, name))).toBe(true);
  });

  it('downloads a finished recording byte for byte', async () => {
    const path = writeRecording(dir, 'hubble_1700000000_1_n.pcap', 200_000);
    const got = await collect(store.download('hubble_1700000000_1_n.pcap', false, new AbortController().signal));
    expect(got.equals(readFileSync(path))).toBe(true);
  });

  it('follows a running recording as it grows and ends when it stops; without follow, stops at what is written', async () => {
    const name = 'hubble_1700000000_5_n.pcap';
    const sink = new FakeSink(join(dir, name));
    store.track(name, sink);
    sink.append(frame(60));
    const snapshot = await collect(store.download(name, false, new AbortController().signal));
    expect(snapshot.length).toBe(24 + 16 + 60);

    const chunks: Buffer[] = [];
    const following = (async () => {
      for await (const c of store.download(name, true, new AbortController().signal)) chunks.push(c);
    })();
    await new Promise((r) => setTimeout(r, 50));
    sink.append(frame(100));
    await new Promise((r) => setTimeout(r, 50));
    expect(Buffer.concat(chunks).length).toBe(24 + 16 + 60 + 16 + 100);
    sink.append(frame(70));
    await sink.stop();
    await following;
    expect(Buffer.concat(chunks).equals(readFileSync(join(dir, name)))).toBe(true);
  });

  it('lists a running recording as running with its live statistics, and keeps its final ones', async () => {
    const name = 'hubble_1700000000_6_n.pcap';
    const sink = new FakeSink(join(dir, name));
    store.track(name, sink);
    sink.append(frame(60));
    expect((await store.list())[0]).toMatchObject({ running: true, size: 100, stats: { packetsCaptured: 1 } });
    sink.append(frame(40));
    await sink.stop();
    await new Promise((r) => setImmediate(r));
    expect((await store.list())[0]).toMatchObject({
      running: false,
      stats: { packetsCaptured: 2, bytesCaptured: 100 },
    });
  });

  it('refuses to delete a running recording unless asked to stop it first', async () => {
    const name = 'hubble_1700000000_7_n.pcap';
    const sink = new FakeSink(join(dir, name));
    store.track(name, sink);
    const err = await apiError(store.delete(name, false));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.message).toMatch(/still running/);
    expect(existsSync(join(dir, name))).toBe(true);
    expect(await store.delete(name, true)).toEqual({ stopped: true });
    expect(sink.stopCalls).toBe(1);
    expect(existsSync(join(dir, name))).toBe(false);
  });

  it('hides a recording whose file is being created from List, Download and retention', async () => {
    const name = 'hubble_1700000000_8_n.pcap';
    store.reserve(name);
    writeRecording(dir, name, 10);
    expect(await store.list()).toEqual([]);
    expect((await apiError(store.delete(name, true))).code).toBe(grpc.status.NOT_FOUND);
    store.abandon(name);
    expect((await store.list()).map((r) => r.name)).toEqual([name]);
  });
});

describe('RecordingsStore retention', () => {
  it('removes the oldest finished recordings while over max-bytes, never a running one', async () => {
    const dir = await prepareRecordingsDir(join(mkdtempSync(join(tmpdir(), 'hubble-ts-ret-')), 'r'));
    const store = new RecordingsStore({ dir, maxBytes: 2000 });
    writeRecording(dir, 'a_1700000000_1_n.pcap', 1000, 1_700_000_000);
    writeRecording(dir, 'b_1700000000_2_n.pcap', 1000, 1_700_000_100);
    writeRecording(dir, 'c_1700000000_3_n.pcap', 1000, 1_700_000_200);
    // The oldest file of all is still being written: it counts, but it stays.
    const running = new FakeSink(join(dir, 'r_1600000000_4_n.pcap'));
    utimesSync(running.path, 1_600_000_000, 1_600_000_000);
    store.track('r_1600000000_4_n.pcap', running);
    running.append(frame(400));
    // 3000 + 440 bytes: a and b go (oldest finished first), c and the running one stay.
    expect(await store.applyRetention()).toEqual(['a_1700000000_1_n.pcap', 'b_1700000000_2_n.pcap']);
    expect((await store.list()).map((r) => r.name).sort()).toEqual(['c_1700000000_3_n.pcap', 'r_1600000000_4_n.pcap']);
    await running.stop();
    await store.close();
  });

  it('keeps the recording that ended last even when it alone is over max-bytes, until a newer one ends', async () => {
    const dir = await prepareRecordingsDir(join(mkdtempSync(join(tmpdir(), 'hubble-ts-ret-')), 'r'));
    const store = new RecordingsStore({ dir, maxBytes: 500 });
    writeRecording(dir, 'a_1700000000_1_n.pcap', 100, 1_700_000_000);
    writeRecording(dir, 'big_1700000000_2_n.pcap', 1000, 1_700_000_100);
    // Over the budget: the older one goes, the big one just written stays to be downloaded.
    expect(await store.applyRetention()).toEqual(['a_1700000000_1_n.pcap']);
    expect((await store.list()).map((r) => r.name)).toEqual(['big_1700000000_2_n.pcap']);
    writeRecording(dir, 'c_1700000000_3_n.pcap', 100, 1_700_000_200);
    expect(await store.applyRetention()).toEqual(['big_1700000000_2_n.pcap']);
    await store.close();
  });

  it('removes finished recordings last written longer ago than max-age', async () => {
    const dir = await prepareRecordingsDir(join(mkdtempSync(join(tmpdir(), 'hubble-ts-ret-')), 'r'));
    const now = 1_800_000_000_000;
    const store = new RecordingsStore({ dir, maxAgeMs: 3_600_000, now: () => now });
    writeRecording(dir, 'old_1700000000_1_n.pcap', 100, now / 1000 - 7200);
    writeRecording(dir, 'new_1700000000_2_n.pcap', 100, now / 1000 - 60);
    writeFileSync(join(dir, 'unrelated.txt'), 'kept');
    utimesSync(join(dir, 'unrelated.txt'), 1, 1);
    expect(await store.applyRetention()).toEqual(['old_1700000000_1_n.pcap']);
    expect(existsSync(join(dir, 'unrelated.txt'))).toBe(true);
    await store.close();
  });

  it('runs when a recording ends', async () => {
    const dir = await prepareRecordingsDir(join(mkdtempSync(join(tmpdir(), 'hubble-ts-ret-')), 'r'));
    const store = new RecordingsStore({ dir, maxBytes: 500 });
    writeRecording(dir, 'a_1700000000_1_n.pcap', 400, 1_700_000_000);
    const sink = new FakeSink(join(dir, 'b_1800000000_2_n.pcap'));
    store.track('b_1800000000_2_n.pcap', sink);
    sink.append(frame(200));
    await sink.stop();
    for (let i = 0; i < 50 && existsSync(join(dir, 'a_1700000000_1_n.pcap')); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(join(dir, 'a_1700000000_1_n.pcap'))).toBe(false);
    expect(existsSync(join(dir, 'b_1800000000_2_n.pcap'))).toBe(true);
    await store.close();
  });
});

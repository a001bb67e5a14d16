import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapFileSource } from '../../src/source/pcapFile.js';
import { parseSourceSpec, SourceError } from '../../src/source/source.js';
import { readPcap, writePcap } from '../harness/pcapFiles.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'source');
const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-pcapfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A pcap of `copies` rounds of the loopback fixture's records (about 30 records and 2.5 KB each). */
function bigPcap(copies: number): string {
  const { records } = readPcap(join(fixtures, 'loopback.pcap'));
  const all = Array.from({ length: copies }, (_, round) =>
    records.map((r) => ({ ...r, seconds: r.seconds + round })),
  ).flat();
  const path = join(dir, `big-${copies}.pcap`);
  writeFileSync(path, writePcap(all, { linkType: 1 }));
  return path;
}

describe('pcap file source', () => {
  it('describes itself by its spec', () => {
    expect(parseSourceSpec('pcap:/tmp/x.pcap', { nodeName: 'n' }).description).toBe('pcap:/tmp/x.pcap');
  });

  it('stops right after the publish that aborted, and says it was aborted', async () => {
    const stop = new AbortController();
    let seen = 0;
    const summary = await parseSourceSpec(`pcap:${bigPcap(100)}`, { nodeName: 'n' }).run(() => {
      if (++seen === 1234) stop.abort();
    }, stop.signal);
    expect(seen).toBe(1234);
    expect(summary).toMatchObject({ events: 1234, aborted: true });
  });

  it('publishes nothing when the signal has already aborted', async () => {
    const stop = new AbortController();
    stop.abort();
    let seen = 0;
    const summary = await parseSourceSpec(`pcap:${join(fixtures, 'loopback.pcap')}`, { nodeName: 'n' }).run(
      () => seen++,
      stop.signal,
    );
    expect(seen).toBe(0);
    expect(summary).toMatchObject({ events: 0, aborted: true });
  });

  it('lets timers and I/O run between chunks while replaying a large file', async () => {
    const path = bigPcap(1500); // ~45k records, ~4 MB: several 64 KiB chunks
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    let events = 0;
    const ticksSeen: number[] = [];
    try {
      await new PcapFileSource(path, { nodeName: 'n' }, { chunkSize: 64 * 1024 }).run(() => {
        if (++events % 5000 === 0) ticksSeen.push(ticks);
      }, new AbortController().signal);
    } finally {
      clearInterval(ticker);
    }
    // The interval fired while the replay was still going, not only after it.
    expect(ticksSeen.at(-1)).toBeGreaterThan(0);
  });

  it('streams: publishes the first records while the rest of the file is still being written (through a FIFO)', async () => {
    const fifo = join(dir, 'capture.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const bytes = readFileSync(bigPcap(200)); // ~500 KB
    const half = 300_000;
    let events = 0;
    const run = new PcapFileSource(fifo, { nodeName: 'n' }, { chunkSize: 64 * 1024 }).run(
      () => events++,
      new AbortController().signal,
    );
    const writer = await open(fifo, 'w');
    await writer.write(bytes.subarray(0, half));
    // The writer holds back the rest until the source has published from what it has.
    for (let i = 0; i < 200 && events === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const beforeRest = events;
    await writer.write(bytes.subarray(half));
    await writer.close();
    const summary = await run;
    expect(beforeRest).toBeGreaterThan(1000);
    expect(summary.events).toBe(200 * readPcap(join(fixtures, 'loopback.pcap')).records.length);
  });

  it('check() on a pipe returns once it is open, before its writer wrote a byte, and run() reads it whole', async () => {
    // As serve does with `tcpdump -w - | serve --source pcap:/dev/stdin`: tcpdump holds even the file header back
    // until its output buffer fills, and serve must not wait for it to start serving.
    const fifo = join(dir, 'checked.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const bytes = readFileSync(bigPcap(20));
    const source = new PcapFileSource(fifo, { nodeName: 'n' });
    // The writer must be there for the reader's open to return.
    const writer = open(fifo, 'w');
    await source.check();
    const w = await writer;
    let events = 0;
    const run = source.run(() => events++, new AbortController().signal);
    await w.write(bytes);
    await w.close();
    const summary = await run;
    expect(summary.events).toBe(20 * readPcap(join(fixtures, 'loopback.pcap')).records.length);
    expect(events).toBe(summary.events);
  });

  it('a pipe that brings no capture fails its run with the error check() gives a file', async () => {
    const fifo = join(dir, 'garbage.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const file = join(dir, 'garbage.pcap');
    const garbage = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    writeFileSync(file, garbage);
    const fileError = await new PcapFileSource(file, { nodeName: 'n' }).check().catch((err: unknown) => err);
    const source = new PcapFileSource(fifo, { nodeName: 'n' });
    const writer = open(fifo, 'w');
    await source.check();
    const w = await writer;
    const failed = source.run(() => undefined, new AbortController().signal).catch((err: unknown) => err);
    await w.write(garbage);
    await w.close();
    const pipeError = await failed;
    expect(pipeError).toBeInstanceOf(SourceError);
    expect((pipeError as SourceError).code).toBe((fileError as SourceError).code);
    expect((pipeError as Error).message).toBe((fileError as Error).message.replace(file, fifo));
  });

  it('hands over the records a pipe brings as they come, not once a whole chunk has (tcpdump -U -w - | serve)', async () => {
    const fifo = join(dir, 'trickle.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const { records } = readPcap(join(fixtures, 'loopback.pcap'));
    const header = writePcap([], { linkType: 1 });
    const one = (i: number) => writePcap([records[i]!], { linkType: 1 }).subarray(header.length);
    let events = 0;
    const run = new PcapFileSource(fifo, { nodeName: 'n' }).run(() => events++, new AbortController().signal);
    const writer = await open(fifo, 'w');
    // The header alone, then a record at a time: each must come out while the writer still holds the pipe open.
    await writer.write(header);
    for (let i = 0; i < 3; i++) {
      await writer.write(one(i));
      for (let t = 0; t < 200 && events <= i; t++) await new Promise((r) => setTimeout(r, 10));
      expect(events).toBe(i + 1);
    }
    await writer.close();
    expect((await run).events).toBe(3);
  });

  it('check() accepts a capture and rejects what run() would reject, with the same error', async () => {
    await expect(
      new PcapFileSource(join(fixtures, 'loopback.pcapng'), { nodeName: 'n' }).check(),
    ).resolves.toBeUndefined();
    await expect(
      new PcapFileSource(join(fixtures, 'loopback.pcap'), { nodeName: 'n' }).check(),
    ).resolves.toBeUndefined();
    const notCapture = join(dir, 'notes.txt');
    writeFileSync(notCapture, 'just some text\n');
    // A pcapng whose section header's byte-order magic is neither way round: refused before serving, as a bad pcap is.
    const badByteOrder = join(dir, 'byte-order.pcapng');
    const ng = readFileSync(join(fixtures, 'loopback.pcapng'));
    ng.writeUInt32LE(0x1a2b3c4e, 8);
    writeFileSync(badByteOrder, ng);
    await expect(new PcapFileSource(badByteOrder, { nodeName: 'n' }).check()).rejects.toThrow(
      /byte-order\.pcapng: corrupt: block 1 at byte 0: section header has byte-order magic 0x1a2b3c4e/,
    );
    for (const path of [notCapture, join(dir, 'missing.pcap'), dir, badByteOrder]) {
      const source = new PcapFileSource(path, { nodeName: 'n' });
      const fromCheck = await source.check().catch((e: unknown) => e);
      const fromRun = await source.run(() => undefined, new AbortController().signal).catch((e: unknown) => e);
      expect(fromCheck).toBeInstanceOf(SourceError);
      expect(fromCheck).toEqual(fromRun);
    }
  });

  it.each([
    ['a missing file', () => join(dir, 'missing.pcap'), 'NOT_FOUND', /missing\.pcap: no such file$/],
    ['a directory', () => dir, 'NOT_A_CAPTURE', /is a directory, not a pcap or pcapng capture$/],
    [
      'an empty file',
      () => (writeFileSync(join(dir, 'empty.pcap'), ''), join(dir, 'empty.pcap')),
      'NOT_A_CAPTURE',
      /the file is empty/,
    ],
  ])('%s gives a one-line %s error', async (_what, makePath, code, message) => {
    const err = await parseSourceSpec(`pcap:${makePath()}`, { nodeName: 'n' })
      .run(() => undefined, new AbortController().signal)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err).toMatchObject({ code });
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('a file this user may not read gives a PERMISSION error', async () => {
    const path = join(dir, 'secret.pcap');
    writeFileSync(path, readFileSync(join(fixtures, 'loopback.pcap')));
    chmodSync(path, 0o600);
    chmodSync(dir, 0o755);
    // Root reads everything: ask an unprivileged process (nobody) to open it.
    const script = `
      import { parseSourceSpec } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'src', 'source', 'source.ts'))};
      parseSourceSpec(${JSON.stringify(`pcap:${path}`)}, { nodeName: 'n' }).run(() => {}, new AbortController().signal)
        .then(() => console.log(JSON.stringify({ ok: true })), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
    const out = await runAsNobody(script);
    expect(out).toMatchObject({ code: 'PERMISSION' });
    expect((out as { message: string }).message).toMatch(/secret\.pcap: permission denied/);
  });
});

/** Runs an ES module snippet with tsx as user nobody and parses the JSON line it prints. */
async function runAsNobody(script: string): Promise<unknown> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    uid: 65534,
    gid: 65534,
    cwd: join(import.meta.dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: '/tmp' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise((r) => child.once('exit', r));
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no result from the unprivileged process: ${stderr}`);
  return JSON.parse(line);
}

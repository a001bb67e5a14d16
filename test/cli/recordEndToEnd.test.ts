// What a user does with recordings: `hubble-ts serve` capturing live on loopback while real traffic runs,
// `hubble-ts record` with limits and Ctrl-C, `hubble-ts recordings list|download|delete` (download --follow to a
// pipe while the recording runs), a record client killed mid-recording, and SIGTERM during ten recordings.
// tshark judges every file.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecorderClient } from '../../src/api/recorder/recorder.js';
import { recordCommand } from '../../src/cli/record.js';
import { readRecording, RecordStream } from '../recorder/harness.js';

const CLI_ENTRY = join(import.meta.dirname, '../../src/cli/main.ts');
const PORT = 39_881;
const FILTER = `127.0.0.1/32 0 127.0.0.1/32 ${PORT} UDP`;

interface Running {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  stdout: () => Buffer;
  exited: Promise<number | null>;
}

function cli(args: string[]): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    child,
    out: () => Buffer.concat(out).toString(),
    stdout: () => Buffer.concat(out),
    err: () => err,
    exited,
  };
}

async function run(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; out: string; err: string }> {
  const r = cli(args);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), timeoutMs);
  const code = await r.exited;
  clearTimeout(timer);
  return { code, out: r.out(), err: r.err() };
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Real datagrams to the captured port, `count` of them, `gapMs` apart. */
async function sendDatagrams(count: number, gapMs = 10, size = 100): Promise<void> {
  const sock = createSocket('udp4');
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) =>
      sock.send(Buffer.alloc(size, 0x41 + (i % 26)), PORT, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
    );
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  sock.close();
}

describe('hubble-ts record and recordings, against a live capture', () => {
  let dir: string;
  let socket: string;
  let server: string;
  let recordingsDir: string;
  let serve: Running;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-rec-e2e-'));
    socket = join(dir, 'hubble.sock');
    server = `unix://${socket}`;
    recordingsDir = join(dir, 'recordings');
    serve = cli([
      'serve',
      '--socket-path',
      socket,
      '--recordings-dir',
      recordingsDir,
      '--node-name',
      'e2e-rec',
      '--source',
      `live:lo:udp port ${PORT}`,
    ]);
    await until(() => serve.out().includes('serving Hubble API') || serve.child.exitCode !== null, 'serve to start');
    if (serve.child.exitCode !== null) throw new Error(`serve exited: ${serve.out()}${serve.err()}`);
  });

  afterAll(async () => {
    if (serve?.child.exitCode === null) {
      serve.child.kill('SIGKILL');
      await serve.exited;
    }
  });

  it('records exactly --packet-limit packets cut to --max-capture-len, printing status, result and the file', async () => {
    const rec = cli(['record', '--server', server, '--packet-limit', '10', '--max-capture-len', '60', FILTER]);
    await until(() => rec.out().includes('Status:'), 'the first status line');
    await sendDatagrams(30);
    expect(await rec.exited).toBe(0);
    expect(rec.err()).toContain('Started recording. Press CTRL+C to stop.');
    const lines = rec.out().trim().split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Status: 0 packets \(0 bytes\) written$/);
    expect(lines.at(-2)).toMatch(/ Result: 10 packets \(600 bytes\) written$/);
    const path = /Output: (.*)$/.exec(lines.at(-1)!)![1]!;
    expect(path).toMatch(new RegExp(`^${recordingsDir}/hubble_\\d+_\\d+_e2e-rec\\.pcap$`));
    const rows = await readRecording(path);
    expect(rows).toHaveLength(10);
    for (const row of rows) {
      expect(row).toMatchObject({ 'ip.src': '127.0.0.1', 'ip.dst': '127.0.0.1', 'udp.dstport': String(PORT) });
      expect(Number(row['frame.cap_len'])).toBe(60);
      expect(Number(row['frame.len'])).toBe(14 + 20 + 8 + 100);
    }
  });

  it('stops on Ctrl-C, prints where the file is, and the file holds what the statistics said', async () => {
    const rec = cli(['record', '--server', server, '--file-prefix', 'ctrlc', FILTER]);
    await until(() => rec.out().includes('Status:'), 'the first status line');
    await sendDatagrams(15);
    await until(() => rec.out().includes('Status: 15 packets'), 'the statistics to show every packet');
    rec.child.kill('SIGINT');
    expect(await rec.exited).toBe(0);
    expect(rec.err()).toContain('Stopping recording...');
    const result = /Result: (\d+) packets \((\d+) bytes\) written\n.* Output: (\S+)\n$/.exec(rec.out())!;
    expect(result).not.toBeNull();
    const rows = await readRecording(result[3]!);
    expect(rows).toHaveLength(15);
    expect(Number(result[1])).toBe(15);
    expect(Number(result[2])).toBe(15 * 142);
  });

  it('refuses a bad request with one line and a non-zero exit', async () => {
    const prefix = await run(['record', '--server', server, '--file-prefix', '../x', FILTER]);
    expect(prefix.code).not.toBe(0);
    expect(
      prefix.err
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('Started')),
    ).toEqual([
      'hubble-ts: recording failed (INVALID_ARGUMENT): invalid file sink prefix: "../x" (must match ^[a-z][a-z0-9]{0,19}$)',
    ]);
    const filter = await run(['record', '--server', server, '10.0.0.0/8 0 10.0.0.0/8 80']);
    expect(filter.code).not.toBe(0);
    expect(filter.err.trim()).toBe('hubble-ts: invalid 5-tuple filter: ["10.0.0.0/8" "0" "10.0.0.0/8" "80"]');
  });

  it('stops the recording when the record client is killed, leaving a valid file', async () => {
    const rec = cli(['record', '--server', server, '--file-prefix', 'killed', FILTER]);
    await until(() => rec.out().includes('Status:'), 'the first status line');
    await sendDatagrams(5);
    await until(() => rec.out().includes('Status: 5 packets'), 'five packets');
    rec.child.kill('SIGKILL');
    await rec.exited;
    let listed = '';
    await until(() => {
      listed = readdirSync(recordingsDir).find((n) => n.startsWith('killed_')) ?? '';
      return listed !== '';
    }, 'the file');
    const list = async () => (await run(['recordings', 'list', '--server', server])).out;
    let table = await list();
    for (let i = 0; i < 50 && !new RegExp(`${listed}.*done`).test(table); i++) {
      await new Promise((r) => setTimeout(r, 100));
      table = await list();
    }
    expect(table).toMatch(new RegExp(`${listed}\\s+\\S+\\s+\\S+\\s+done\\s+5 packets \\(710 bytes\\) written`));
    expect(await readRecording(join(recordingsDir, listed))).toHaveLength(5);
  });

  it('lists, downloads and deletes recordings', async () => {
    const json = await run(['recordings', 'list', '--server', server, '-o', 'json']);
    expect(json.code).toBe(0);
    const entries = json.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    const ctrlc = entries.find((e) => String(e['name']).startsWith('ctrlc_'))!;
    expect(ctrlc).toMatchObject({ node_name: 'e2e-rec', stats: { packets_captured: '15' } });
    const target = join(dir, 'copy.pcap');
    const dl = await run(['recordings', 'download', ctrlc['name'], '--server', server, '-o', target]);
    expect(dl.code).toBe(0);
    expect(readFileSync(target).equals(readFileSync(ctrlc['file_path']))).toBe(true);
    const again = await run(['recordings', 'download', ctrlc['name'], '--server', server, '-o', target]);
    expect(again.code).not.toBe(0);
    expect(again.err).toMatch(/EEXIST/);
    expect(readFileSync(target).equals(readFileSync(ctrlc['file_path']))).toBe(true);
    const del = await run(['recordings', 'delete', ctrlc['name'], '--server', server]);
    expect(del.out).toBe(`deleted ${ctrlc['name']}\n`);
    const gone = await run(['recordings', 'delete', ctrlc['name'], '--server', server]);
    expect(gone.code).not.toBe(0);
    expect(gone.err).toBe(`hubble-ts: recording "${ctrlc['name']}": no such recording\n`);
    const hostile = await run(['recordings', 'download', '../hubble.sock', '--server', server, '-o', '-']);
    expect(hostile.code).not.toBe(0);
    expect(hostile.err).toMatch(/is not a recording name/);
  });

  it('streams a running recording to stdout with download --follow -o -, a valid pcap that ends when it stops', async () => {
    const rec = cli(['record', '--server', server, '--file-prefix', 'piped', FILTER]);
    await until(() => rec.out().includes('Status:'), 'the first status line');
    const name = readdirSync(recordingsDir).find((n) => n.startsWith('piped_'))!;
    const follow = cli(['recordings', 'download', name, '--follow', '-o', '-', '--server', server]);
    await until(() => follow.stdout().length >= 24, 'the pcap header');
    await sendDatagrams(10);
    await until(() => follow.stdout().length >= 24 + 10 * 158, 'ten records on the pipe');
    const partial = join(dir, 'partial.pcap');
    writeFileSync(partial, follow.stdout());
    expect(await readRecording(partial)).toHaveLength(10);
    await sendDatagrams(10);
    await until(() => follow.stdout().length >= 24 + 20 * 158, 'twenty records on the pipe');
    expect(follow.child.exitCode).toBeNull();
    const running = await run(['recordings', 'delete', name, '--server', server]);
    expect(running.code).not.toBe(0);
    expect(running.err).toBe(
      `hubble-ts: recording "${name}" is still running: stop it first, or delete it with --stop\n`,
    );
    rec.child.kill('SIGINT');
    expect(await rec.exited).toBe(0);
    expect(await follow.exited).toBe(0);
    const path = /Output: (\S+)/.exec(rec.out())![1]!;
    expect(follow.stdout().equals(readFileSync(path))).toBe(true);
    writeFileSync(partial, follow.stdout());
    expect(await readRecording(partial)).toHaveLength(20);
  });

  it('record --output FILE downloads the finished pcap, the same bytes as the server keeps', async () => {
    const target = join(dir, 'record-output.pcap');
    const rec = cli([
      'record',
      '--server',
      server,
      '--file-prefix',
      'outfile',
      '--packet-limit',
      '6',
      '-o',
      target,
      FILTER,
    ]);
    await until(() => rec.out().includes('Status:'), 'the first status line');
    await sendDatagrams(10);
    expect(await rec.exited).toBe(0);
    expect(rec.err()).toContain(`wrote ${target}\n`);
    const path = /Output: (\S+)/.exec(rec.out())![1]!;
    expect(readFileSync(target).equals(readFileSync(path))).toBe(true);
    expect(await readRecording(target)).toHaveLength(6);
    // Never over an existing file, and refused before anything is recorded.
    const again = await run(['record', '--server', server, '--file-prefix', 'outfile', '-o', target, FILTER]);
    expect(again.code).not.toBe(0);
    expect(again.err.trim()).toBe(
      `hubble-ts: ${target} already exists: choose another --output (recordings are never written over files)`,
    );
  });

  it('record --output - streams the pcap to stdout while recording, human lines on stderr, Ctrl-C ends both', async () => {
    const rec = cli(['record', '--server', server, '--file-prefix', 'stdout', '--output', '-', FILTER]);
    await until(() => rec.err().includes('Status:'), 'the first status line on stderr');
    await until(() => rec.stdout().length >= 24, 'the pcap header on stdout');
    await sendDatagrams(7);
    await until(() => rec.stdout().length >= 24 + 7 * 158, 'seven records on stdout while recording');
    rec.child.kill('SIGINT');
    expect(await rec.exited).toBe(0);
    const path = /Output: (\S+)/.exec(rec.err())![1]!;
    expect(rec.err()).toMatch(/ Result: 7 packets \(994 bytes\) written\n/);
    expect(rec.stdout().equals(readFileSync(path))).toBe(true);
    const copy = join(dir, 'stdout-copy.pcap');
    writeFileSync(copy, rec.stdout());
    expect(await readRecording(copy)).toHaveLength(7);
  });

  it('keeps one status line on a terminal, redrawn with packets, bytes, lost and elapsed time', async () => {
    let screen = '';
    const stopRecording = new AbortController();
    const io = {
      stdout: Object.assign({ write: (t: string) => (screen += t) }, { isTTY: true }),
      stderr: { write: () => true },
      signal: stopRecording.signal,
    };
    const done = recordCommand(io).parseAsync(['--server', server, '--file-prefix', 'tty', FILTER], { from: 'user' });
    await until(() => screen.includes('Status:'), 'the first status line');
    await sendDatagrams(4);
    await until(() => screen.includes('4 packets (568 bytes) written, 0 packets (0 bytes) lost'), 'four packets');
    // The line is redrawn every second; a test worker held up for a second under load may show 2s before any 1s.
    await until(() => / [1-9]\d*s elapsed/.test(screen), 'the elapsed time to move', 5_000);
    stopRecording.abort();
    await done;
    const lines = screen.split('\n').filter((l) => l.includes('Status:'));
    // Every status line but the first starts by moving up over the previous one and erasing it.
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Status: 0 packets \(0 bytes\) written, 0 packets \(0 bytes\) lost, 0s elapsed$/,
    );
    for (const line of lines.slice(1)) expect(line.startsWith('\x1b[A\x1b[2K')).toBe(true);
    // The last status line stays on screen above the result.
    expect(screen).toMatch(/lost, \d+s elapsed\n\S+ Result: 4 packets \(568 bytes\) written\n\S+ Output: \S+\n$/);
  });

  it('answers ten running recordings on SIGTERM with stopped responses, and leaves ten valid files', async () => {
    const client = new RecorderClient(server, grpc.credentials.createInsecure());
    const streams = Array.from({ length: 10 }, (_, i) =>
      new RecordStream(client).start({
        filesink: { filePrefix: `term${i}` },
        include: [
          {
            sourceCidr: '127.0.0.1/32',
            sourcePort: 0,
            destinationCidr: '127.0.0.1/32',
            destinationPort: PORT,
            protocol: 17,
          },
        ],
      }),
    );
    await Promise.all(streams.map((s) => s.running()));
    await sendDatagrams(8, 5);
    await Promise.all(streams.map((s) => s.waitFor((r) => r.running?.stats?.packetsCaptured === 8)));
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    const stopped = await Promise.all(streams.map((s) => s.stopped()));
    expect(await Promise.all(streams.map((s) => s.ended))).toEqual(Array(10).fill(undefined));
    const files = await Promise.all(stopped.map((r) => readRecording(r.stopped!.filesink!.filePath)));
    for (const [i, rows] of files.entries()) {
      expect(rows).toHaveLength(8);
      expect(stopped[i]!.stopped!.stats).toMatchObject({ packetsCaptured: 8, bytesCaptured: 8 * 142 });
    }
    client.close();
  });
});

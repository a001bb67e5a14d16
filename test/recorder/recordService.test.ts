// recorder.Recorder end to end over the node's unix socket: real sinks write real files from packets replayed through
// the monitor agent, and tshark judges every file. Covers Hubble's stream semantics, each refusal, stop conditions,
// clients that vanish, a failing file, running out of rule ids, and a shutdown during ten recordings.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Protocol, type RecordResponse } from '../../src/api/recorder/recorder.js';
import { RuleIdPool } from '../../src/recorder/ruleIds.js';
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

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function statsOf(r: RecordResponse) {
  return (r.running ?? r.stopped)!.stats!;
}

describe('recorder.Record over the unix socket', () => {
  let t: TestNode;
  const packets = syntheticPackets(20);
  let capture: string;

  beforeAll(async () => {
    t = await startTestNode();
    capture = writeSyntheticCapture(packets);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a start with a running response at once and StopRecording with the final statistics and file', async () => {
    const stream = new RecordStream(t.recorder).start({ include: [WEB_FILTER] });
    const first = await stream.running();
    expect(first).toMatchObject({
      nodeName: 'rec-node',
      running: { stats: { packetsCaptured: 0, bytesCaptured: 0, packetsLost: 0, bytesLost: 0 } },
    });
    expect(first.time!.seconds).toBeGreaterThan(1_600_000_000);
    await replay(t.node, capture);
    await stream.waitFor((r) => r.running?.stats?.packetsCaptured === 20);
    stream.stop();
    const stopped = await stream.stopped();
    expect(await stream.ended).toBeUndefined();
    const path = stopped.stopped!.filesink!.filePath;
    expect(dirname(path)).toBe(t.node.store.dir);
    expect(path).toMatch(/\/hubble_\d+_\d+_rec-node\.pcap$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const rows = await readRecording(path);
    const expected = packets.filter(
      (p) => p.protocol === 'tcp' && p.src.startsWith('10.') && p.dst.startsWith('192.168.') && p.dport === 80,
    );
    expect(rows).toHaveLength(expected.length);
    expect(stopped.stopped!.stats).toEqual({
      packetsCaptured: expected.length,
      bytesCaptured: expected.reduce((n, p) => n + p.length, 0),
      packetsLost: 0,
      bytesLost: 0,
    });
    for (const [i, row] of rows.entries()) {
      expect(row).toMatchObject({ 'ip.src': expected[i]!.src, 'ip.dst': '192.168.1.10', 'tcp.dstport': '80' });
      expect(Number(row['frame.len'])).toBe(expected[i]!.length);
    }
    // Running responses come coalesced, never more often than statistics change, and only ever grow.
    const running = stream.responses.filter((r) => r.running);
    expect(running.length).toBeLessThanOrEqual(expected.length + 1);
    for (let i = 1; i < running.length; i++)
      expect(statsOf(running[i]!).packetsCaptured).toBeGreaterThanOrEqual(statsOf(running[i - 1]!).packetsCaptured);
    expect(stream.responses.at(-1)).toBe(stopped);
  });

  it('stops exactly at the packet limit, cuts every packet to max-capture-len, and names the file with the prefix', async () => {
    const stream = new RecordStream(t.recorder).start({
      filesink: { filePrefix: 'limited' },
      include: [anyFilter, { ...anyFilter, sourceCidr: '::/0', destinationCidr: '::/0' }],
      maxCaptureLength: 64,
      stopCondition: { packetsCapturedCount: 17 },
    });
    await stream.running();
    await replay(t.node, capture);
    const stopped = await stream.stopped();
    const path = stopped.stopped!.filesink!.filePath;
    expect(path).toMatch(/\/limited_\d+_\d+_rec-node\.pcap$/);
    const rows = await readRecording(path);
    expect(rows).toHaveLength(17);
    expect(stopped.stopped!.stats!.packetsCaptured).toBe(17);
    expect(stopped.stopped!.stats!.bytesCaptured).toBe(17 * 64);
    for (const [i, row] of rows.entries()) {
      expect(Number(row['frame.cap_len'])).toBe(64);
      expect(Number(row['frame.len'])).toBe(packets[i]!.length);
    }
  });

  it('stops at the byte limit with the record that reaches it', async () => {
    const stream = new RecordStream(t.recorder).start({
      include: [WEB_FILTER],
      stopCondition: { bytesCapturedCount: 1000 },
    });
    await stream.running();
    await replay(t.node, capture);
    const stopped = await stream.stopped();
    const rows = await readRecording(stopped.stopped!.filesink!.filePath);
    const perPacket = packets[0]!.length;
    expect(rows).toHaveLength(Math.ceil(1000 / perPacket));
    expect(stopped.stopped!.stats!.bytesCaptured).toBe(rows.length * perPacket);
  });

  it('stops at the time limit with a stopped response', async () => {
    const started = Date.now();
    const stream = new RecordStream(t.recorder).start({
      include: [WEB_FILTER],
      stopCondition: { timeElapsed: { seconds: 0, nanos: 300_000_000 } },
    });
    const stopped = await stream.stopped();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await readRecording(stopped.stopped!.filesink!.filePath)).toEqual([]);
    expect(await stream.ended).toBeUndefined();
  });

  it('records IPv6 with an IPv6 filter and SCTP-only filters match nothing here', async () => {
    const stream = new RecordStream(t.recorder).start({
      include: [
        {
          sourceCidr: 'fd00::/64',
          sourcePort: 0,
          destinationCidr: 'fd00::2/128',
          destinationPort: 53,
          protocol: Protocol.PROTOCOL_UDP,
        },
        { ...anyFilter, protocol: Protocol.PROTOCOL_SCTP },
      ],
    });
    await stream.running();
    await replay(t.node, capture);
    await stream.waitFor((r) => r.running?.stats?.packetsCaptured === 20);
    stream.stop();
    const rows = await readRecording((await stream.stopped()).stopped!.filesink!.filePath);
    expect(rows).toHaveLength(20);
    for (const row of rows) expect(row).toMatchObject({ 'ipv6.src': 'fd00::1', 'udp.dstport': '53' });
  });

  const refusals: Array<[string, (s: RecordStream) => void, number, RegExp]> = [
    ['a stop as the first message', (s) => s.stop(), grpc.status.INVALID_ARGUMENT, /expected a start request/],
    [
      'no include filter',
      (s) => s.start({}),
      grpc.status.INVALID_ARGUMENT,
      /need to specify at least one include filter/,
    ],
    [
      'an invalid file prefix',
      (s) => s.start({ include: [anyFilter], filesink: { filePrefix: '../../etc/x' } }),
      grpc.status.INVALID_ARGUMENT,
      /invalid file sink prefix: "\.\.\/\.\.\/etc\/x"/,
    ],
    [
      'mixed address families',
      (s) => s.start({ include: [{ ...anyFilter, destinationCidr: '::/0' }] }),
      grpc.status.INVALID_ARGUMENT,
      /must be same protocol version/,
    ],
    [
      'a port out of range',
      (s) => s.start({ include: [{ ...anyFilter, destinationPort: 65536 }] }),
      grpc.status.INVALID_ARGUMENT,
      /destination port 65536 out of range/,
    ],
    [
      'a bad CIDR',
      (s) => s.start({ include: [{ ...anyFilter, sourceCidr: '10.0.0.0/99' }] }),
      grpc.status.INVALID_ARGUMENT,
      /failed to parse source cidr "10\.0\.0\.0\/99"/,
    ],
    [
      'an unsupported protocol',
      (s) => s.start({ include: [{ ...anyFilter, protocol: 1 as Protocol }] }),
      grpc.status.INVALID_ARGUMENT,
      /unsupported protocol 1/,
    ],
    [
      'a stream closed before any start',
      (s) => s.call.end(),
      grpc.status.INVALID_ARGUMENT,
      /closed before a start request/,
    ],
  ];

  it.each(refusals)('refuses %s with the status and a reason, creating no file', async (_case, send, code, message) => {
    const before = (await t.node.store.list()).length;
    const stream = new RecordStream(t.recorder);
    send(stream);
    const err = await stream.ended;
    expect(err?.code).toBe(code);
    expect(err?.details).toMatch(message);
    expect(stream.responses).toEqual([]);
    expect((await t.node.store.list()).length).toBe(before);
  });

  it('refuses a second start on a running stream, keeping the first recording as a valid file', async () => {
    const stream = new RecordStream(t.recorder).start({ include: [WEB_FILTER], filesink: { filePrefix: 'twice' } });
    await stream.running();
    await replay(t.node, capture);
    await stream.waitFor((r) => r.running?.stats?.packetsCaptured === 20);
    stream.start({ include: [WEB_FILTER] });
    const err = await stream.ended;
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/expected a stop request/);
    await until(() => t.node.recorder.ruleIds.leased === 0, 'the rule id to be released');
    const file = (await t.node.store.list()).find((r) => r.name.startsWith('twice_'))!;
    expect(file.running).toBe(false);
    expect(await readRecording(file.path)).toHaveLength(20);
  });

  it.each([
    ['cancels its call', (s: RecordStream) => s.call.cancel()],
    ['half-closes its side', (s: RecordStream) => s.call.end()],
  ])('stops the recording when the client %s, leaving a valid file and releasing the rule id', async (_case, leave) => {
    const stream = new RecordStream(t.recorder).start({ include: [WEB_FILTER], filesink: { filePrefix: 'gone' } });
    await stream.running();
    await replay(t.node, capture);
    await stream.waitFor((r) => r.running?.stats?.packetsCaptured === 20);
    leave(stream);
    await until(
      () => t.node.recorder.activeRecordings === 0 && t.node.recorder.ruleIds.leased === 0,
      'the recording to end',
    );
    const files = (await t.node.store.list()).filter((r) => r.name.startsWith('gone_'));
    const last = files.at(-1)!;
    expect(last.running).toBe(false);
    expect(last.stats?.packetsCaptured).toBe(20);
    expect(await readRecording(last.path)).toHaveLength(20);
  });

  it('ends the stream with DATA_LOSS when its file is removed, while another recording carries on', async () => {
    const doomed = new RecordStream(t.recorder).start({ include: [WEB_FILTER], filesink: { filePrefix: 'doomed' } });
    const survivor = new RecordStream(t.recorder).start({
      include: [WEB_FILTER],
      filesink: { filePrefix: 'survivor' },
    });
    await doomed.running();
    await survivor.running();
    await replay(t.node, capture);
    await doomed.waitFor((r) => r.running?.stats?.packetsCaptured === 20);
    const doomedFile = (await t.node.store.list()).find((r) => r.name.startsWith('doomed_'))!;
    unlinkSync(doomedFile.path);
    // The writer notices on a later write once its identity check is due.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await replay(t.node, capture);
    }
    const err = await doomed.ended;
    expect(err?.code).toBe(grpc.status.DATA_LOSS);
    expect(err?.details).toMatch(/recording failed: .*doomed_/);
    await survivor.waitFor((r) => r.running?.stats?.packetsCaptured === 220);
    survivor.stop();
    const stopped = await survivor.stopped();
    expect(await readRecording(stopped.stopped!.filesink!.filePath)).toHaveLength(220);
    await until(() => t.node.recorder.ruleIds.leased === 0, 'both rule ids to be released');
  });
});

describe('recorder rule ids', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({}, { ruleIds: new RuleIdPool(1, 2) });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses with RESOURCE_EXHAUSTED when every rule id is in use, and starts again once one is free', async () => {
    const a = new RecordStream(t.recorder).start({ include: [anyFilter] });
    const b = new RecordStream(t.recorder).start({ include: [anyFilter] });
    await a.running();
    await b.running();
    const c = new RecordStream(t.recorder).start({ include: [anyFilter] });
    const err = await c.ended;
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err?.details).toMatch(/unable to allocate capture rule id: all 2 are in use/);
    a.stop();
    await a.stopped();
    await until(() => t.node.recorder.ruleIds.leased === 1, 'the rule id to be released');
    const d = new RecordStream(t.recorder).start({ include: [anyFilter] });
    await d.running();
    b.stop();
    d.stop();
    await Promise.all([b.stopped(), d.stopped()]);
  });
});

describe('recordings beyond the file descriptors the server may open', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses with RESOURCE_EXHAUSTED saying too many files are open, and the recordings already running go on', async () => {
    // This test process is the server: its soft limit (ulimit -n) set just above what it has open now.
    const [soft, hard] = execFileSync('prlimit', [
      '--pid',
      String(process.pid),
      '--nofile',
      '--raw',
      '--noheadings',
      '-o',
      'SOFT,HARD',
    ])
      .toString()
      .trim()
      .split(/\s+/);
    const open = readdirSync('/proc/self/fd').length;
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${open + 8}:${hard}`]);
    const streams: RecordStream[] = [];
    let outcomes: (grpc.ServiceError | 'running')[] = [];
    let running: RecordStream[] = [];
    try {
      for (let i = 0; i < 16; i++) streams.push(new RecordStream(t.recorder).start({ include: [anyFilter] }));
      outcomes = await Promise.all(
        streams.map((s) =>
          Promise.race([
            s.running().then(() => 'running' as const),
            s.ended.then((err) => err ?? ({ code: grpc.status.OK, details: 'ended' } as grpc.ServiceError)),
          ]),
        ),
      );
      running = streams.filter((_, i) => outcomes[i] === 'running');
      // Stopped, their files are closed: room again to run prlimit.
      for (const s of running) s.stop();
      for (const s of running) expect((await s.stopped()).stopped).toBeDefined();
    } finally {
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${hard}`], { stdio: 'ignore' });
    }
    const refusals = outcomes.filter((o) => o !== 'running');
    expect(refusals.length).toBeGreaterThan(0);
    for (const err of refusals) {
      expect(err.code, err.details).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(err.details).toMatch(/too many open files/);
    }
    expect(running.length).toBeGreaterThan(0);
  });
});

describe('recordings on a full disk', () => {
  let mount: string | undefined;
  let t: TestNode | undefined;

  beforeAll(async () => {
    mount = mkdtempSync(join(tmpdir(), 'hubble-ts-tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', mount], { stdio: 'ignore' });
    } catch {
      rmSync(mount, { recursive: true });
      mount = undefined; // not root, or no mount namespace: nothing to test here
      return;
    }
    mkdirSync(join(mount, 'rec'), { mode: 0o700 });
    t = await startTestNode({ 'recordings-dir': join(mount, 'rec') });
  });
  afterAll(async () => {
    await t?.close();
    if (mount !== undefined) {
      execFileSync('umount', [mount]);
      rmSync(mount, { recursive: true });
    }
  });

  it('ends the stream with RESOURCE_EXHAUSTED saying the disk is full, keeping a valid file', async (ctx) => {
    if (t === undefined) ctx.skip();
    const big = writeSyntheticCapture(syntheticPackets(100, 1400), 1400);
    const stream = new RecordStream(t!.recorder).start({ include: [anyFilter] });
    await stream.running();
    await replay(t!.node, big);
    const err = await stream.ended;
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err?.details).toMatch(/disk full/);
    const file = (await t!.node.store.list())[0]!;
    const rows = await readRecording(file.path);
    expect(rows.length).toBeGreaterThan(0);
    await until(() => t!.node.recorder.ruleIds.leased === 0, 'the rule id to be released');
  });
});

describe('recorder on shutdown', () => {
  it('answers ten running recordings with stopped responses and leaves ten valid files', async () => {
    const t = await startTestNode();
    const capture = writeSyntheticCapture(syntheticPackets(10));
    const streams = Array.from({ length: 10 }, (_, i) =>
      new RecordStream(t.recorder).start({
        filesink: { filePrefix: `shut${i}` },
        include: [i % 2 === 0 ? WEB_FILTER : anyFilter],
      }),
    );
    await Promise.all(streams.map((s) => s.running()));
    await replay(t.node, capture);
    await t.close();
    const stopped = await Promise.all(streams.map((s) => s.stopped()));
    expect(await Promise.all(streams.map((s) => s.ended))).toEqual(Array(10).fill(undefined));
    const files = await Promise.all(stopped.map((r) => readRecording(r.stopped!.filesink!.filePath)));
    for (const [i, rows] of files.entries()) {
      expect(rows).toHaveLength(i % 2 === 0 ? 10 : 50);
      expect(stopped[i]!.stopped!.stats!.packetsCaptured).toBe(rows.length);
    }
  });
});

describe('recorder with a full sink queue', () => {
  it('drops and counts what does not fit, reports it in the statistics, and writes the rest', async () => {
    const t = await startTestNode({ 'sink-queue-size': 1 });
    try {
      const packets = syntheticPackets(300);
      const capture = writeSyntheticCapture(packets);
      const stream = new RecordStream(t.recorder).start({ include: [anyFilter] });
      await stream.running();
      await replay(t.node, capture);
      await new Promise((r) => setTimeout(r, 300));
      stream.stop();
      const stats = (await stream.stopped()).stopped!.stats!;
      const matched = packets.filter((p) => !p.src.includes(':'));
      expect(stats.packetsLost).toBeGreaterThan(0);
      expect(stats.packetsCaptured + stats.packetsLost).toBe(matched.length);
      expect(stats.bytesCaptured + stats.bytesLost).toBe(matched.reduce((n, p) => n + p.length, 0));
      expect(await readRecording((await stream.stopped()).stopped!.filesink!.filePath)).toHaveLength(
        stats.packetsCaptured,
      );
    } finally {
      await t.close();
    }
  });
});

describe('recordings directory policy at startup', () => {
  it('refuses to start with a recordings directory other users can read, saying how to fix it', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'hubble-ts-open-')), 'rec');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    await expect(startTestNode({ 'recordings-dir': dir })).rejects.toThrow(
      expect.objectContaining({
        name: 'ConfigError',
        message: expect.stringMatching(/open to other users.*chmod 700/),
      }),
    );
  });
});

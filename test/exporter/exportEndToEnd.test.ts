// What an operator sees: `hubble-ts serve --export-file-path FILE` as a process, replaying a crafted capture (and
// capturing loopback live where new traffic must arrive later), the export file read as a log shipper would.
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { VERSION } from '../../src/server/version.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type CliProcess } from '../harness/cli.js';
import { freePort } from '../relay/harness.js';
import { ethernet, icmp, ipv4, tcp, udp } from '../harness/frames.js';
import { writePcap } from '../harness/pcapFiles.js';
import { mountTmpfs, type Tmpfs } from '../harness/tmpfs.js';

const EPOCH = 1_700_000_000; // 2023-11-14T22:13:20Z
const NODE = 'export-node';

/** Packet k, k ms after EPOCH: UDP 10.0.0.1:30000+k -> 10.9.9.9:53, TCP SYN 10.0.0.2:40000+k -> 10.0.0.3:80, or ICMP echo. */
function craftCapture(dir: string, count: number): string {
  const records = [];
  for (let k = 0; k < count; k++) {
    let l3: Uint8Array;
    if (k % 3 === 0)
      l3 = ipv4({ src: '10.0.0.1', dst: '10.9.9.9', protocol: 17 }, udp(30_000 + k, 53, new Uint8Array(8)));
    else if (k % 3 === 1)
      l3 = ipv4({ src: '10.0.0.2', dst: '10.0.0.3', protocol: 6 }, tcp({ sport: 40_000 + k, dport: 80, flags: 0x02 }));
    else l3 = ipv4({ src: '10.0.0.4', dst: '10.0.0.5', protocol: 1 }, icmp(8, 0, k, 1));
    records.push({
      seconds: EPOCH + Math.floor(k / 1000),
      fraction: (k % 1000) * 1000,
      data: ethernet({ type: 0x0800 }, l3),
    });
  }
  const path = join(dir, `capture-${count}.pcap`);
  writeFileSync(path, writePcap(records, { linkType: 1 }));
  return path;
}

/** RFC 3339 as protojson prints packet k's time: 0, 3, 6 or 9 fraction digits. */
function timeOf(k: number): string {
  const ms = k % 1000;
  const s = new Date((EPOCH + Math.floor(k / 1000)) * 1000).toISOString().slice(0, 19);
  return ms === 0 ? `${s}Z` : `${s}.${String(ms).padStart(3, '0')}Z`;
}

/** The packet index a flow's time encodes. */
function indexOf(time: string): number {
  return Math.round((Date.parse(time) - EPOCH * 1000) / 1);
}

function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `hubble-ts-export-${label}-`));
}

interface Serve extends CliProcess {
  socket: string;
  /** pino lines with this msg. */
  logs(msg: string): Array<Record<string, any>>;
}

function startServe(dir: string, args: readonly string[]): Serve {
  const socket = join(dir, 'hubble.sock');
  const p = spawnCli([
    'serve',
    '--socket-path',
    socket,
    '--recordings-dir',
    join(dir, 'recordings'),
    '--node-name',
    NODE,
    ...args,
  ]);
  const logs = (msg: string) =>
    p
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>)
      .filter((l) => l['msg'] === msg);
  return Object.assign(p, { socket, logs });
}

async function replayed(serve: Serve): Promise<void> {
  await serve.waitFor((out) => out.includes('"msg":"source ended"'), 30_000, 'the replay to end');
}

/** Lines of a file (every one must end in "\n"), or of gzip'd bytes. */
function fileLines(content: string | Buffer): string[] {
  const text = typeof content === 'string' ? content : content.toString();
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text.split('\n').slice(0, -1);
}

describe('serve --export-file-path', () => {
  let dir: string;
  let pcap: string;
  const count = 300;

  beforeAll(() => {
    dir = tempDir('main');
    pcap = craftCapture(dir, count);
  });

  it('writes, line for line, what hubble-ts observe --all -o json prints, into a 0600 file in a new 0700 directory', async () => {
    const exportFile = join(dir, 'out', 'nested', 'events.log');
    const serve = startServe(dir, ['--source', `pcap:${pcap}`, '--export-file-path', exportFile]);
    await replayed(serve);
    const observed = await runCli(['observe', '--server', `unix://${serve.socket}`, '--all', '-o', 'json']);
    expect(observed.code).toBe(0);
    expect(await serve.stop('SIGTERM')).toBe(0);

    const exported = fileLines(readFileSync(exportFile, 'utf8'));
    const printed = fileLines(observed.stdout);
    expect(printed).toHaveLength(count);
    // observe prints GetFlowsResponse {flow, node_name, time}; the exporter writes ExportEvent {flow, node_name, time}:
    // for flows the two messages print the same JSON, so the lines must be identical, byte for byte.
    expect(exported).toEqual(printed);

    expect(statSync(exportFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'out')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'out', 'nested')).mode & 0o777).toBe(0o700);
    expect(serve.logs('flow export closed')).toEqual([
      expect.objectContaining({ file: exportFile, written: count, dropped: 0, errors: 0 }),
    ]);

    // A few fields against the proto3 JSON mapping, written by hand, in the order flow.proto declares them (as Go's
    // protojson writes them): time, uuid, emitter, verdict, ethernet, IP, l4, ...
    const udpPrefix =
      `{"flow":{"time":"2023-11-14T22:13:20Z","uuid":"UUID","emitter":{"name":"hubble-ts","version":"${VERSION}"},` +
      `"verdict":"FORWARDED","ethernet":{"source":"02:00:00:00:00:01","destination":"02:00:00:00:00:02"},` +
      `"IP":{"source":"10.0.0.1","destination":"10.9.9.9","ipVersion":"IPv4"},"l4":{"UDP":{"source_port":30000,"destination_port":53}},`;
    const firstLine = exported[0]!.replace(/"uuid":"[0-9a-f-]{36}"/, '"uuid":"UUID"');
    expect(firstLine.slice(0, udpPrefix.length)).toBe(udpPrefix);
    const udpFlow = JSON.parse(exported[0]!);
    expect(udpFlow).toMatchObject({
      flow: { Type: 'L3_L4', node_name: NODE, source: { identity: 2, labels: ['reserved:world'] } },
      node_name: NODE,
      time: '2023-11-14T22:13:20Z',
    });
    expect(JSON.parse(exported[1]!)).toMatchObject({
      flow: {
        time: '2023-11-14T22:13:20.001Z',
        IP: { source: '10.0.0.2', destination: '10.0.0.3', ipVersion: 'IPv4' },
        l4: { TCP: { source_port: 40001, destination_port: 80, flags: { SYN: true } } },
      },
      time: '2023-11-14T22:13:20.001Z',
    });
    expect(JSON.parse(exported[2]!)).toMatchObject({ flow: { l4: { ICMPv4: { type: 8 } } } });
  });

  it('takes allow/deny lists and a field mask, from the YAML config file as from flags', async () => {
    const exportFile = join(dir, 'filtered.log');
    const config = join(dir, 'serve.yaml');
    writeFileSync(
      config,
      [
        `export-file-path: ${exportFile}`,
        `export-allowlist:`,
        `  - '{"protocol":["udp"]},{"protocol":["icmp"]}'`, // Cilium's documentation writes lists with commas
        `export-denylist: '{"source_port":["30003"]}'`,
        `export-fieldmask: time IP.source l4.UDP.source_port l4.ICMPv4.type`, // ConfigMap style: spaces
        '',
      ].join('\n'),
    );
    const serve = startServe(dir, ['--source', `pcap:${pcap}`, '--config', config]);
    await replayed(serve);
    expect(await serve.stop('SIGTERM')).toBe(0);

    const expected: string[] = [];
    for (let k = 0; k < count; k++) {
      if (k % 3 === 1 || k === 3) continue; // TCP is not allowed; source port 30003 is denied
      const l4 = k % 3 === 0 ? `{"UDP":{"source_port":${30_000 + k}}}` : `{"ICMPv4":{"type":8}}`;
      const src = k % 3 === 0 ? '10.0.0.1' : '10.0.0.4';
      // Upstream takes node_name and time from the masked flow: node_name is not in the mask, so it is left out.
      expected.push(`{"flow":{"time":"${timeOf(k)}","IP":{"source":"${src}"},"l4":${l4}},"time":"${timeOf(k)}"}`);
    }
    expect(fileLines(readFileSync(exportFile, 'utf8'))).toEqual(expected);
  });

  it.each([
    [
      'an allowlist that is not a FlowFilter',
      ['--export-allowlist', '{"verdict":["NOPE"]}'],
      /^hubble-ts: --export-allowlist: JSON is not a valid flow.FlowFilter: .*flow.Verdict from JSON: "NOPE"$/,
    ],
    [
      'a denylist filter that cannot be used',
      ['--export-denylist', '{"source_ip":["not-an-ip"]}'],
      /^hubble-ts: --export-denylist: invalid flow filter: source_ip: "not-an-ip"/,
    ],
    [
      'a JSON list instead of objects',
      ['--export-allowlist', '[{"verdict":["DROPPED"]}]'],
      /^hubble-ts: --export-allowlist: expected a JSON object/,
    ],
    [
      'a field mask path flow.Flow does not have',
      ['--export-fieldmask', 'time,source.nope'],
      /^hubble-ts: --export-fieldmask: field mask path "source.nope": flow.Flow has no field "source.nope"$/,
    ],
    ['a max size of 0', ['--export-file-max-size-mb', '0'], /^hubble-ts: --export-file-max-size-mb: give at least 1/],
  ])('stops serve with one line naming the flag: %s', async (_name, args, message) => {
    const ran = await runCli([
      'serve',
      '--source',
      `pcap:${pcap}`,
      '--socket-path',
      join(dir, 'refused.sock'),
      '--export-file-path',
      join(dir, 'refused.log'),
      ...args,
    ]);
    expect(ran.code).toBe(2);
    const lines = ran.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it('refuses export settings without a file, and a file it cannot open', async () => {
    const orphan = await runCli(['serve', '--source', `pcap:${pcap}`, '--export-allowlist', '{"verdict":["DROPPED"]}']);
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toBe('hubble-ts: --export-allowlist needs --export-file-path\n');

    mkdirSync(join(dir, 'a-directory'));
    const notAFile = await runCli([
      'serve',
      '--source',
      `pcap:${pcap}`,
      '--socket-path',
      join(dir, 'refused.sock'),
      '--recordings-dir',
      join(dir, 'recordings'),
      '--export-file-path',
      join(dir, 'a-directory'),
    ]);
    expect(notAFile.code).toBe(2);
    expect(notAFile.stderr).toMatch(
      /^hubble-ts: --export-file-path: cannot open export file .*a-directory: EISDIR: illegal operation on a directory.*\n$/,
    );
  });
});

describe('serve --export-file-max-size-mb, --export-file-max-backups, --export-file-compress', () => {
  it('rotates at the size, keeps the newest backups gzip’d under lumberjack’s names, and loses no line in between', async () => {
    const dir = tempDir('rotate');
    const count = 7000; // about 5 MiB of lines
    const pcap = craftCapture(dir, count);
    const exportDir = join(dir, 'export');
    const startedAt = Date.now();
    const serve = startServe(dir, [
      '--source',
      `pcap:${pcap}`,
      '--export-file-path',
      join(exportDir, 'events.log'),
      '--export-file-max-size-mb',
      '1',
      '--export-file-max-backups',
      '2',
      '--export-file-compress',
    ]);
    await replayed(serve);
    expect(await serve.stop('SIGTERM')).toBe(0); // waits for the last compression
    const endedAt = Date.now();

    const names = readdirSync(exportDir).sort();
    expect(names).toHaveLength(3);
    expect(names[2]).toBe('events.log');
    const backups = names.slice(0, 2);
    for (const name of backups) {
      const m = /^events-(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2}\.\d{3})\.log\.gz$/.exec(name);
      expect(m, name).not.toBeNull();
      const rotatedAt = Date.parse(`${m![1]}T${m![2]}:${m![3]}:${m![4]}Z`); // the rotation time, in UTC
      expect(rotatedAt).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(rotatedAt).toBeLessThanOrEqual(endedAt + 1000);
      expect(statSync(join(exportDir, name)).mode & 0o777).toBe(0o600);
    }
    // Oldest first (names sort by time): the two backups, then the current file, hold the last flows in order.
    const parts = [
      ...backups.map((n) => gunzipSync(readFileSync(join(exportDir, n)))),
      readFileSync(join(exportDir, 'events.log')),
    ];
    const indexes: number[] = [];
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(1024 * 1024);
      for (const line of fileLines(part)) indexes.push(indexOf((JSON.parse(line) as any).flow.time));
    }
    expect(parts[0]!.length).toBeGreaterThan(1024 * 1024 - 2000); // full files were rotated, not half-empty ones
    const first = indexes[0]!;
    expect(first).toBeGreaterThan(0); // older backups were removed
    expect(indexes).toEqual(Array.from({ length: count - first }, (_, i) => first + i));
    expect(serve.logs('flow export closed')[0]).toMatchObject({ written: count, dropped: 0 });
  });
});

describe('serve --export-file-path on a full disk', () => {
  let fs: Tmpfs;
  beforeAll(() => {
    fs = mountTmpfs(384, 'export-full');
  });
  afterAll(() => fs?.unmount());

  it('stops exporting with one log line, keeps serving, leaves only whole lines, and resumes when space returns', async () => {
    const dir = tempDir('full');
    const count = 300;
    const pcap = craftCapture(dir, count);
    const ballast = join(fs.dir, 'ballast');
    writeFileSync(ballast, Buffer.alloc(288 * 1024)); // about 96 KiB left: a third of the replay
    const exportFile = join(fs.dir, 'events.log');
    const port = 39_000 + Math.floor(Math.random() * 1000);
    const metricsPort = await freePort();
    const serve = startServe(dir, [
      '--source',
      `pcap:${pcap}`,
      '--source',
      `live:lo:udp port ${port}`,
      '--export-file-path',
      exportFile,
      '--metrics-address',
      `127.0.0.1:${metricsPort}`,
    ]);
    /** One sample of the node's /metrics, as Prometheus scrapes it. */
    const sample = async (name: string): Promise<number | undefined> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.slice(name.length + 1));
    };
    try {
      await serve.waitFor((out) => out.includes('flow export stopped'), 30_000, 'exporting to stop');
      await replayed(serve);
      const stopped = serve.logs(
        'flow export stopped: the export file cannot be written; events are dropped until a retry succeeds',
      );
      expect(stopped).toHaveLength(1);
      expect(stopped[0]).toMatchObject({ level: 50, file: exportFile, err: expect.stringContaining('ENOSPC') });
      // ... and a metric an alert can watch.
      expect(await sample('hubblets_export_stopped')).toBe(1);
      expect(await sample('hubblets_export_write_errors_total')).toBe(1);

      // The observer does not care: GetFlows answers with every replayed flow.
      const observed = await runCli(['observe', '--server', `unix://${serve.socket}`, '--all', '-o', 'json']);
      expect(observed.code).toBe(0);
      expect(fileLines(observed.stdout).length).toBeGreaterThanOrEqual(count);
      // What is in the file is whole lines, the first flows in order.
      const before = fileLines(readFileSync(exportFile, 'utf8'));
      expect(before.length).toBeGreaterThan(0);
      expect(before.length).toBeLessThan(count);
      expect(before.map((l) => indexOf(JSON.parse(l).flow.time))).toEqual(before.map((_, i) => i));

      rmSync(ballast);
      await serve.waitFor((out) => out.includes('"msg":"flow export resumed"'), 15_000, 'exporting to resume');
      expect(await sample('hubblets_export_stopped')).toBe(0);
      // New traffic after the disk emptied reaches the file too.
      const sock = createSocket('udp4');
      const sent = async () => {
        await new Promise<void>((r) => sock.send('hello', port, '127.0.0.1', () => r()));
        return readFileSync(exportFile, 'utf8').includes(`"destination_port":${port}`);
      };
      const deadline = Date.now() + 10_000;
      while (!(await sent())) {
        if (Date.now() > deadline) throw new Error('live flows never reached the export file');
        await new Promise((r) => setTimeout(r, 200));
      }
      sock.close();
    } finally {
      expect(await serve.stop('SIGTERM')).toBe(0);
    }
    const lines = fileLines(readFileSync(exportFile, 'utf8'));
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    // Every replayed flow made it (the queue held them while the disk was full), each once and in order.
    const replayedIndexes = lines
      .map((l) => JSON.parse(l).flow)
      .filter((f) => f.IP.source.startsWith('10.0.0.'))
      .map((f) => indexOf(f.time));
    expect(replayedIndexes).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(serve.logs('flow export closed')[0]).toMatchObject({ written: lines.length, errors: 1, dropped: 0 });
    expect(
      serve.logs('flow export stopped: the export file cannot be written; events are dropped until a retry succeeds'),
    ).toHaveLength(1);
  });
});

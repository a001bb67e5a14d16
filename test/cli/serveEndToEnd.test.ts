// What a new user does: start `hubble-ts serve` as a process, point `hubble-ts observe/status/list` at its socket,
// and see the host's traffic: replayed from a tcpdump capture (judged by tshark) and captured live on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureWhile, narrowCapture, ping, tcpExchange, udpBurst } from '../harness/capture.js';
import { tsharkFields } from '../harness/tshark.js';
import { CLI_ENTRY, runCli, spawnCli } from '../harness/cli.js';

/** Starts `hubble-ts serve`; resolves once its API answers `hubble-ts status`. */
async function startServe(
  args: string[],
): Promise<{ child: ChildProcess; socket: string; logs: () => string; exited: Promise<number | null> }> {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-e2e-'));
  const socket = join(dir, 'hubble.sock');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI_ENTRY,
      'serve',
      '--socket-path',
      socket,
      '--recordings-dir',
      join(dir, 'recordings'),
      '--node-name',
      'e2e-node',
      ...args,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let logs = '';
  child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 20_000;
  while (!logs.includes('serving Hubble API')) {
    if (child.exitCode !== null) throw new Error(`hubble-ts serve exited (${child.exitCode}): ${logs}`);
    if (Date.now() > deadline) throw new Error(`hubble-ts serve did not start: ${logs}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, socket, logs: () => logs, exited };
}

function jsonLines(text: string): Array<{ flow: Record<string, any>; node_name?: string }> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { flow: Record<string, any> });
}

describe('hubble-ts serve + observe, replaying a capture', () => {
  let pcap: string;
  let serve: Awaited<ReturnType<typeof startServe>>;
  let tcpPorts: { serverPort: number; clientPort: number };
  const udpPort = 39_871;

  beforeAll(async () => {
    const captured = await captureWhile(`host 127.0.0.1 and (tcp or udp port ${udpPort} or icmp)`, async () => {
      tcpPorts = await tcpExchange(2);
      await udpBurst(3, udpPort);
      await ping('127.0.0.1', 2);
    });
    // Only this test's traffic: other test files talk over loopback at the same time.
    pcap = await narrowCapture(
      captured,
      `tcp port ${tcpPorts.serverPort} or udp port ${udpPort} or icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply`,
    );
    serve = await startServe(['--source', `pcap:${pcap}`]);
  });

  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
  });

  it('shows every captured packet as a flow that agrees with tshark (-o json --all)', async () => {
    // The replay may still be running right after start; wait until status shows every frame.
    const frames = await tsharkFields(pcap, [
      'ip.src',
      'ip.dst',
      'tcp.srcport',
      'tcp.dstport',
      'udp.srcport',
      'udp.dstport',
      'icmp.type',
      'tcp.flags.syn',
    ]);
    const r = await runCli(['observe', '--server', `unix://${serve.socket}`, '-o', 'json', '--all']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const flows = jsonLines(r.stdout).map((l) => l.flow);
    expect(flows).toHaveLength(frames.length);
    flows.forEach((flow, i) => {
      const [src, dst, tcpSrc, tcpDst, udpSrc, udpDst, icmpType, syn] = frames[i]!;
      expect(flow['IP']).toMatchObject({ source: src, destination: dst, ipVersion: 'IPv4' });
      expect(flow['node_name']).toBe('e2e-node');
      if (tcpSrc) {
        expect(flow['l4'].TCP).toMatchObject({ source_port: Number(tcpSrc), destination_port: Number(tcpDst) });
        expect(Boolean(flow['l4'].TCP.flags?.SYN)).toBe(syn === '1' || syn === 'True');
      } else if (icmpType) {
        expect(flow['l4'].ICMPv4.type ?? 0).toBe(Number(icmpType));
      } else if (udpSrc) {
        expect(flow['l4'].UDP).toMatchObject({ source_port: Number(udpSrc), destination_port: Number(udpDst) });
      }
    });
  });

  it('applies hubble observe filter flags on the server: --protocol, --port, --not', async () => {
    const all = jsonLines(
      (await runCli(['observe', '--server', `unix://${serve.socket}`, '-o', 'json', '--all'])).stdout,
    );
    const tcp = jsonLines(
      (await runCli(['observe', '--server', `unix://${serve.socket}`, '-o', 'json', '--all', '--protocol', 'tcp']))
        .stdout,
    );
    const port = jsonLines(
      (
        await runCli([
          'observe',
          '--server',
          `unix://${serve.socket}`,
          '-o',
          'json',
          '--all',
          '--to-port',
          String(tcpPorts.serverPort),
        ])
      ).stdout,
    );
    const notIcmp = jsonLines(
      (
        await runCli([
          'observe',
          '--server',
          `unix://${serve.socket}`,
          '-o',
          'json',
          '--all',
          '--not',
          '--protocol',
          'icmp',
        ])
      ).stdout,
    );
    expect(tcp.length).toBe(all.filter((l) => l.flow['l4']?.TCP).length);
    expect(tcp.length).toBeGreaterThan(0);
    expect(port.length).toBe(all.filter((l) => l.flow['l4']?.TCP?.destination_port === tcpPorts.serverPort).length);
    expect(notIcmp.length).toBe(all.filter((l) => !l.flow['l4']?.ICMPv4).length);
  });

  it('answers status and list nodes', async () => {
    const status = await runCli(['status', '--server', `unix://${serve.socket}`]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/Healthcheck \(via unix:\/\/.*\): Ok/);
    expect(status.stdout).toMatch(/Current\/Max Flows: \d+\/4,095/);
    const nodes = await runCli(['list', 'nodes', '--server', `unix://${serve.socket}`]);
    expect(nodes.code).toBe(0);
    expect(nodes.stdout).toMatch(/e2e-node\s+Connected/);
  });

  it('refuses a bad filter with a one-line error and a non-zero exit', async () => {
    const r = await runCli(['observe', '--server', `unix://${serve.socket}`, '--from-ip', '10.0.0.0/99']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/10\.0\.0\.0\/99/);
  });
});

describe('hubble-ts serve, capturing live on loopback', () => {
  let serve: Awaited<ReturnType<typeof startServe>>;
  const port = 39_872;

  beforeAll(async () => {
    serve = await startServe(['--source', `live:lo:udp port ${port}`]);
  });

  afterAll(async () => {
    if (serve && serve.child.exitCode === null) serve.child.kill('SIGKILL');
  });

  it('delivers live traffic to observe --follow within a second', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI_ENTRY, 'observe', '--server', `unix://${serve.socket}`, '--follow', '-o', 'json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // How long observe takes to start and attach depends on the machine's load, so keep sending datagrams, each
    // from its own source port, until one shows up; its latency is measured from when that datagram was sent.
    const sentAt = new Map<number, number>();
    const deadline = Date.now() + 30_000;
    let arrived: { sourcePort: number; at: number } | undefined;
    while (arrived === undefined && Date.now() < deadline) {
      const sock = createSocket('udp4');
      await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
      sentAt.set(sock.address().port, Date.now());
      await new Promise<void>((resolve, reject) =>
        sock.send('hello', port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
      );
      sock.close();
      const waitUntil = Date.now() + 250;
      while (arrived === undefined && Date.now() < waitUntil) {
        await new Promise((r) => setTimeout(r, 10));
        const line = out.split('\n').find((l) => l.includes(`"destination_port":${port}`));
        if (line !== undefined) {
          arrived = { sourcePort: JSON.parse(line).flow.l4.UDP.source_port as number, at: Date.now() };
        }
      }
    }
    child.kill('SIGINT');
    expect(arrived, `no flow for UDP port ${port} reached observe --follow: ${out}`).toBeDefined();
    expect(arrived!.at - sentAt.get(arrived!.sourcePort)!).toBeLessThan(1000);
    const flow = jsonLines(out)[0]!.flow;
    expect(flow['IP']).toMatchObject({ source: '127.0.0.1', destination: '127.0.0.1' });
  });

  it('shuts down cleanly on SIGTERM, and a new server can take the same socket', async () => {
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(serve.logs()).toMatch(/shutting down/);
    const again = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        CLI_ENTRY,
        'serve',
        '--socket-path',
        serve.socket,
        '--recordings-dir',
        join(dirname(serve.socket), 'recordings'),
        '--source',
        `live:lo:udp port ${port}`,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let logs = '';
    again.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    again.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!logs.includes('serving Hubble API') && again.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    again.kill('SIGTERM');
    expect(logs).toContain('serving Hubble API');
  });
});

describe('hubble-ts serve with a relative --socket-path', () => {
  it('binds it in the working directory and tells peers its absolute path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-e2e-'));
    const serve = spawnCli(
      ['serve', '--socket-path', 'run.sock', '--recordings-dir', 'recordings', '--source', 'live:lo:udp port 9'],
      { cwd: dir },
    );
    try {
      await serve.waitFor((out) => out.includes('serving Hubble API'), 20_000, 'serve to start');
      const serving = JSON.parse(
        serve
          .stdout()
          .split('\n')
          .find((l) => l.includes('serving Hubble API'))!,
      );
      expect(serving.peer).toBe(`unix://${join(dir, 'run.sock')}`);
      const status = await runCli(['status', '--server', `unix://${join(dir, 'run.sock')}`]);
      expect(status.stdout).toMatch(/Healthcheck \(via .*\): Ok/);
    } finally {
      await serve.stop();
    }
  });
});

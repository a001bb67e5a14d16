// Real captures for tests: tcpdump on loopback while traffic runs, and the traffic itself (TCP, UDP, ping).
import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Captures on `iface` with a BPF filter while `traffic` runs; resolves with the pcap path. */
export async function captureWhile(
  filter: string,
  traffic: () => Promise<void>,
  opts: { iface?: string; extraArgs?: string[] } = {},
): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-cap-')), 'capture.pcap');
  // --immediate-mode: without it libpcap hands packets over in blocks, and the SIGINT below loses the last block.
  const tcpdump = spawn(
    'tcpdump',
    ['-i', opts.iface ?? 'lo', '-n', '-U', '--immediate-mode', '-w', path, ...(opts.extraArgs ?? []), filter],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => tcpdump.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    tcpdump.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('listening on')) resolve();
    });
    tcpdump.once('exit', (code) => reject(new Error(`tcpdump exited (${code}) before listening: ${stderr.trim()}`)));
  });
  try {
    await traffic();
    await new Promise((r) => setTimeout(r, 300)); // let the last packets reach the capture
  } finally {
    tcpdump.kill('SIGINT');
    await exited;
  }
  return path;
}

/**
 * The packets of `path` that match `filter`, in a new file: for captures whose exact filter (a port picked by the
 * kernel) was known only after the traffic, so loopback traffic of tests running beside them stays out.
 */
export async function narrowCapture(path: string, filter: string): Promise<string> {
  const narrowed = path.replace(/\.pcap$/, '.narrowed.pcap');
  await run('tcpdump', ['-r', path, '-w', narrowed, filter]);
  return narrowed;
}

/** A TCP echo exchange on 127.0.0.1: connect, send `messages` payloads, read echoes, close. */
export async function tcpExchange(
  messages: number,
  host = '127.0.0.1',
): Promise<{ serverPort: number; clientPort: number }> {
  const server = createServer((sock) => {
    sock.on('data', (d) => sock.write(d));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const serverPort = (server.address() as { port: number }).port;
  const sock = connect(serverPort, host);
  await new Promise<void>((r) => sock.once('connect', r));
  const clientPort = sock.localPort!;
  for (let i = 0; i < messages; i++) {
    sock.write(`message ${i}\n`);
    await new Promise((r) => sock.once('data', r));
  }
  await new Promise<void>((r) => sock.end(r));
  await new Promise((r) => sock.once('close', r));
  await new Promise((r) => server.close(r));
  return { serverPort, clientPort };
}

/** Sends `count` UDP datagrams to a local port nobody needs to read (the kernel may answer ICMP unreachable). */
export async function udpBurst(count: number, port: number, host = '127.0.0.1'): Promise<void> {
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) =>
      sock.send(`datagram ${i}`, port, host, (err) => (err ? reject(err) : resolve())),
    );
  }
  sock.close();
}

/** ICMP echo requests with the system ping (iputils-ping). */
export async function ping(host: string, count: number): Promise<void> {
  await run('ping', ['-c', String(count), '-i', '0.2', '-W', '1', host]);
}

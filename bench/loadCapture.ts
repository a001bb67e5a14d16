// Makes the benchmarks' input: a pcap of at least N packets of real loopback load, captured by tcpdump while wrk (an
// HTTP load generator, Debian package wrk) drives an HTTP/1.1 server in another process over keep-alive connections,
// with a stream of UDP datagrams beside it. Made once per size and reused (bench/out/).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The HTTP server wrk loads: answers every request with a small JSON body, as an API would. */
const SERVER_SOURCE = `
const http = require('node:http');
const body = Buffer.from(JSON.stringify({ ok: true, items: [1, 2, 3], note: 'hubble-ts bench' }));
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

function started(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it started`)));
  });
}

/** Fails with what to install when wrk is missing. */
async function checkWrk(): Promise<void> {
  try {
    await run('wrk', ['--version']).catch((err: { stdout?: string; code?: unknown }) => {
      // wrk prints its version and usage and exits 1.
      if (typeof err.stdout === 'string' && err.stdout.includes('wrk')) return;
      throw err;
    });
  } catch {
    throw new Error('the benchmark load needs wrk, an HTTP load generator: apt-get install wrk');
  }
}

/** HTTP (wrk against a Node server) and UDP load on 127.0.0.1 until tcpdump has N packets. */
export async function ensureLoadCapture(path: string, packets: number, log: (line: string) => void): Promise<void> {
  if (existsSync(path) && statSync(path).size > packets * 40) return;
  await checkWrk();
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  log(`making ${path}: ${packets.toLocaleString('en')} packets of loopback HTTP load (wrk) and UDP, by tcpdump (once)`);

  const server = spawn(process.execPath, ['-e', SERVER_SOURCE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const httpPort = Number(await started(server, 'the HTTP server'));
  const udpSink = createSocket('udp4');
  await new Promise<void>((r) => udpSink.bind(0, '127.0.0.1', r));
  const udpPort = udpSink.address().port;

  const filter = `host 127.0.0.1 and (tcp port ${httpPort} or udp port ${udpPort})`;
  const tcpdump = spawn('tcpdump', ['-i', 'lo', '-n', '-B', '65536', '-c', String(packets), '-w', partial, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  tcpdump.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => tcpdump.once('exit', r));
  await new Promise((r) => setTimeout(r, 1000)); // tcpdump attaches its filter

  // 32 keep-alive connections on 2 threads, for as long as tcpdump wants packets.
  const wrk = spawn('wrk', ['-t2', '-c32', '-d3600s', `http://127.0.0.1:${httpPort}/api/items`], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  let running = true;
  void exited.then(() => (running = false));
  const udp = createSocket('udp4');
  const payload = Buffer.alloc(64, 0x61);
  const sendUdp = async (): Promise<void> => {
    while (running) {
      for (let i = 0; i < 4; i++) udp.send(payload, udpPort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  await Promise.all([sendUdp(), exited]);
  wrk.kill('SIGINT');
  server.kill();
  udp.close();
  udpSink.close();
  const code = await exited;
  if (code !== 0) throw new Error(`tcpdump failed (exit ${code}): ${stderr.trim()}`);
  renameSync(partial, path);
}

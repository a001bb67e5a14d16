// Real L7 traffic on loopback for the L7 tests: dig against a dnsmasq that knows a few .test names, and curl (plus a
// raw pipelining client) against a Node HTTP server that answers with fixed, chunked, empty and missing bodies.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A free UDP+TCP port number on 127.0.0.1 (bound once, released). */
async function freePort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const { port } = sock.address();
  sock.close();
  return port;
}

export interface DnsServer {
  port: number;
  stop(): Promise<void>;
}

/**
 * dnsmasq on 127.0.0.1, answering from local data only (a TTL of 30 s): web.test is 127.0.0.1, alias.test a CNAME
 * to it, any other .test name NXDOMAIN.
 */
export async function startDnsServer(): Promise<DnsServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'dnsmasq',
    [
      '--no-daemon',
      '--conf-file=/dev/null',
      '--pid-file=',
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--port=${port}`,
      '--no-resolv',
      '--no-hosts',
      '--local=/test/',
      '--local-ttl=30',
      '--host-record=web.test,127.0.0.1',
      '--cname=alias.test,web.test',
      '--user=root',
      '--log-facility=-',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!stderr.includes('cleared cache') && !stderr.includes('started')) {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) throw new Error(`dnsmasq did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 100));
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `dig @127.0.0.1 -p PORT ARGS`, waiting for its answer. */
export async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...args]);
  return stdout;
}

export interface HttpServer {
  port: number;
  stop(): Promise<void>;
}

/**
 * A Node HTTP/1.1 server on 127.0.0.1: /chunked answers in chunks, /empty 204, /missing 404, /slow after 30 ms,
 * POST echoes the length it read; everything else "hello".
 */
export async function startHttpServer(): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    let length = 0;
    req.on('data', (d: Buffer) => (length += d.length));
    req.on('end', () => {
      const path = req.url ?? '/';
      if (path.startsWith('/chunked')) {
        res.setHeader('Content-Type', 'text/plain');
        res.write('first chunk\n');
        setTimeout(() => res.end('GET /fake HTTP/1.1\r\n\r\nsecond chunk\n'), 5);
      } else if (path.startsWith('/empty')) {
        res.writeHead(204).end();
      } else if (path.startsWith('/missing')) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not here');
      } else if (path.startsWith('/slow')) {
        setTimeout(() => res.writeHead(200, { 'Set-Cookie': 'session=s3cret' }).end('slow'), 30);
      } else if (req.method === 'POST') {
        res.writeHead(201, { 'Content-Type': 'text/plain' }).end(`read ${length}`);
      } else {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Served-By': 'l7-test' }).end('hello');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** curl ARGS (HTTP/1.1, quiet), waiting for it to finish. */
export async function curl(...args: string[]): Promise<string> {
  const { stdout } = await run('curl', ['-s', '--http1.1', '--max-time', '5', ...args]);
  return stdout;
}

/** Two requests written in one segment on one connection (pipelined); resolves once both answers arrived. */
export async function pipelinedGets(port: number, paths: [string, string]): Promise<void> {
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', r));
  let received = '';
  const done = new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if ((received.match(/HTTP\/1\.1 /g) ?? []).length >= 2 && received.endsWith('hello')) resolve();
    });
  });
  sock.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: web.test:${port}\r\n\r\n`).join(''));
  await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  sock.end();
  await new Promise((r) => sock.once('close', r));
}

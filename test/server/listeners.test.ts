import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bind, bindUnixSocket, serverCredentials, tcpBindTarget } from '../../src/server/listeners.js';
import { createApiServer, shutdownApiServer, type ApiServer } from '../../src/server/grpcServer.js';
import { makeTestCa, type TestCa } from '../harness/certs.js';
import { runCli } from '../harness/cli.js';

const HEALTH_CHECK = '/grpc.health.v1.Health/Check';

/** Calls grpc.health.v1 Check with raw bytes: an empty request, so no health proto is needed here. */
function healthCheck(
  target: string,
  creds: grpc.ChannelCredentials,
  options: grpc.ChannelOptions = {},
): Promise<Buffer> {
  const client = new grpc.Client(target, creds, options);
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      HEALTH_CHECK,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + 5000 },
      (err, value) => (err ? reject(err) : resolve(value!)),
    );
  }).finally(() => client.close());
}

/** grpc.health.v1.HealthCheckResponse with status SERVING (field 1 = 1). */
const SERVING = Buffer.from([0x08, 0x01]);

describe('TLS and mTLS listeners', () => {
  let ca: TestCa;
  let otherCa: TestCa;
  let api: ApiServer;
  let port: number;

  beforeAll(async () => {
    ca = makeTestCa();
    otherCa = makeTestCa('some other CA');
    const server = ca.issue('server', ['localhost', '127.0.0.1'], 'server');
    api = createApiServer([]);
    port = await bind(
      api.server,
      '127.0.0.1:0',
      serverCredentials({ certFile: server.cert, keyFile: server.key, clientCaFiles: [ca.cert] }),
    );
  });
  afterAll(async () => {
    await shutdownApiServer(api, 100);
  });

  function clientCreds(issuer: TestCa, trust: TestCa): grpc.ChannelCredentials {
    const client = issuer.issue('client', ['relay.hubble-ts.test'], 'client');
    const read = (p: string) => readFileSync(p);
    return grpc.credentials.createSsl(read(trust.cert), read(client.key), read(client.cert));
  }

  it('serves a client that presents a certificate from the trusted CA', async () => {
    await expect(healthCheck(`localhost:${port}`, clientCreds(ca, ca))).resolves.toEqual(SERVING);
  });

  it('refuses a client without a certificate', async () => {
    const read = (p: string) => readFileSync(p);
    await expect(healthCheck(`localhost:${port}`, grpc.credentials.createSsl(read(ca.cert)))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    await expect(healthCheck(`localhost:${port}`, clientCreds(otherCa, ca))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it('is refused by a client that expects another server name', async () => {
    await expect(
      healthCheck(`127.0.0.1:${port}`, clientCreds(ca, ca), {
        'grpc.ssl_target_name_override': 'not-this-server.example',
      }),
    ).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('is refused by a plaintext client', async () => {
    await expect(healthCheck(`localhost:${port}`, grpc.credentials.createInsecure())).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });
});

describe('unix socket listener', () => {
  it('creates the socket owner/group-only and replaces a stale one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-sock-'));
    const path = join(dir, 'nested', 'hubble.sock');
    for (let round = 0; round < 2; round++) {
      const api = createApiServer([]);
      await bindUnixSocket(api.server, path);
      expect(statSync(path).mode & 0o777).toBe(0o660);
      await expect(healthCheck(`unix://${path}`, grpc.credentials.createInsecure())).resolves.toEqual(SERVING);
      // forceShutdown leaves the socket file behind, as a crash would.
      api.server.forceShutdown();
    }
  });

  it('refuses to take over a socket another server still answers on', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-sock-')), 'busy.sock');
    const other = createServer().listen(path);
    await new Promise((r) => other.once('listening', r));
    const api = createApiServer([]);
    await expect(bindUnixSocket(api.server, path)).rejects.toThrow(/already listening/);
    other.close();
    api.server.forceShutdown();
  });

  it('refuses a path that is a regular file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-sock-')), 'file');
    writeFileSync(path, 'x');
    const api = createApiServer([]);
    await expect(bindUnixSocket(api.server, path)).rejects.toThrow(/not a socket/);
    api.server.forceShutdown();
  });
});

describe('the HTTP/2 handshake deadline', () => {
  const TIMEOUT_MS = 300;
  const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  /** An empty SETTINGS frame: what a client sends right after the preface. */
  const SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

  /** Resolves with how long after `since` the server closed `socket`, or undefined if it had not within `waitMs`. */
  function closedWithin(socket: Socket, since: number, waitMs: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(undefined);
      }, waitMs);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(Date.now() - since);
      });
    });
  }

  it('closes connections that send no preface or half of one, on TCP and the unix socket, and keeps the rest', async () => {
    const api = createApiServer([]);
    const port = await bind(api.server, '127.0.0.1:0', grpc.ServerCredentials.createInsecure(), TIMEOUT_MS);
    const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-sock-')), 'hubble.sock');
    await bindUnixSocket(api.server, path, TIMEOUT_MS);
    try {
      const opened = (where: 'tcp' | 'unix', first?: Buffer): Socket => {
        const socket = where === 'tcp' ? connect(port, '127.0.0.1') : connect(path);
        if (first !== undefined) socket.once('connect', () => socket.write(first));
        return socket;
      };
      const since = Date.now();
      const [silentTcp, halfTcp, silentUnix, halfUnix, greetedTcp, greetedUnix] = await Promise.all([
        closedWithin(opened('tcp'), since, 3000),
        closedWithin(opened('tcp', PREFACE.subarray(0, 10)), since, 3000),
        closedWithin(opened('unix'), since, 3000),
        closedWithin(opened('unix', PREFACE.subarray(0, 10)), since, 3000),
        closedWithin(opened('tcp', Buffer.concat([PREFACE, SETTINGS])), since, 1500),
        closedWithin(opened('unix', Buffer.concat([PREFACE, SETTINGS])), since, 1500),
      ]);
      for (const closedAfter of [silentTcp, halfTcp, silentUnix, halfUnix]) {
        expect(closedAfter).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
        expect(closedAfter).toBeLessThan(TIMEOUT_MS + 1500);
      }
      // A client that sent the preface and its settings is idle, not hostile: kept.
      expect(greetedTcp).toBeUndefined();
      expect(greetedUnix).toBeUndefined();
      // A gRPC client's channel, idle past the deadline between calls, still answers.
      const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const check = () =>
        new Promise<Buffer>((resolve, reject) =>
          client.makeUnaryRequest(
            HEALTH_CHECK,
            (b: Buffer) => b,
            (b: Buffer) => b,
            Buffer.alloc(0),
            (err, v) => (err ? reject(err) : resolve(v!)),
          ),
        );
      await expect(check()).resolves.toEqual(SERVING);
      await new Promise((r) => setTimeout(r, TIMEOUT_MS * 2));
      expect(client.getChannel().getConnectivityState(false)).toBe(grpc.connectivityState.READY);
      await expect(check()).resolves.toEqual(SERVING);
      client.close();
    } finally {
      await shutdownApiServer(api, 100);
    }
  });

  it('closes a TLS connection that completes the TLS handshake and sends no preface', async () => {
    const ca = makeTestCa();
    const issued = ca.issue('server', ['localhost', '127.0.0.1'], 'server');
    const api = createApiServer([]);
    const port = await bind(
      api.server,
      '127.0.0.1:0',
      serverCredentials({ certFile: issued.cert, keyFile: issued.key }),
      TIMEOUT_MS,
    );
    try {
      const socket = tlsConnect({ port, host: '127.0.0.1', ALPNProtocols: ['h2'], ca: readFileSync(ca.cert) });
      await new Promise((r) => socket.once('secureConnect', r));
      const since = Date.now();
      const closedAfter = await closedWithin(socket, since, 3000);
      expect(closedAfter).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(closedAfter).toBeLessThan(TIMEOUT_MS + 1500);
    } finally {
      await shutdownApiServer(api, 100);
    }
  });
});

describe('tcpBindTarget', () => {
  it.each([
    [':4244', '[::]:4244'],
    ['127.0.0.1:4244', '127.0.0.1:4244'],
    ['[::1]:4245', '[::1]:4245'],
    ['localhost:80', 'localhost:80'],
  ])('maps %s to %s', (input, target) => expect(tcpBindTarget(input)).toBe(target));
});

describe('a TCP address another process holds', () => {
  it('stops serve and relay with one line saying so, not grpc-js logs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-busy-'));
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const address = `127.0.0.1:${(busy.address() as { port: number }).port}`;
    try {
      const [serve, relay] = await Promise.all([
        runCli([
          'serve',
          '--source',
          `pcap:${join(import.meta.dirname, '..', 'fixtures', 'source', 'loopback.pcap')}`,
          '--socket-path',
          join(dir, 'hubble.sock'),
          '--recordings-dir',
          join(dir, 'recordings'),
          '--listen-address',
          address,
          '--disable-server-tls',
        ]),
        runCli([
          'relay',
          '--peer-service',
          `unix://${join(dir, 'none.sock')}`,
          '--listen-address',
          address,
          '--disable-server-tls',
          '--disable-client-tls',
        ]),
      ]);
      for (const r of [serve, relay]) {
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(
          `hubble-ts: cannot listen on ${address}: the address is already in use (another process listens there)\n`,
        );
      }
    } finally {
      busy.close();
    }
  });
});

// The peer.Peer service over real gRPC: what a relay sees when it subscribes (the current peers as PEER_ADDED, then
// each change), over the unix socket and over TCP with TLS; what happens to a client that stops reading; and that
// a client that leaves or a server that stops releases everything.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PeerClient, PeerService as PeerServiceDefinition } from '../../src/api/peer/peer.js';
import { PeerDirectory } from '../../src/peer/directory.js';
import { PeerService, SEND_BLOCKED_MESSAGE } from '../../src/peer/service.js';
import { StaticPeerSource, type Peer } from '../../src/peer/source.js';
import { createApiServer, shutdownApiServer, type ApiServer } from '../../src/server/grpcServer.js';
import { bind, bindUnixSocket, serverCredentials } from '../../src/server/listeners.js';
import { makeTestCa } from '../harness/certs.js';
import { NotifySubscriber, unixPeerClient } from './notifyClient.js';

const alpha: Peer = { name: 'alpha', address: '10.0.0.1:4244', tlsServerName: 'alpha.default.hubble-grpc.cilium.io' };
const beta: Peer = { name: 'beta', address: '10.0.0.2:4244' };

interface Served {
  source: StaticPeerSource;
  directory: PeerDirectory;
  service: PeerService;
  api: ApiServer;
  socket: string;
  client: PeerClient;
  close(): Promise<void>;
}

async function serve(peers: Peer[], maxQueuedNotifications?: number): Promise<Served> {
  const source = new StaticPeerSource('test', peers);
  const directory = new PeerDirectory([source]);
  await directory.start();
  const service = new PeerService(directory, { maxQueuedNotifications });
  const api = createApiServer([
    { name: 'peer.Peer', definition: PeerServiceDefinition, implementation: service.implementation },
  ]);
  const socket = join(mkdtempSync(join(tmpdir(), 'hubble-ts-peer-')), 'hubble.sock');
  await bindUnixSocket(api.server, socket);
  const client = unixPeerClient(socket);
  return {
    source,
    directory,
    service,
    api,
    socket,
    client,
    async close() {
      client.close();
      service.close();
      directory.close();
      await shutdownApiServer(api, 500);
    },
  };
}

async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Notify over the unix socket', () => {
  let s: Served;
  beforeEach(async () => {
    s = await serve([alpha, beta]);
  });
  afterEach(async () => {
    await s.close();
  });

  it('sends every known peer as PEER_ADDED first, with TLS only where the peer has it', async () => {
    const sub = new NotifySubscriber(s.client);
    expect(await sub.waitForCount(2)).toEqual([
      'ADDED alpha 10.0.0.1:4244 tls=alpha.default.hubble-grpc.cilium.io',
      'ADDED beta 10.0.0.2:4244',
    ]);
    expect(sub.received[1]!.tls).toBeUndefined();
    sub.cancel();
  });

  it.each<{ change: string; next: Peer[]; expected: string[] }>([
    {
      change: 'a peer is added',
      next: [alpha, beta, { name: 'gamma', address: '10.0.0.3:4244' }],
      expected: ['ADDED gamma 10.0.0.3:4244'],
    },
    { change: 'a peer is removed', next: [alpha], expected: ['DELETED beta 10.0.0.2:4244'] },
    {
      change: 'an address changes',
      next: [alpha, { ...beta, address: '10.0.0.20:4244' }],
      expected: ['UPDATED beta 10.0.0.20:4244'],
    },
    {
      change: 'a TLS server name appears',
      next: [alpha, { ...beta, tlsServerName: 'beta.example' }],
      expected: ['UPDATED beta 10.0.0.2:4244 tls=beta.example'],
    },
    {
      change: 'a TLS server name goes away',
      next: [{ name: 'alpha', address: alpha.address }, beta],
      expected: ['UPDATED alpha 10.0.0.1:4244'],
    },
    {
      change: 'a peer is renamed (deleted, then added: relays key peers by name)',
      next: [alpha, { ...beta, name: 'beta2' }],
      expected: ['DELETED beta 10.0.0.2:4244', 'ADDED beta2 10.0.0.2:4244'],
    },
  ])('then tells subscribers exactly what changed when $change', async ({ next, expected }) => {
    const sub = new NotifySubscriber(s.client);
    await sub.waitForCount(2);
    s.source.set(next);
    expect(await sub.next(expected.length)).toEqual(expected);
    // The same peers again, even reordered, change nothing and say nothing: the next word is about the sentinel.
    s.source.set(next);
    s.source.set([...next].reverse());
    s.source.set([...next, { name: 'sentinel', address: '10.9.9.9:1' }]);
    expect(await sub.next(1)).toEqual(['ADDED sentinel 10.9.9.9:1']);
    sub.cancel();
  });

  it('shows a client that subscribes after changes the current set, all as PEER_ADDED', async () => {
    s.source.set([
      { ...beta, address: '10.0.0.20:4244' },
      { name: 'gamma', address: '[fd00::3]:4244' },
    ]);
    const sub = new NotifySubscriber(s.client);
    expect(await sub.waitForCount(2)).toEqual(['ADDED beta 10.0.0.20:4244', 'ADDED gamma [fd00::3]:4244']);
    sub.cancel();
  });

  it('gives every subscriber the same changes, independently', async () => {
    const one = new NotifySubscriber(s.client);
    const two = new NotifySubscriber(s.client);
    await one.waitForCount(2);
    await two.waitForCount(2);
    s.source.set([alpha]);
    expect(await one.next(1)).toEqual(['DELETED beta 10.0.0.2:4244']);
    expect(await two.next(1)).toEqual(['DELETED beta 10.0.0.2:4244']);
    expect(s.service.clients).toBe(2);
    one.cancel();
    two.cancel();
  });

  it('releases a client that disconnects: no subscription, nothing queued', async () => {
    const sub = new NotifySubscriber(s.client);
    await sub.waitForCount(2);
    expect(s.directory.subscriberCount).toBe(1);
    sub.cancel();
    expect((await sub.ended).code).toBe(grpc.status.CANCELLED);
    await eventually(() => s.service.clients === 0, 'the server saw the cancel');
    expect(s.directory.subscriberCount).toBe(0);
    expect(s.service.queuedNotifications).toBe(0);
  });

  it('ends every stream with OK when the service closes, as upstream does on shutdown', async () => {
    const sub = new NotifySubscriber(s.client);
    await sub.waitForCount(2);
    s.service.close();
    expect(await sub.ended).toMatchObject({ code: grpc.status.OK });
    expect(s.directory.subscriberCount).toBe(0);
  });
});

describe('a client that stops reading', () => {
  const LIMIT = 64;
  let s: Served;
  beforeAll(async () => {
    s = await serve([alpha], LIMIT);
  });
  afterAll(async () => {
    await s.close();
  });

  it("is cut off with upstream's error once its queue is full, costing at most the limit meanwhile; readers keep up", async () => {
    // Separate connections, as separate relays have (grpc-js would otherwise share one, and HTTP/2 flow control
    // with it).
    const own = () =>
      new PeerClient(`unix://${s.socket}`, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      });
    const stalled = new NotifySubscriber(own());
    const reading = new NotifySubscriber(own());
    await stalled.waitForCount(1);
    await reading.waitForCount(1);
    stalled.call.pause();
    // One change at a time, which a reading client keeps up with, until the stalled one's transport buffers and
    // queue are full. Long TLS names fill the transport sooner.
    const longName = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.example`;
    let sent = 0;
    let most = 0;
    while (s.directory.subscriberCount === 2 && sent < 100_000) {
      s.source.set([{ name: 'alpha', address: `10.1.${sent >> 8}.${sent & 255}:4244`, tlsServerName: longName }]);
      sent++;
      most = Math.max(most, s.service.queuedNotifications);
      await new Promise((r) => setImmediate(r));
      // However busy the machine, the reading client stays a reader: never far behind.
      if (1 + sent - reading.received.length > 16) await reading.waitForCount(1 + sent - 4);
    }
    expect(s.directory.subscriberCount).toBe(1);
    expect(most).toBeLessThanOrEqual(LIMIT);
    // The reader got every change, in order, and is still subscribed.
    await reading.waitForCount(1 + sent, 10_000);
    expect(reading.lines.at(-1)).toBe(`UPDATED alpha 10.1.${(sent - 1) >> 8}.${(sent - 1) & 255}:4244 tls=${longName}`);
    expect(s.service.clients).toBe(1);
    // When the stalled client reads again it gets what was already on its way, then the error: a relay logs it and
    // subscribes again.
    stalled.call.resume();
    expect(await stalled.ended).toEqual({ code: grpc.status.UNKNOWN, details: SEND_BLOCKED_MESSAGE });
    expect(stalled.received.length).toBeGreaterThan(LIMIT);
    expect(stalled.received.length).toBeLessThan(1 + sent);
    reading.cancel();
    stalled.client.close();
    reading.client.close();
  });
});

describe('Notify over TCP with TLS', () => {
  let s: Served;
  let tcp: ApiServer;
  let port: number;
  let ca: ReturnType<typeof makeTestCa>;

  beforeAll(async () => {
    ca = makeTestCa();
    const cert = ca.issue('server', ['localhost', '127.0.0.1'], 'server');
    s = await serve([alpha, beta]);
    tcp = createApiServer([
      { name: 'peer.Peer', definition: PeerServiceDefinition, implementation: s.service.implementation },
    ]);
    port = await bind(
      tcp.server,
      '127.0.0.1:0',
      serverCredentials({ certFile: cert.cert, keyFile: cert.key, clientCaFiles: [ca.cert] }),
    );
  });
  afterAll(async () => {
    await s?.close();
    if (tcp) await shutdownApiServer(tcp, 500);
  });

  it('streams the same peers to a client with a certificate from the trusted CA', async () => {
    const clientCert = ca.issue('relay', ['relay'], 'client');
    const client = new PeerClient(
      `localhost:${port}`,
      grpc.credentials.createSsl(readFileSync(ca.cert), readFileSync(clientCert.key), readFileSync(clientCert.cert)),
    );
    const sub = new NotifySubscriber(client);
    expect(await sub.waitForCount(2)).toEqual([
      'ADDED alpha 10.0.0.1:4244 tls=alpha.default.hubble-grpc.cilium.io',
      'ADDED beta 10.0.0.2:4244',
    ]);
    s.source.set([beta]);
    expect(await sub.next(1)).toEqual(['DELETED alpha 10.0.0.1:4244 tls=alpha.default.hubble-grpc.cilium.io']);
    sub.cancel();
    client.close();
  });

  it('refuses a client without a certificate', async () => {
    const client = new PeerClient(`localhost:${port}`, grpc.credentials.createSsl(readFileSync(ca.cert)));
    const sub = new NotifySubscriber(client, { deadline: Date.now() + 5000 });
    expect((await sub.ended).code).toBe(grpc.status.UNAVAILABLE);
    expect(sub.received).toEqual([]);
    client.close();
  });
});

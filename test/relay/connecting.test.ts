// A relay asked while a node's connection is still being dialled: as upstream's calls wait on a connection that is
// connecting, ServerStatus and GetFlows through the relay count that node once its dial is over (connected, with its
// flows), not as unavailable because they asked first. The node sits behind a TCP proxy that holds connections until
// the test lets them through, a moment after asking; a node that never answers is still reported unavailable, within
// the call's time.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GetFlowsRequest,
  ObserverClient,
  type GetFlowsResponse,
  type ServerStatusResponse,
} from '../../src/api/observer/observer.js';
import { NodeState } from '../../src/api/relay/relay.js';
import type { RunningNode } from '../../src/server/node.js';
import type { RunningRelay } from '../../src/server/relay.js';
import {
  craftCapture,
  startPeerService,
  startPlainRelay,
  startTestNode,
  tempDir,
  type TestPeerService,
} from './harness.js';

const PER_NODE = 6;
/** How long after asking the held connections are let through (the relay waits up to 2 s for a dial). */
const RELEASE_AFTER_MS = 400;

interface HoldingProxy extends Server {
  port: number;
  /** Lets every held connection, and every later one, through to the node. */
  release(): void;
  /** Holds connections again (they never reach the node until released). */
  hold(): void;
}

/** A TCP proxy on 127.0.0.1 to `port` that holds each connection until release(). */
async function holdingProxy(port: number): Promise<HoldingProxy> {
  const sockets = new Set<Socket>();
  let held: Socket[] = [];
  let open = false;
  const pass = (client: Socket) => {
    const upstream = connect(port, '127.0.0.1', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  };
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    if (open) pass(client);
    else held.push(client);
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return Object.assign(server, {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    release() {
      open = true;
      for (const client of held) pass(client);
      held = [];
    },
    hold() {
      open = false;
    },
  });
}

function serverStatus(client: ObserverClient): Promise<ServerStatusResponse> {
  return new Promise((resolve, reject) =>
    client.serverStatus({}, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

function allFlows(client: ObserverClient): Promise<GetFlowsResponse[]> {
  return new Promise((resolve, reject) => {
    const got: GetFlowsResponse[] = [];
    const call = client.getFlows(GetFlowsRequest.fromPartial({ number: '1000' }));
    call.on('data', (r: GetFlowsResponse) => got.push(r));
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });
}

describe('a relay asked while a node is still being dialled', () => {
  let dir: string;
  let node: RunningNode;
  let proxy: HoldingProxy;
  let peers: TestPeerService | undefined;
  const relays: RunningRelay[] = [];
  const clients: ObserverClient[] = [];

  beforeAll(async () => {
    dir = tempDir('hubble-ts-relay-connecting-');
    node = await startTestNode({ name: 'alpha', dir, source: `pcap:${craftCapture(dir, 0, 1, PER_NODE)}` });
    proxy = await holdingProxy(node.tcpPort!);
  });

  afterAll(async () => {
    clients.forEach((c) => c.close());
    await Promise.all(relays.map((r) => r.close()));
    await peers?.close();
    proxy.close();
    await node.close();
  });

  /** A new relay over `peerList` whose proxied peers are connecting (held), and a client of it. */
  async function freshRelay(peerList: { name: string; address: string }[]): Promise<ObserverClient> {
    proxy.hold();
    await peers?.close();
    peers = await startPeerService(join(dir, `peers-${relays.length}.sock`), peerList);
    const relay = await startPlainRelay(peers.target);
    relays.push(relay);
    const deadline = Date.now() + 5_000;
    while (!relay.peers.list().some((p) => p.state === 'connecting')) {
      if (Date.now() > deadline) throw new Error(`no peer connecting: ${JSON.stringify(relay.peers.list())}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const client = new ObserverClient(`127.0.0.1:${relay.port}`, grpc.credentials.createInsecure());
    clients.push(client);
    return client;
  }

  it('ServerStatus counts the node connected, with its flows, once the dial is over', async () => {
    const client = await freshRelay([{ name: 'alpha', address: `127.0.0.1:${proxy.port}` }]);
    const asked = serverStatus(client);
    setTimeout(() => proxy.release(), RELEASE_AFTER_MS);
    const status = await asked;
    expect(status.numConnectedNodes).toBe(1);
    expect(status.numUnavailableNodes).toBe(0);
    expect(status.numFlows).toBe(PER_NODE);
  });

  it('GetFlows returns the node flows, telling the client the node is connected', async () => {
    const client = await freshRelay([{ name: 'alpha', address: `127.0.0.1:${proxy.port}` }]);
    const asked = allFlows(client);
    setTimeout(() => proxy.release(), RELEASE_AFTER_MS);
    const responses = await asked;
    expect(responses.filter((r) => r.flow !== undefined)).toHaveLength(PER_NODE);
    expect(responses.flatMap((r) => (r.nodeStatus === undefined ? [] : [r.nodeStatus.stateChange]))).toEqual([
      NodeState.NODE_CONNECTED,
    ]);
  });

  it('still reports a node that never answers unavailable, and answers for the rest in time', async () => {
    const client = await freshRelay([
      { name: 'alpha', address: `127.0.0.1:${node.tcpPort}` },
      { name: 'beta', address: `127.0.0.1:${proxy.port}` },
    ]);
    const started = Date.now();
    const status = await serverStatus(client);
    expect(status.numConnectedNodes).toBe(1);
    expect(status.unavailableNodes).toEqual(['beta']);
    expect(status.numFlows).toBe(PER_NODE);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

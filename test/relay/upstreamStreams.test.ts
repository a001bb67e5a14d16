// The relay's promises about the streams it opens: a node that accepts GetFlows and then says nothing never holds back
// the flows of the others, and a client that goes away releases every stream its request opened on the nodes.
// One node is a real hubble-ts node capturing live on loopback; the other is a gRPC server on a real TCP port that
// answers ServerStatus (so the relay counts it as connected) and holds every GetFlows open without a word, counting
// them: the witness of what the relay leaves open.
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GetFlowsRequest,
  ObserverClient,
  ObserverService,
  type GetFlowsResponse,
  type ObserverServer,
} from '../../src/api/observer/observer.js';
import { NodeState } from '../../src/api/relay/relay.js';
import type { RunningNode } from '../../src/server/node.js';
import type { RunningRelay } from '../../src/server/relay.js';
import {
  freePort,
  startPeerService,
  startPlainRelay,
  startTestNode,
  tempDir,
  type TestPeerService,
} from './harness.js';

/** A node that answers ServerStatus and never answers GetFlows; counts the GetFlows calls still open. */
async function startSilentNode(): Promise<{ port: number; open: () => number; opened: () => number; close(): void }> {
  let open = 0;
  let opened = 0;
  const unimplemented = (call: { emit(e: 'error', s: Partial<grpc.StatusObject>): void }) =>
    call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'not here' });
  const implementation: ObserverServer = {
    getFlows: (call) => {
      open++;
      opened++;
      call.once('cancelled', () => open--);
    },
    getAgentEvents: unimplemented,
    getDebugEvents: unimplemented,
    getNodes: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
    getNamespaces: (_call, cb) => cb(null, { namespaces: [] }),
    serverStatus: (_call, cb) =>
      cb(null, {
        numFlows: 0,
        maxFlows: 4095,
        seenFlows: 0,
        uptimeNs: 1,
        numConnectedNodes: undefined,
        numUnavailableNodes: undefined,
        unavailableNodes: [],
        version: 'silent',
        flowsRate: 0,
      }),
  };
  const server = new grpc.Server();
  server.addService(ObserverService, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { port, open: () => open, opened: () => opened, close: () => server.forceShutdown() };
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('streams the relay opens on the nodes', () => {
  let live: RunningNode;
  let silent: Awaited<ReturnType<typeof startSilentNode>>;
  let peers: TestPeerService;
  let relay: RunningRelay;
  let client: ObserverClient;
  let udpPort: number;

  beforeAll(async () => {
    const dir = tempDir('streams');
    udpPort = await freePort();
    live = await startTestNode({ name: 'live', dir, source: `live:lo:udp dst port ${udpPort}` });
    silent = await startSilentNode();
    peers = await startPeerService(join(dir, 'peers.sock'), [
      { name: 'live', address: `127.0.0.1:${live.tcpPort}` },
      { name: 'silent', address: `127.0.0.1:${silent.port}` },
    ]);
    relay = await startPlainRelay(peers.target, { 'sort-buffer-drain-timeout': '100ms' });
    await until(() => relay.peers.list().filter((p) => p.state === 'connected').length === 2, 10_000, 'both nodes');
    client = new ObserverClient(`127.0.0.1:${relay.port}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await relay?.close();
    await peers?.close();
    silent?.close();
    await live?.close();
  });

  it('delivers a live flow while another node stays silent, then releases both node streams when the client goes', async () => {
    const openedBefore = silent.opened();
    const call = client.getFlows(GetFlowsRequest.fromPartial({ follow: true }));
    const received: GetFlowsResponse[] = [];
    call.on('data', (res: GetFlowsResponse) => received.push(res));
    call.on('error', () => undefined); // CANCELLED, below

    // The request starts with who answers: both nodes.
    await until(() => received.some((r) => r.nodeStatus !== undefined), 5_000, 'the node status report');
    expect(received[0]!.nodeStatus).toMatchObject({
      stateChange: NodeState.NODE_CONNECTED,
      nodeNames: ['live', 'silent'],
    });
    await until(() => silent.open() === 1 && silent.opened() === openedBefore + 1, 5_000, 'the silent node stream');

    // A datagram on loopback reaches the client through the sort buffer although "silent" never sends a thing.
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const sourcePort = sock.address().port;
    let sentAt = 0;
    await until(
      () => {
        if (Date.now() - sentAt > 300) {
          sentAt = Date.now();
          sock.send('x', udpPort, '127.0.0.1');
        }
        return received.some((r) => r.flow?.l4?.UDP?.sourcePort === sourcePort);
      },
      10_000,
      'a live flow through the relay',
    );
    sock.close();
    const flow = received.find((r) => r.flow !== undefined)!;
    expect(flow.flow!.nodeName).toBe('live');

    call.cancel();
    // The silent node is the witness: its stream is cancelled as soon as the client's is.
    await until(() => silent.open() === 0, 2_000, 'the relay to cancel the silent node stream');
  });

  it('releases what a request that does not follow (--last 3) opened when its client cancels', async () => {
    const openedBefore = silent.opened();
    const call = client.getFlows(GetFlowsRequest.fromPartial({ number: '3' }));
    call.on('data', () => undefined);
    call.on('error', () => undefined);
    await until(() => silent.opened() === openedBefore + 1, 5_000, 'the silent node stream');
    call.cancel();
    await until(() => silent.open() === 0, 2_000, 'the relay to cancel the silent node stream');
  });
});

// The relay benchmark's cluster, run as its own process so the relay's CPU is its own: three nodes, each with a full
// ring of the load capture, serving the Observer API on unix sockets, and the Peer service listing them. Prints one
// JSON line ({ peerService, nodes: [{ name, socket, flows }] }) once everything serves; shuts down when stdin closes.
//
//   relayNodes.ts CAPTURE DIR
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { PeerService as PeerServiceDefinition } from '../src/api/peer/peer.js';
import { PeerDirectory } from '../src/peer/directory.js';
import { PeerService } from '../src/peer/service.js';
import { StaticPeerSource } from '../src/peer/source.js';
import { MAX_RING_CAPACITY } from '../src/observer/ring.js';
import { shutdownApiServer, type ApiServer } from '../src/server/grpcServer.js';
import { bindUnixSocket } from '../src/server/listeners.js';
import { makeNode, serveNode } from './node.js';

const RELAY_NODES = 3;

export interface RelayNodesReady {
  /** gRPC target of the Peer service. */
  peerService: string;
  nodes: { name: string; socket: string; flows: number }[];
}

const [capturePath, dir] = process.argv.slice(2) as [string, string];

// Every node replays the same capture: their flows carry the same times, so the relay's merge interleaves all three.
const nodes: (RelayNodesReady['nodes'][number] & { api: ApiServer })[] = [];
for (let i = 0; i < RELAY_NODES; i++) {
  const name = `bench-${i}`;
  const { observer, replay } = makeNode(capturePath, MAX_RING_CAPACITY, name);
  await replay(MAX_RING_CAPACITY * 2);
  const socket = join(dir, `${name}.sock`);
  nodes.push({ name, socket, flows: observer.ring.len, api: await serveNode(observer, name, socket) });
}

const source = new StaticPeerSource(
  'bench nodes',
  nodes.map(({ name, socket }) => ({ name, address: `unix://${socket}` })),
);
const directory = new PeerDirectory([source]);
await directory.start();
const peerService = new PeerService(directory);
const peerServer = new grpc.Server();
peerServer.addService(PeerServiceDefinition, peerService.implementation);
const peerSocket = join(dir, 'peers.sock');
await bindUnixSocket(peerServer, peerSocket);

const ready: RelayNodesReady = {
  peerService: `unix://${peerSocket}`,
  nodes: nodes.map(({ name, socket, flows }) => ({ name, socket, flows })),
};
process.stdout.write(JSON.stringify(ready) + '\n');

process.stdin.resume();
process.stdin.once('end', () => {
  peerService.close();
  directory.close();
  peerServer.forceShutdown();
  void Promise.all(nodes.map(({ api }) => shutdownApiServer(api, 100))).then(() => process.exit(0));
});

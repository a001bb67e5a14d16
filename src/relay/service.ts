// The relay's observer.Observer service: the Observer API for the whole cluster. GetFlows merges every node's flows
// (clusterFlows.ts); GetNodes, ServerStatus and GetNamespaces ask every connected node and aggregate as upstream's
// relay does; GetAgentEvents and GetDebugEvents are not served, as upstream's relay does not serve them.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type {
  GetNamespacesResponse,
  GetNodesResponse,
  Namespace,
  Node,
  ObserverClient,
  ServerStatusResponse,
} from '../api/observer/observer.js';
import { NodeState } from '../api/relay/relay.js';
import { serveStream } from '../observer/service.js';
import {
  callDeadlineMs,
  connectingWaitUntilMs,
  forwardedMetadata,
  streamClusterFlows,
  type ClusterFlowsOptions,
  type ClusterFlowsRequest,
} from './clusterFlows.js';
import type { RelayObserverServer } from './flowsWire.js';
import { describeGrpcError, settledPeers, type PeerDirectory, type PeerView } from './peerManager.js';

export interface RelayServiceOptions extends ClusterFlowsOptions {
  /** The relay's version, as ServerStatus reports it. */
  version: string;
}

export interface RelayService {
  implementation: RelayObserverServer;
  /** Ends every running GetFlows (UNAVAILABLE: the relay is shutting down) and cancels what they opened upstream. */
  closeAll(): void;
}

/** Upstream lists at most this many unavailable nodes in ServerStatus: enough to act on, short enough to read. */
export const UNAVAILABLE_NODES_REPORTED_MAX = 10;

export function createRelayService(peers: PeerDirectory, opts: RelayServiceOptions): RelayService {
  const running = new Set<ClusterFlowsRequest>();
  const logger: Logger = opts.logger;
  const register = (request: ClusterFlowsRequest) => {
    running.add(request);
    return () => running.delete(request);
  };
  const deadline = (call: { getDeadline(): grpc.Deadline }): Date => new Date(callDeadlineMs(call, opts));
  const connected = (p: PeerView): p is PeerView & { client: ObserverClient } =>
    p.state === 'connected' && p.client !== undefined;

  const implementation: RelayObserverServer = {
    getFlows: serveStream('GetFlows', (call) => streamClusterFlows(call, peers, opts, register)),

    getAgentEvents: (call) => {
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'GetAgentEvents not yet implemented' });
    },

    getDebugEvents: (call) => {
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'GetDebugEvents not yet implemented' });
    },

    getNodes: async (call, callback) => {
      const until = deadline(call);
      const metadata = forwardedMetadata(call.metadata);
      const nodes = (await settledPeers(peers, connectingWaitUntilMs(call, opts))).map(async (peer): Promise<Node> => {
        const node: Node = {
          name: peer.name,
          version: '',
          address: peer.address,
          state: NodeState.NODE_UNAVAILABLE,
          tls: { enabled: peer.tls.enabled, serverName: peer.tls.serverName },
          uptimeNs: 0,
          numFlows: 0,
          maxFlows: 0,
          seenFlows: 0,
        };
        if (!connected(peer)) return node;
        try {
          const status = await serverStatus(peer.client, metadata, until);
          node.state = NodeState.NODE_CONNECTED;
          node.version = status.version;
          node.uptimeNs = status.uptimeNs;
          node.numFlows = status.numFlows;
          node.maxFlows = status.maxFlows;
          node.seenFlows = status.seenFlows;
        } catch (err) {
          node.state = NodeState.NODE_ERROR;
          logger.warn({ peer: peer.name, reason: describeGrpcError(err as grpc.ServiceError) }, 'ServerStatus failed');
        }
        return node;
      });
      Promise.all(nodes).then((list) => callback(null, { nodes: list } satisfies GetNodesResponse));
    },

    serverStatus: async (call, callback) => {
      const until = deadline(call);
      const metadata = forwardedMetadata(call.metadata);
      const all = await settledPeers(peers, connectingWaitUntilMs(call, opts));
      const unavailable: string[] = [];
      let numUnavailable = 0;
      const down = (name: string) => {
        numUnavailable++;
        if (unavailable.length < UNAVAILABLE_NODES_REPORTED_MAX) unavailable.push(name);
      };
      const asked = all.map(async (peer) => {
        if (!connected(peer)) return down(peer.name);
        try {
          return await serverStatus(peer.client, metadata, until);
        } catch (err) {
          logger.warn({ peer: peer.name, reason: describeGrpcError(err as grpc.ServiceError) }, 'ServerStatus failed');
          return down(peer.name);
        }
      });
      Promise.all(asked).then((statuses) => {
        const res: ServerStatusResponse = {
          numFlows: 0,
          maxFlows: 0,
          seenFlows: 0,
          uptimeNs: 0,
          numConnectedNodes: all.length - numUnavailable,
          numUnavailableNodes: numUnavailable,
          unavailableNodes: unavailable,
          version: opts.version,
          flowsRate: 0,
        };
        for (const s of statuses) {
          if (s === undefined) continue;
          res.numFlows += s.numFlows;
          res.maxFlows += s.maxFlows;
          res.seenFlows += s.seenFlows;
          res.flowsRate += s.flowsRate;
          // The oldest node's uptime: adding uptimes up would mean nothing.
          res.uptimeNs = Math.max(res.uptimeNs, s.uptimeNs);
        }
        callback(null, res);
      });
    },

    getNamespaces: async (call, callback) => {
      const until = deadline(call);
      const metadata = forwardedMetadata(call.metadata);
      const asked = (await settledPeers(peers, connectingWaitUntilMs(call, opts))).map(
        async (peer): Promise<Namespace[]> => {
          if (!connected(peer)) return [];
          try {
            return (await namespaces(peer.client, metadata, until)).namespaces;
          } catch (err) {
            // Partial answers beat none: a failing node only leaves its namespaces out.
            logger.warn(
              { peer: peer.name, reason: describeGrpcError(err as grpc.ServiceError) },
              'GetNamespaces failed',
            );
            return [];
          }
        },
      );
      Promise.all(asked).then((lists) => {
        const merged = new Map<string, Namespace>();
        for (const ns of lists.flat()) merged.set(`${ns.cluster}/${ns.namespace}`, ns);
        // As upstream: by cluster, then namespace, comparing bytes (not the locale's collation).
        const sorted = [...merged.values()].sort(
          (a, b) => compareCodeUnits(a.cluster, b.cluster) || compareCodeUnits(a.namespace, b.namespace),
        );
        callback(null, { namespaces: sorted } satisfies GetNamespacesResponse);
      });
    },
  };

  return {
    implementation,
    closeAll() {
      for (const request of running) request.shutdown();
    },
  };
}

function serverStatus(client: ObserverClient, metadata: grpc.Metadata, deadline: Date): Promise<ServerStatusResponse> {
  return new Promise((resolve, reject) =>
    client.serverStatus({}, metadata.clone(), { deadline }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

function namespaces(client: ObserverClient, metadata: grpc.Metadata, deadline: Date): Promise<GetNamespacesResponse> {
  return new Promise((resolve, reject) =>
    client.getNamespaces({}, metadata.clone(), { deadline }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

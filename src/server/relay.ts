// Hubble Relay: the peer manager follows the Peer service and connects to every node, and one gRPC server serves the
// cluster-wide Observer API with health (SERVING while the Peer service answers and a node is connected) and reflection.
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import { relayMetricsRegistry } from '../metrics/relayMetrics.js';
import type { MetricsServer } from '../metrics/server.js';
import { RELAY_OBSERVER_SERVICE } from '../relay/flowsWire.js';
import { PeerManager } from '../relay/peerManager.js';
import { createRelayService } from '../relay/service.js';
import { createApiServer, shutdownApiServer, shutdownSignal } from './grpcServer.js';
import { bind, serverCredentials } from './listeners.js';
import { listenForMetrics } from './metricsOptions.js';
import type { RelayOptions } from './relayOptions.js';
import { VERSION } from './version.js';

export interface RunningRelay {
  /** The TCP port actually bound (useful with port 0). */
  port: number;
  /** The metrics endpoint's port, when --metrics-address was given. */
  metricsPort: number | undefined;
  peers: PeerManager;
  close(): Promise<void>;
}

const OBSERVER_SERVICE = 'observer.Observer';

/** Starts a relay; throws ConfigError for problems the user must fix (a listener that cannot bind, bad certificates). */
export async function startRelay(
  opts: RelayOptions,
  logger: Logger = pino({ level: opts.logLevel }),
): Promise<RunningRelay> {
  const peers = new PeerManager({
    peerService: opts.peerService,
    clusterName: opts.clusterName,
    clientTls: opts.clientTls,
    dialTimeoutMs: opts.dialTimeoutMs,
    retryTimeoutMs: opts.retryTimeoutMs,
    logger,
  });
  const service = createRelayService(peers, {
    // As upstream's relay: "<component> v<version>", the component naming what answers.
    version: `hubble-relay ${VERSION}`,
    // As upstream: the Kubernetes node name when the pod is told it, else the host name.
    relayName: process.env['K8S_NODE_NAME'] || hostname(),
    sortBufferLenMax: opts.sortBufferLenMax,
    sortBufferDrainTimeoutMs: opts.sortBufferDrainTimeoutMs,
    retryTimeoutMs: opts.retryTimeoutMs,
    logger,
  });
  const api = createApiServer([
    { name: OBSERVER_SERVICE, definition: RELAY_OBSERVER_SERVICE, implementation: service.implementation },
  ]);
  // As upstream: serving only while the Peer service answers and at least one node is connected.
  const updateHealth = () => {
    const serving = peers.peerServiceConnected && peers.list().some((p) => p.state === 'connected');
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    api.setServingStatus('', status);
    api.setServingStatus(OBSERVER_SERVICE, status);
  };
  updateHealth();
  const unsubscribe = peers.onStatusChange(updateHealth);

  let port: number;
  let metricsServer: (MetricsServer & { url: string }) | undefined;
  try {
    port = await bind(api.server, opts.bindTarget, serverCredentials(opts.serverTls));
    if (opts.metrics !== undefined) {
      metricsServer = await listenForMetrics(
        relayMetricsRegistry(() => peers.list()),
        opts.metrics,
      );
    }
  } catch (err) {
    unsubscribe();
    api.server.forceShutdown();
    throw err;
  }
  peers.start();
  logger.info(
    {
      listen: opts.bindTarget,
      port,
      tls: opts.serverTls !== undefined,
      mtls: (opts.serverTls?.clientCaFiles.length ?? 0) > 0,
      peerService: opts.peerService,
      clientTls: opts.clientTls !== undefined,
      clientCert: opts.clientTls?.cert !== undefined,
      metrics: metricsServer?.url,
    },
    'serving Hubble Relay API',
  );

  return {
    port,
    metricsPort: metricsServer?.port,
    peers,
    async close() {
      unsubscribe();
      // Following requests never end by themselves: end them (status OK) so the server can stop at once.
      service.closeAll();
      await Promise.all([shutdownApiServer(api, 2000), metricsServer?.close()]);
      await peers.close();
    },
  };
}

/** Runs a relay until SIGTERM or SIGINT, then shuts down cleanly. */
export async function runRelay(opts: RelayOptions): Promise<void> {
  const logger = pino({ level: opts.logLevel });
  const relay = await startRelay(opts, logger);
  await shutdownSignal(logger);
  await relay.close();
}

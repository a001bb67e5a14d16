// Hubble Relay: the peer manager follows the Peer service and connects to every node, and one gRPC server serves the
// cluster-wide Observer API with health (SERVING while the Peer service answers and a node is connected) and reflection.
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
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
import { listenForUi } from './uiOptions.js';
import { grpcBackend, type UiBackend } from '../ui/backend.js';
import type { UiServer } from '../ui/server.js';
import { VERSION } from './version.js';

export interface RunningRelay {
  /** The TCP port actually bound (useful with port 0). */
  port: number;
  /** The metrics endpoint's port, when --metrics-address was given. */
  metricsPort: number | undefined;
  /** The web UI's port and URL, when --ui-address was given. */
  ui: { port: number; url: string } | undefined;
  peers: PeerManager;
  close(): Promise<void>;
}

const OBSERVER_SERVICE = 'observer.Observer';

/** Starts a relay; throws ConfigError for problems the user must fix (a listener that cannot bind, bad certificates). */
export async function startRelay(
  opts: RelayOptions,
  logger: Logger = pino({ level: opts.logLevel }),
): Promise<RunningRelay> {
  // As upstream: the Kubernetes node name when the pod is told it, else the host name.
  const relayName = process.env['K8S_NODE_NAME'] || hostname();
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
    relayName,
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
  let uiServer: UiServer | undefined;
  let uiBackend: UiBackend | undefined;
  // The web UI reads the relay's own cluster view as a client, through a socket only this process can open (a private
  // directory) in plaintext: the relay's TCP listener may demand client certificates the UI has no business holding.
  let uiSocketDir: string | undefined;
  try {
    port = await bind(api.server, opts.bindTarget, serverCredentials(opts.serverTls));
    if (opts.metrics !== undefined) {
      metricsServer = await listenForMetrics(
        relayMetricsRegistry(
          () => peers.list(),
          () => uiServer?.counters,
        ),
        opts.metrics,
      );
    }
    if (opts.ui !== undefined) {
      uiSocketDir = mkdtempSync(join(tmpdir(), 'hubble-ts-relay-ui-'));
      const socket = join(uiSocketDir, 'relay.sock');
      await bind(api.server, `unix://${socket}`, grpc.ServerCredentials.createInsecure());
      uiBackend = grpcBackend(socket, false);
      uiServer = await listenForUi(opts.ui, uiBackend, { mode: 'relay', name: relayName, version: VERSION }, logger);
    }
  } catch (err) {
    unsubscribe();
    uiBackend?.close();
    await metricsServer?.close();
    api.server.forceShutdown();
    if (uiSocketDir !== undefined) rmSync(uiSocketDir, { recursive: true, force: true });
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
      ui: uiServer?.url,
    },
    'serving Hubble Relay API',
  );

  return {
    port,
    metricsPort: metricsServer?.port,
    ui: uiServer && { port: uiServer.port, url: uiServer.url },
    peers,
    async close() {
      unsubscribe();
      await uiServer?.close();
      uiBackend?.close();
      // Following requests never end by themselves: end them (UNAVAILABLE: the relay goes away) so it can stop at once.
      service.closeAll();
      await Promise.all([shutdownApiServer(api, 2000), metricsServer?.close()]);
      await peers.close();
      if (uiSocketDir !== undefined) rmSync(uiSocketDir, { recursive: true, force: true });
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

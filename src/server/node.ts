// One hubble-ts node: sources feed the monitor agent, which feeds the Observer (the ring) and the SinkDispatcher (the
// running recordings); the API serves both, the Recorder and the recordings store on the unix socket by default, and
// the Peer service (this node, plus the peers file) wherever the Observer is served.
import { pino, type Logger } from 'pino';
import { RecordingsService } from '../api/hubblets/recordings/v1/recordings.js';
import { PeerService as PeerServiceDefinition } from '../api/peer/peer.js';
import { RecorderService } from '../api/recorder/recorder.js';
import { MonitorAgent } from '../monitor/agent.js';
import { NodeMetrics } from '../metrics/nodeMetrics.js';
import type { MetricsServer } from '../metrics/server.js';
import { loadMetadata } from '../observer/metadata/index.js';
import { joinHooks, Observer } from '../observer/observer.js';
import { Parser } from '../observer/parser/index.js';
import { createObserverService, NODE_OBSERVER_SERVICE } from '../observer/service.js';
import { PeerDirectory } from '../peer/directory.js';
import { PeersFileSource } from '../peer/fileSource.js';
import { PeerService } from '../peer/service.js';
import { peerName, selfPeer } from '../peer/selfPeer.js';
import { StaticPeerSource, type Peer, type PeerSource } from '../peer/source.js';
import { prepareRecordingsDir, RecordingsDirError } from '../recorder/recordingsDir.js';
import { createRecordingsService } from '../recorder/recordingsService.js';
import type { RuleIdPool } from '../recorder/ruleIds.js';
import { Recorder } from '../recorder/service.js';
import { RecordingsStore } from '../recorder/store.js';
import { SinkDispatcher } from '../sink/dispatcher.js';
import { parseSourceSpec, SourceError, type EventSource } from '../source/source.js';
import { ConfigError } from './config.js';
import { ExportFileError, FlowExporter } from '../exporter/exporter.js';
import { bind, bindUnixSocket, serverCredentials } from './listeners.js';
import { listenForMetrics } from './metricsOptions.js';
import {
  createApiServer,
  shutdownApiServer,
  shutdownSignal,
  type ApiServer,
  type ServiceRegistration,
} from './grpcServer.js';
import type { ServeOptions } from './serveOptions.js';
import { listenForUi } from './uiOptions.js';
import { grpcBackend, type UiBackend } from '../ui/backend.js';
import type { UiServer } from '../ui/server.js';
import { EMITTER_NAME, VERSION } from './version.js';

export interface RunningNode {
  observer: Observer;
  agent: MonitorAgent;
  recorder: Recorder;
  store: RecordingsStore;
  dispatcher: SinkDispatcher;
  /** Every peer the Peer service announces: the peers file's and this node's own entry. */
  peers: PeerDirectory;
  peerService: PeerService;
  /** This node's entry in the Peer service. */
  self: Peer;
  /** The TCP port actually bound (useful with port 0), when a TCP listener was asked for. */
  tcpPort: number | undefined;
  /** The metrics endpoint's port, when --metrics-address was given. */
  metricsPort: number | undefined;
  /** The web UI's port and URL, when --ui-address was given. */
  ui: { port: number; url: string } | undefined;
  /** Resolves when every source has ended (a replayed file reached its end, or failed). */
  sourcesDone: Promise<void>;
  /** The flow exporter (--export-file-path), with its stats; undefined when export is off. */
  exporter: FlowExporter | undefined;
  close(): Promise<void>;
}

/** How long a source may take to open before the log says what serve is waiting for. */
const SOURCE_WAIT_NOTICE_MS = 2_000;
/** How long shutdown waits for the sources to stop (each stops at once; one that does not is left behind). */
const SOURCES_SHUTDOWN_MS = 1_000;
/** How long shutdown waits for recordings to flush and close their files. */
const RECORDINGS_SHUTDOWN_MS = 10_000;
/** How long shutdown waits for the export file to take what is queued. */
const EXPORT_SHUTDOWN_MS = 10_000;

/** True when `promise` settles within `ms`. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
}

/** What tests may replace; production uses the defaults. */
export interface NodeOverrides {
  /** Rule ids the recorder leases (Hubble's 1..65534 by default). */
  ruleIds?: RuleIdPool;
  /** How often retention runs between recordings (default one minute). */
  retentionIntervalMs?: number;
  /** How quickly the peers file is re-read after a change, and how often it is checked anyway. */
  peersFile?: { debounceMs?: number; pollIntervalMs?: number };
  /** Notifications a Notify client may leave unread before it is cut off (upstream's 65536 by default). */
  maxQueuedPeerNotifications?: number;
  /** This host's primary address, when --listen-address has no host (detected from the default route by default). */
  primaryAddress?: () => string | undefined;
}

/** Starts a node; throws ConfigError/SourceError for problems the user must fix before it can run. */
export async function startNode(
  opts: ServeOptions,
  logger: Logger = pino({ level: opts.logLevel }),
  overrides: NodeOverrides = {},
): Promise<RunningNode> {
  const metadata = loadMetadata({ endpointsFile: opts.endpointsFile, clusterName: opts.clusterName });
  // The name this node goes by in what it serves (flows' node_name, GetNodes, the Recorder's responses and file names,
  // the Peer service): "cluster/node" outside the default cluster, as Hubble's absolute node name.
  const nodeName = peerName(opts.nodeName, opts.clusterName);
  const sources: EventSource[] = opts.sources.map((spec) =>
    parseSourceSpec(spec, { nodeName, links: metadata.linkRegistry, capture: opts.capture }),
  );
  // Refuse to start rather than serve an empty ring: a missing file or interface is the user's to fix now.
  await Promise.all(
    sources.map(async (source) => {
      // A FIFO opens once a writer does (`mkfifo f; serve --source pcap:f`, tcpdump started later): say so meanwhile.
      const waiting = setTimeout(
        () => logger.info({ source: source.description }, 'waiting for the source to open (a FIFO: for its writer)'),
        SOURCE_WAIT_NOTICE_MS,
      );
      try {
        await source.check();
      } finally {
        clearTimeout(waiting);
      }
    }),
  );
  const parser = new Parser({
    nodeName,
    clusterName: opts.clusterName,
    emitter: { name: EMITTER_NAME, version: VERSION },
    l7: opts.l7,
    onL7Failure: (err) => logger.error({ err: err.message }, 'L7 parsing stopped: its worker thread failed'),
    ...metadata,
  });
  // Hubble's exporter is an OnDecodedEvent hook of the observer; so is ours. A file it cannot open stops serve here.
  const exporter =
    opts.export &&
    (await FlowExporter.start(opts.export, { logger }).catch((err: unknown) => {
      throw err instanceof ExportFileError ? new ConfigError(`--export-file-path: ${err.message}`) : err;
    }));
  // Metrics plug into the Observer through its hooks, as Hubble's metrics do.
  const metrics = opts.metrics && new NodeMetrics(opts.metrics);
  const observer = new Observer({
    parser,
    ringCapacity: opts.bufferCapacity,
    clusterName: opts.clusterName,
    hooks: joinHooks(metrics?.observerHooks(), exporter && { onDecodedEvent: [exporter.onDecodedEvent] }),
    onDecodeError: (err) => logger.debug({ err: err.message }, 'event could not be decoded'),
  });
  const recordingsDir = await prepareRecordingsDir(opts.recordings.dir).catch((err: unknown) => {
    throw err instanceof RecordingsDirError ? new ConfigError(err.message) : err;
  });
  const store = new RecordingsStore({
    dir: recordingsDir,
    maxBytes: opts.recordings.maxBytes,
    maxAgeMs: opts.recordings.maxAgeMs,
    retentionIntervalMs: overrides.retentionIntervalMs,
    logger,
  });
  await store.applyRetention();
  const dispatcher = new SinkDispatcher();
  const recorder = new Recorder({
    sinks: dispatcher,
    store,
    nodeName,
    sinkQueueSize: opts.recordings.sinkQueueSize,
    ruleIds: overrides.ruleIds,
    logger,
  });

  const agent = new MonitorAgent();
  agent.register(observer);
  // Beside the Observer: every packet-carrying event is offered to the running recordings too.
  agent.register(dispatcher);
  // A replay waits for the export file as it waits for recordings, so a replayed capture is exported whole.
  if (exporter) agent.register({ onMonitorEvent: () => undefined, backlog: () => exporter.backlog() });

  const address = opts.tcp?.bindTarget ?? `unix://${opts.socketPath}`;
  const stopping = new AbortController();
  const service = createObserverService(
    observer,
    { nodeName, version: VERSION, address, tlsEnabled: opts.tcp?.tls !== undefined },
    { stopping: stopping.signal },
  );
  if (metrics) {
    service.getFlows = metrics.countGetFlows(service.getFlows);
    metrics.watch({
      ring: observer.ring,
      decodeErrors: () => observer.decodeErrors,
      events: () => ({ flow: observer.seenFlows, ...observer.seenEvents }),
      reportedLost: () => observer.reportedLost,
      listenerEventsLost: () => agent.listenerEventsLost,
      recordings: dispatcher,
      l7Http: () => parser.l7HttpStats,
      l7DnsTcp: () => parser.l7DnsTcpStats,
      l7FlowsDropped: opts.l7 && (() => observer.l7FlowsDropped),
      export: exporter ? exporter.stats : undefined,
    });
  }
  // The peers file before this node's own entry: where both name this node, the operator's word wins.
  const selfSource = new StaticPeerSource('this node');
  const peerSources: PeerSource[] = [];
  if (opts.peers.file !== undefined) {
    peerSources.push(new PeersFileSource(opts.peers.file, { logger, ...overrides.peersFile }));
  }
  peerSources.push(selfSource);
  const peers = new PeerDirectory(peerSources, logger);
  const peerService = new PeerService(peers, { logger, maxQueuedNotifications: overrides.maxQueuedPeerNotifications });
  // Hubble serves the Peer service beside the Observer: whoever may read flows may learn who the other nodes are.
  const observerApi: ServiceRegistration[] = [
    { name: 'observer.Observer', definition: NODE_OBSERVER_SERVICE, implementation: service },
    { name: 'peer.Peer', definition: PeerServiceDefinition, implementation: peerService.implementation },
  ];
  // The Recorder writes files on this node and recordings hold payloads: local by default (see serveOptions).
  const recorderApi: ServiceRegistration[] = [
    { name: 'recorder.Recorder', definition: RecorderService, implementation: recorder.service },
    {
      name: 'hubblets.recordings.v1.Recordings',
      definition: RecordingsService,
      implementation: createRecordingsService(store),
    },
  ];

  const apis: ApiServer[] = [];
  let tcpPort: number | undefined;
  let metricsServer: (MetricsServer & { url: string }) | undefined;
  let uiBackend: UiBackend | undefined;
  let uiServer: UiServer | undefined;
  try {
    // A peers file that cannot be used stops serve here, with the line that is wrong.
    await peers.start();
    const local = createApiServer([...observerApi, ...recorderApi]);
    apis.push(local);
    await bindUnixSocket(local.server, opts.socketPath);
    if (opts.tcp) {
      const remote = createApiServer(opts.recordings.onTcp ? [...observerApi, ...recorderApi] : observerApi);
      apis.push(remote);
      tcpPort = await bind(remote.server, opts.tcp.bindTarget, serverCredentials(opts.tcp.tls));
    }
    if (metrics && opts.metrics) {
      metricsServer = await listenForMetrics(metrics.registry, opts.metrics.listen, { instrument: true });
    }
    if (opts.ui) {
      // The page is a client of this node's own socket: it sees what hubble observe and hubble record see here.
      uiBackend = grpcBackend(opts.socketPath, opts.ui.recorder.enabled);
      uiServer = await listenForUi(opts.ui, uiBackend, { mode: 'node', name: nodeName, version: VERSION }, logger);
      metrics?.watchUi(uiServer.counters);
    }
  } catch (err) {
    uiBackend?.close();
    await metricsServer?.close();
    for (const api of apis) api.server.forceShutdown();
    peers.close();
    await store.close();
    await exporter?.close();
    throw err;
  }
  const self = selfPeer({
    nodeName: opts.nodeName,
    clusterName: opts.clusterName,
    socketPath: opts.socketPath,
    tcp:
      opts.tcp === undefined || tcpPort === undefined
        ? undefined
        : { listenHost: bindHost(opts.tcp.bindTarget), port: tcpPort, tls: opts.tcp.tls !== undefined },
    advertise: opts.peers.advertise,
    primaryAddress: overrides.primaryAddress,
  });
  selfSource.set([self.peer]);
  if (self.addressFrom === 'loopback') {
    logger.warn(
      { address: self.peer.address },
      'no non-loopback address found to announce this node on; other machines cannot reach it: set --advertise-address',
    );
  }
  if (opts.tcp && opts.recordings.onTcp && opts.tcp.tls === undefined) {
    logger.warn({ tcp: opts.tcp.bindTarget }, 'the Recorder and recordings are served on TCP without TLS');
  }
  logger.info(
    {
      socket: opts.socketPath,
      tcp: opts.tcp?.bindTarget,
      tls: opts.tcp?.tls !== undefined,
      recorderOnTcp: opts.tcp !== undefined && opts.recordings.onTcp,
      recordings: recordingsDir,
      node: nodeName,
      peer: self.peer.address,
      peerAddressFrom: self.addressFrom,
      peersFile: opts.peers.file,
      peers: peers.peers().length,
      metrics: metricsServer?.url,
      ui: uiServer?.url,
      uiRecorder: opts.ui?.recorder.enabled,
      metricsHandlers: opts.metrics?.handlers.map((h) => h.name),
    },
    'serving Hubble API',
  );

  const stopSources = new AbortController();
  const backlog = agent.backlog.bind(agent);
  const sourcesDone = Promise.all(
    sources.map(async (source) => {
      logger.info({ source: source.description }, 'source started');
      try {
        // The agent itself rather than its publish: capture sources then hand the recordings their frames as they
        // are, and the event is built for the consumers that read events.
        const summary = await source.run(agent, stopSources.signal, backlog);
        // Its last packets' L7 flows too (the L7 parser's worker thread hands them back within a turn or so); not when
        // stopping, where the worker may still be starting.
        if (!summary.aborted) await observer.settled();
        logger.info({ source: source.description, ...summary }, 'source ended');
      } catch (err) {
        if (!(err instanceof SourceError)) throw err;
        // What the source published before failing stays in the ring; the server keeps serving it.
        logger.error({ source: source.description, code: err.code }, err.message);
      }
    }),
  ).then(() => undefined);

  return {
    observer,
    agent,
    recorder,
    store,
    dispatcher,
    peers,
    peerService,
    self: self.peer,
    tcpPort,
    metricsPort: metricsServer?.port,
    ui: uiServer && { port: uiServer.port, url: uiServer.url },
    sourcesDone,
    exporter,
    async close() {
      // Browsers first: their streams and the recordings the page holds end before the services behind them go.
      await uiServer?.close();
      uiBackend?.close();
      stopSources.abort();
      if (!(await settlesWithin(sourcesDone, SOURCES_SHUTDOWN_MS))) {
        logger.warn({ afterMs: SOURCES_SHUTDOWN_MS }, 'a source did not stop in time; stopping without it');
      }
      // Every event the sources published is queued for export by now: write it out before the process goes.
      if (exporter && !(await settlesWithin(exporter.close(), EXPORT_SHUTDOWN_MS))) {
        logger.warn({ afterMs: EXPORT_SHUTDOWN_MS }, 'the export file did not take what was queued in time');
      }
      // Before the API goes: every Record stream gets its stopped response, every file is complete. A file system
      // that hangs must not keep the process from exiting: past the limit, the API shutdown cancels what is left.
      const stopped = await settlesWithin(
        // The recorder first, so recordings still being created are answered rather than refused by the dispatcher.
        recorder.shutdown().then(() => dispatcher.stopAll('shutdown')),
        RECORDINGS_SHUTDOWN_MS,
      );
      if (!stopped) logger.warn({ afterMs: RECORDINGS_SHUTDOWN_MS }, 'recordings did not stop in time');
      // Notify streams never end by themselves: end them (OK, as upstream does) so the API can stop at once; so do
      // following GetFlows (UNAVAILABLE: the server is going away), rather than be cancelled once the grace is over.
      peerService.close();
      stopping.abort();
      peers.close();
      await Promise.all([...apis.map((api) => shutdownApiServer(api, 2000)), metricsServer?.close()]);
      await store.close();
      agent.close();
      await observer.close();
    },
  };
}

/** The host part of a grpc-js bind target ("[::]:4244" -> "[::]", "10.0.0.1:4244" -> "10.0.0.1"). */
function bindHost(bindTarget: string): string {
  return bindTarget.slice(0, bindTarget.lastIndexOf(':'));
}

/** Runs a node until SIGTERM or SIGINT, then shuts down cleanly. */
export async function runNode(opts: ServeOptions): Promise<void> {
  const logger = pino({ level: opts.logLevel });
  const node = await startNode(opts, logger);
  await shutdownSignal(logger);
  await node.close();
}

// One hubble-ts node: sources feed the monitor agent, the Observer fills the ring, the API serves it.
import { pino, type Logger } from 'pino';
import { ObserverService } from '../api/observer/observer.js';
import { MonitorAgent } from '../monitor/agent.js';
import { loadMetadata } from '../observer/metadata/index.js';
import { Observer } from '../observer/observer.js';
import { Parser } from '../observer/parser/index.js';
import { createObserverService } from '../observer/service.js';
import { parseSourceSpec, SourceError, type EventSource } from '../source/source.js';
import { bind, bindUnixSocket, serverCredentials } from './listeners.js';
import { createApiServer, shutdownApiServer, type ApiServer } from './grpcServer.js';
import type { ServeOptions } from './serveOptions.js';
import { EMITTER_NAME, VERSION } from './version.js';

export interface RunningNode {
  observer: Observer;
  agent: MonitorAgent;
  /** The TCP port actually bound (useful with port 0), when a TCP listener was asked for. */
  tcpPort: number | undefined;
  /** Resolves when every source has ended (a replayed file reached its end, or failed). */
  sourcesDone: Promise<void>;
  close(): Promise<void>;
}

/** Starts a node; throws ConfigError/SourceError for problems the user must fix before it can run. */
export async function startNode(
  opts: ServeOptions,
  logger: Logger = pino({ level: opts.logLevel }),
): Promise<RunningNode> {
  const metadata = loadMetadata({ endpointsFile: opts.endpointsFile, clusterName: opts.clusterName });
  const sources: EventSource[] = opts.sources.map((spec) =>
    parseSourceSpec(spec, { nodeName: opts.nodeName, links: metadata.linkRegistry }),
  );
  // Refuse to start rather than serve an empty ring: a missing file or interface is the user's to fix now.
  await Promise.all(sources.map((source) => source.check()));
  const parser = new Parser({
    nodeName: opts.nodeName,
    clusterName: opts.clusterName,
    emitter: { name: EMITTER_NAME, version: VERSION },
    ...metadata,
  });
  const observer = new Observer({
    parser,
    ringCapacity: opts.bufferCapacity,
    clusterName: opts.clusterName,
    onDecodeError: (err) => logger.debug({ err: err.message }, 'event could not be decoded'),
  });
  const agent = new MonitorAgent();
  agent.register(observer);

  const address = opts.tcp?.bindTarget ?? `unix://${opts.socketPath}`;
  const service = createObserverService(observer, {
    nodeName: opts.nodeName,
    version: VERSION,
    address,
    tlsEnabled: opts.tcp?.tls !== undefined,
  });
  const registrations = [{ name: 'observer.Observer', definition: ObserverService, implementation: service }];

  const apis: ApiServer[] = [];
  let tcpPort: number | undefined;
  try {
    const local = createApiServer(registrations);
    apis.push(local);
    await bindUnixSocket(local.server, opts.socketPath);
    if (opts.tcp) {
      const remote = createApiServer(registrations);
      apis.push(remote);
      tcpPort = await bind(remote.server, opts.tcp.bindTarget, serverCredentials(opts.tcp.tls));
    }
  } catch (err) {
    for (const api of apis) api.server.forceShutdown();
    throw err;
  }
  logger.info(
    { socket: opts.socketPath, tcp: opts.tcp?.bindTarget, tls: opts.tcp?.tls !== undefined, node: opts.nodeName },
    'serving Hubble API',
  );

  const stopSources = new AbortController();
  const publish = agent.publish.bind(agent);
  const sourcesDone = Promise.all(
    sources.map(async (source) => {
      logger.info({ source: source.description }, 'source started');
      try {
        const summary = await source.run(publish, stopSources.signal);
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
    tcpPort,
    sourcesDone,
    async close() {
      stopSources.abort();
      await sourcesDone.catch(() => undefined);
      await Promise.all(apis.map((api) => shutdownApiServer(api, 2000)));
      agent.close();
    },
  };
}

/** Runs a node until SIGTERM or SIGINT, then shuts down cleanly. */
export async function runNode(opts: ServeOptions): Promise<void> {
  const logger = pino({ level: opts.logLevel });
  const node = await startNode(opts, logger);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await node.close();
}

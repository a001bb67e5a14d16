// One hubble-ts node as the benchmarks build it: the pipeline `hubble-ts serve` builds for a pcap source (pcap source
// -> monitor agent -> parser -> ring), and its Observer API served on a unix socket.
import { MonitorAgent } from '../src/monitor/agent.js';
import { loadMetadata } from '../src/observer/metadata/index.js';
import { Observer, type ObserverHooks } from '../src/observer/observer.js';
import { Parser } from '../src/observer/parser/index.js';
import type { SevenParserOptions } from '../src/observer/parser/seven/index.js';
import { createObserverService, NODE_OBSERVER_SERVICE } from '../src/observer/service.js';
import { createApiServer, type ApiServer } from '../src/server/grpcServer.js';
import { bindUnixSocket } from '../src/server/listeners.js';
import { parseSourceSpec } from '../src/source/source.js';

export interface BenchNode {
  observer: Observer;
  agent: MonitorAgent;
  /** Replays the capture into the ring, stopping after `limit` events; resolves to the events replayed. */
  replay: (limit?: number) => Promise<number>;
}

/** The pipeline of one node, without the API; `hooks` as serve passes them (metrics), `l7` as --l7 gives it. */
export function makeNode(
  capturePath: string,
  ringCapacity: number,
  nodeName = 'bench',
  hooks?: ObserverHooks,
  l7?: SevenParserOptions,
): BenchNode {
  const metadata = loadMetadata({ clusterName: 'default' });
  const source = parseSourceSpec(`pcap:${capturePath}`, { nodeName, links: metadata.linkRegistry });
  const parser = new Parser({
    nodeName,
    clusterName: 'default',
    emitter: { name: 'hubble-ts', version: 'bench' },
    l7,
    ...metadata,
  });
  const observer = new Observer({ parser, ringCapacity, clusterName: 'default', hooks });
  const agent = new MonitorAgent();
  agent.register(observer);
  const replay = async (limit = Infinity): Promise<number> => {
    // As serve runs a source: into the agent itself, so capture frames go the way they go there.
    if (limit === Infinity) return (await source.run(agent, new AbortController().signal)).events;
    const stop = new AbortController();
    let events = 0;
    const counted = (asked: unknown) => {
      if (++events >= limit) stop.abort();
      return asked;
    };
    await source.run(
      {
        publish: (event) => counted(agent.publish(event)),
        publishFrame: (frame) => counted(agent.publishFrame(frame)),
      },
      stop.signal,
    );
    return events;
  };
  return { observer, agent, replay };
}

/** Serves a node's Observer API on a unix socket, as `hubble-ts serve` does; stop it with shutdownApiServer. */
export async function serveNode(observer: Observer, nodeName: string, socket: string): Promise<ApiServer> {
  const api = createApiServer([
    {
      name: 'observer.Observer',
      definition: NODE_OBSERVER_SERVICE,
      implementation: createObserverService(observer, {
        nodeName,
        version: 'bench',
        address: socket,
        tlsEnabled: false,
      }),
    },
  ]);
  await bindUnixSocket(api.server, socket);
  return api;
}

// The path flows take into the metrics in `hubble-ts serve`: an Observer whose hooks are a NodeMetrics', fed monitor
// events. The parser is replaced by one that returns the flow the test gives, so L7 flows (which the packet parser
// does not produce yet) and crafted Cilium events travel the same hooks as parsed packets.
import { Flow, type DeepPartial } from '../../src/api/flow/flow.js';
import type { MonitorEvent } from '../../src/monitor/types.js';
import { NodeMetrics } from '../../src/metrics/nodeMetrics.js';
import { parseMetricsList } from '../../src/metrics/options.js';
import { Observer } from '../../src/observer/observer.js';
import type { DecodedEvent, Parser } from '../../src/observer/parser/index.js';
import { parseExposition, type Exposition } from './promText.js';

export interface HookPath {
  metrics: NodeMetrics;
  observer: Observer;
  feed(flow: Flow): void;
  scrape(): Promise<Exposition>;
}

const EVENT: MonitorEvent = {
  timestamp: { seconds: 1_700_000_000, nanos: 0 },
  nodeName: 'test-node',
  payload: { kind: 'perf', cpu: 0, data: Uint8Array.of(4) },
};

export function hookPath(metrics: string[], maxLabelSets = 10_000): HookPath {
  const nodeMetrics = new NodeMetrics({ handlers: parseMetricsList(metrics), maxLabelSets });
  let next: Flow | undefined;
  // Every event goes the decode path: encodeFlow says it is not an L3/L4 event.
  const parser = {
    openL7: () => undefined,
    recordFlow: () => undefined,
    decode: (event: MonitorEvent): DecodedEvent => ({
      kind: 'flow',
      timestamp: event.timestamp,
      nodeName: event.nodeName,
      flow: next!,
    }),
  } as unknown as Parser;
  const observer = new Observer({
    parser,
    ringCapacity: 7,
    clusterName: 'default',
    hooks: nodeMetrics.observerHooks(),
  });
  return {
    metrics: nodeMetrics,
    observer,
    feed(flow) {
      next = flow;
      observer.onMonitorEvent(EVENT);
    },
    scrape: async () => parseExposition(await nodeMetrics.registry.metrics()),
  };
}

/** A flow with every field at its default, then `partial`. */
export function flow(partial: DeepPartial<Flow>): Flow {
  return Flow.fromPartial(partial);
}

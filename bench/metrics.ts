// Metrics benchmarks: (a) ingest of the load capture through the pipeline `hubble-ts serve` builds (pcap source ->
// monitor agent -> parser -> ring), without metrics and with Hubble's flow metrics fed by the Observer's hooks, best of
// ROUNDS each; (b) the hooks' own cost per flow, timed over flows held in memory, with the minor garbage collections
// they cause per million flows (0 means the per-flow path allocates nothing that outlives a few flows); (c) the worst
// case: every flow a new source address, so with sourceContext=ip each one creates a label set and evicts another.
// Run by bench/run.ts, or alone: node --expose-gc --import tsx bench/metrics.ts
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Flow } from '../src/api/flow/flow.js';
import { DEFAULT_MAX_LABEL_SETS, NodeMetrics } from '../src/metrics/nodeMetrics.js';
import { parseMetricsList } from '../src/metrics/options.js';
import { ensureLoadCapture } from './loadCapture.js';
import { makeNode } from './node.js';

const ROUNDS = 3;
const COST_ROUNDS = 7;
/** Flows held in memory for the per-flow cost. */
const COST_FLOWS = 300_000;
const RING = 4095;
const rate = (n: number) => Math.round(n).toLocaleString('en');

/** Hubble's usual set (what Cilium's Helm examples enable), and the same with address contexts. */
const CONFIGS: Record<string, string[]> = {
  handlers: ['flow,drop,tcp,icmp,port-distribution'],
  contexts: [
    'flow:sourceContext=ip;destinationContext=ip',
    'drop:sourceContext=namespace|ip;destinationContext=namespace|ip',
    'tcp:labelsContext=source_ip,destination_ip,traffic_direction',
    'icmp:sourceContext=ip',
    'port-distribution:destinationContext=ip',
  ],
};

export interface MetricsResults {
  metrics_ingest_flows_per_s_off: number;
  metrics_ingest_flows_per_s_handlers: number;
  metrics_ingest_flows_per_s_contexts: number;
  metrics_hook_ns_per_flow_handlers: number;
  metrics_hook_ns_per_flow_contexts: number;
  metrics_hook_minor_gcs_per_million_flows_handlers: number;
  metrics_hook_minor_gcs_per_million_flows_contexts: number;
  metrics_hook_ns_per_flow_new_label_set_each: number;
}

function newMetrics(config: string[]): NodeMetrics {
  return new NodeMetrics({ handlers: parseMetricsList(config), maxLabelSets: DEFAULT_MAX_LABEL_SETS });
}

/** One full replay with `config` enabled (undefined: no metrics), in flows per second. */
async function ingestOnce(
  capturePath: string,
  config: string[] | undefined,
): Promise<{ flows: number; seconds: number }> {
  const metrics = config && newMetrics(config);
  const { observer, replay } = makeNode(capturePath, RING, 'bench', metrics?.observerHooks());
  const start = process.hrtime.bigint();
  await replay();
  return { flows: observer.seenFlows, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/** Best of ROUNDS replays per setting, the settings taking turns so a busy machine slows all of them alike. */
async function benchIngest(capturePath: string, log: (l: string) => void): Promise<Record<string, number>> {
  const settings: [string, string[] | undefined][] = [
    ['off', undefined],
    ['handlers', CONFIGS['handlers']],
    ['contexts', CONFIGS['contexts']],
  ];
  const best: Record<string, number> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [label, config] of settings) {
      const { flows, seconds } = await ingestOnce(capturePath, config);
      log(
        `ingest, metrics ${label}, round ${round}: ${flows} flows in ${seconds.toFixed(2)} s = ${rate(flows / seconds)} flows/s`,
      );
      best[label] = Math.max(best[label] ?? 0, flows / seconds);
    }
  }
  return best;
}

/** The first `count` flows of the capture, decoded as serve decodes them. */
async function decodedFlows(capturePath: string, count: number): Promise<Flow[]> {
  const flows: Flow[] = [];
  const { replay } = makeNode(capturePath, RING, 'bench', {
    onDecodedFlow: [
      (flow) => {
        flows.push(flow);
      },
    ],
  });
  await replay(count);
  return flows;
}

/** Median ns per flow of the metrics hook over `flows`, and minor collections per million flows. */
async function hookCost(flows: readonly Flow[], metrics: () => NodeMetrics): Promise<{ ns: number; gcs: number }> {
  const times: number[] = [];
  let minor = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail;
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    }
  });
  const m = metrics();
  for (const flow of flows) m.onDecodedFlow(flow); // warm up: label sets exist, code is optimised
  (globalThis as { gc?: () => void }).gc?.();
  await nextTurn();
  gcObserver.observe({ entryTypes: ['gc'] });
  for (let round = 0; round < COST_ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < flows.length; i++) m.onDecodedFlow(flows[i]!);
    times.push(Number(process.hrtime.bigint() - start) / flows.length);
  }
  await nextTurn();
  gcObserver.disconnect();
  times.sort((a, b) => a - b);
  return { ns: times[Math.floor(times.length / 2)]!, gcs: (minor * 1e6) / (flows.length * COST_ROUNDS) };
}

/** Flows whose source address is new every time (10.x.y.z), as a scan or a flood of clients would make them. */
function distinctSourceFlows(template: Flow, count: number): Flow[] {
  const flows: Flow[] = [];
  for (let i = 0; i < count; i++) {
    const source = `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
    flows.push({ ...template, IP: { ...template.IP!, source } });
  }
  return flows;
}

export async function benchMetrics(capturePath: string, log: (line: string) => void): Promise<MetricsResults> {
  const ingest = await benchIngest(capturePath, log);
  const off = ingest['off']!;
  const handlers = ingest['handlers']!;
  const contexts = ingest['contexts']!;
  log(
    `ingest with metrics: ${rate(handlers)} flows/s (handlers, ${((1 - handlers / off) * 100).toFixed(1)}% below off), ` +
      `${rate(contexts)} flows/s (contexts, ${((1 - contexts / off) * 100).toFixed(1)}% below off), off ${rate(off)} flows/s`,
  );

  const flows = await decodedFlows(capturePath, COST_FLOWS);
  const handlerCost = await hookCost(flows, () => newMetrics(CONFIGS['handlers']!));
  const contextCost = await hookCost(flows, () => newMetrics(CONFIGS['contexts']!));
  log(
    `metrics hook over ${flows.length} flows: ${handlerCost.ns.toFixed(0)} ns/flow (handlers), ` +
      `${contextCost.ns.toFixed(0)} ns/flow (contexts); minor GCs per million flows: ${handlerCost.gcs.toFixed(1)}, ${contextCost.gcs.toFixed(1)}`,
  );
  const template = flows.find((f) => f.l4?.TCP !== undefined && f.IP !== undefined)!;
  const distinct = distinctSourceFlows(template, 200_000);
  const floodCost = await hookCost(distinct, () => newMetrics(['flow:sourceContext=ip']));
  log(
    `metrics hook, a new source address every flow (flow:sourceContext=ip, cap ${DEFAULT_MAX_LABEL_SETS}): ` +
      `${floodCost.ns.toFixed(0)} ns/flow`,
  );
  return {
    metrics_ingest_flows_per_s_off: Math.round(off),
    metrics_ingest_flows_per_s_handlers: Math.round(handlers),
    metrics_ingest_flows_per_s_contexts: Math.round(contexts),
    metrics_hook_ns_per_flow_handlers: Number(handlerCost.ns.toFixed(1)),
    metrics_hook_ns_per_flow_contexts: Number(contextCost.ns.toFixed(1)),
    metrics_hook_minor_gcs_per_million_flows_handlers: Number(handlerCost.gcs.toFixed(2)),
    metrics_hook_minor_gcs_per_million_flows_contexts: Number(contextCost.gcs.toFixed(2)),
    metrics_hook_ns_per_flow_new_label_set_each: Number(floodCost.ns.toFixed(1)),
  };
}

if (process.argv[1] === import.meta.filename) {
  const packets = Number(process.env['BENCH_PACKETS'] ?? 1_000_000);
  const capturePath = join(import.meta.dirname, 'out', `load-${packets}.pcap`);
  const log = (line: string) => process.stdout.write(line + '\n');
  await ensureLoadCapture(capturePath, packets, log);
  const results = await benchMetrics(capturePath, log);
  const resultsPath = join(import.meta.dirname, 'results.json');
  const previous = existsSync(resultsPath)
    ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown>)
    : {};
  writeFileSync(resultsPath, JSON.stringify({ ...previous, ...results }, null, 2) + '\n');
  log('wrote bench/results.json');
}

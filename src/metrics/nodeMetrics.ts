// A node's metrics: Hubble's flow metric handlers (--metrics), fed by the Observer's hooks; the node's own health (lost
// events by source and by consumer, events decoded, ring occupancy, GetFlows clients, recordings and their queues),
// read from the running parts when scraped; label-set bookkeeping; and Node's process metrics.
import type * as grpc from '@grpc/grpc-js';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Flow } from '../api/flow/flow.js';
import { LostEventSource, lostEventSourceName } from '../monitor/lostEvent.js';
import { createHandlers, type MetricHandler } from './handlers/index.js';
import type { BoundedCounterVec, BoundedHistogramVec, LabelSetLimit } from './labelSets.js';
import type { MetricsHandlerSpec } from './options.js';
import { ScrapedMetric, type ScrapedValues } from './scraped.js';

/** Label sets each metric keeps at most, unless --metrics-label-sets-max says otherwise. */
export const DEFAULT_MAX_LABEL_SETS = 10_000;

export interface NodeMetricsOptions {
  handlers: readonly MetricsHandlerSpec[];
  maxLabelSets: number;
}

/** The parts of a running node the health metrics read, as small views so this module depends on none of them. */
export interface NodeHealthSources {
  ring: { readonly len: number; readonly cap: number; readonly readersLost: number };
  /** Monitor events the Observer could not decode. */
  decodeErrors(): number;
  /** Events monitor listeners' full queues dropped. */
  listenerEventsLost(): number;
  recordings: {
    readonly sinks: { readonly size: number };
    readonly queuedPackets: number;
    readonly packetsLost: number;
  };
  /** Events the Observer stored, by kind (Observer.seenFlows and seenEvents). */
  events(): Readonly<Record<EventKind, number>>;
  /** What lost events reported lost, by LostEventSource number (Observer.reportedLost). */
  reportedLost(): readonly number[];
  /** L7 flows the Observer did not keep (see Observer.l7FlowsDropped), when --l7 is on. */
  l7FlowsDropped?: () => number;
  /** The L7 parser's HTTP connection tracker's counters, undefined unless --l7 includes http. */
  l7Http?: () =>
    | {
        readonly connections: number;
        readonly bufferedBytes: number;
        readonly evicted: number;
        readonly abandoned: number;
        readonly tunnels: number;
        readonly gaps: number;
      }
    | undefined;
  /** The L7 parser's DNS-over-TCP tracker's counters, undefined unless --l7 includes dns. */
  l7DnsTcp?: () =>
    | {
        readonly connections: number;
        readonly bufferedBytes: number;
        readonly evicted: number;
        readonly abandoned: number;
      }
    | undefined;
  /** The flow exporter's counters, when --export-file-path is on. */
  export?: {
    readonly written: number;
    readonly dropped: number;
    readonly errors: number;
    readonly paused: boolean;
    readonly queued: number;
  };
}

/** The web UI's counters (src/ui/flowStream.ts StreamCounters). */
export interface UiStreamCounters {
  readonly streams: number;
  readonly dropped: number;
}

/** The web UI's metrics, present only while it serves: an absent series says "no web UI", a 0 would not. */
export function registerUiMetrics(registry: Registry, counters: () => UiStreamCounters | undefined): void {
  const read = (value: (c: UiStreamCounters) => number): ScrapedValues => {
    const c = counters();
    return c === undefined ? [] : [[{}, value(c)]];
  };
  new ScrapedMetric('hubblets_ui_flow_streams', 'Flow streams the web UI serves to browsers now', 'gauge', () =>
    read((c) => c.streams),
  ).registerIn(registry);
  new ScrapedMetric(
    'hubblets_ui_flows_dropped_total',
    'Flows the web UI left out for browsers that read too slowly (each stream holds --ui-client-queue-size)',
    'counter',
    () => read((c) => c.dropped),
  ).registerIn(registry);
}

/** The event kinds the Observer writes into the ring. */
export type EventKind = 'flow' | 'agent' | 'debug' | 'lost';
const EVENT_KINDS: readonly EventKind[] = ['flow', 'agent', 'debug', 'lost'];

export class NodeMetrics {
  readonly registry = new Registry();
  readonly handlers: readonly MetricHandler[];
  private readonly counts: readonly ((flow: Flow) => void)[];
  private readonly vectors: readonly (BoundedCounterVec | BoundedHistogramVec)[];
  private openGetFlows = 0;
  private sources: NodeHealthSources | undefined;
  private ui: UiStreamCounters | undefined;

  constructor(options: NodeMetricsOptions) {
    const limit: LabelSetLimit = { maxLabelSets: options.maxLabelSets };
    this.handlers = createHandlers(options.handlers, limit);
    // One closure per handler: each calls one class's processFlow, where a loop over the handlers would be a call site
    // seeing every handler class.
    this.counts = this.handlers.map((h) => (flow: Flow) => h.processFlow(flow));
    this.vectors = this.handlers.flatMap((h) => h.vectors);
    for (const vector of this.vectors) vector.registerIn(this.registry);
    this.registerHealth();
    collectDefaultMetrics({ register: this.registry });
  }

  /** The Observer's onDecodedFlow hook: every handler counts the flow. */
  readonly onDecodedFlow = (flow: Flow): void => {
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) counts[i]!(flow);
  };

  /**
   * The Observer hooks (ObserverHooks) that feed these metrics: none without flow handlers, so that a node serving
   * only its own health metrics keeps the Observer on its path that builds no flow objects.
   */
  observerHooks(): { onDecodedFlow: ((flow: Flow) => void)[] } {
    return { onDecodedFlow: this.counts.length > 0 ? [this.onDecodedFlow] : [] };
  }

  /** Tells the health metrics where to read from, once the node's parts exist. */
  watch(sources: NodeHealthSources): void {
    this.sources = sources;
  }

  /** Tells the web UI's metrics where to read from, when --ui-address is on. */
  watchUi(counters: UiStreamCounters): void {
    this.ui = counters;
  }

  /** Wraps a GetFlows implementation so hubblets_getflows_clients counts the streams open. */
  countGetFlows<Req, Res>(handler: grpc.handleServerStreamingCall<Req, Res>): grpc.handleServerStreamingCall<Req, Res> {
    return (call) => {
      this.openGetFlows++;
      let open = true;
      const ended = () => {
        if (!open) return;
        open = false;
        this.openGetFlows--;
      };
      call.once('finish', ended);
      call.once('close', ended);
      call.once('cancelled', ended);
      handler(call);
    };
  }

  private registerHealth(): void {
    const reg = this.registry;
    const s = () => this.sources;
    const reported = () => s()?.reportedLost() ?? [];
    const lost = (source: LostEventSource) => reported()[source] ?? 0;
    new ScrapedMetric('hubble_lost_events_total', 'Number of lost events', 'counter', () => {
      const values: [Record<string, string>, number][] = [
        [{ source: 'perf_event_ring_buffer' }, lost(LostEventSource.PERF_EVENT_RING_BUFFER)],
        [
          { source: 'observer_events_queue' },
          lost(LostEventSource.OBSERVER_EVENTS_QUEUE) + (s()?.listenerEventsLost() ?? 0),
        ],
        [{ source: 'hubble_ring_buffer' }, lost(LostEventSource.HUBBLE_RING_BUFFER) + (s()?.ring.readersLost ?? 0)],
      ];
      const others = reported();
      for (let source = 0; source < others.length; source++) {
        if (source >= LostEventSource.PERF_EVENT_RING_BUFFER && source <= LostEventSource.HUBBLE_RING_BUFFER) continue;
        if ((others[source] ?? 0) > 0) {
          values.push([{ source: lostEventSourceName(source).toLowerCase() }, others[source]!]);
        }
      }
      return values;
    }).registerIn(reg);
    new ScrapedMetric(
      'hubblets_consumer_lost_events_total',
      'Events a consumer missed: API readers the ring writer overtook (api_reader), monitor listeners whose queue was full (monitor_listener), packets recordings dropped (recorder)',
      'counter',
      (): ScrapedValues => [
        [{ consumer: 'api_reader' }, s()?.ring.readersLost ?? 0],
        [{ consumer: 'monitor_listener' }, s()?.listenerEventsLost() ?? 0],
        [{ consumer: 'recorder' }, s()?.recordings.packetsLost ?? 0],
      ],
    ).registerIn(reg);
    new ScrapedMetric('hubblets_events_total', 'Events the observer decoded and stored, by kind', 'counter', () =>
      EVENT_KINDS.map((kind) => [{ kind }, s()?.events()[kind] ?? 0] as const),
    ).registerIn(reg);
    new ScrapedMetric(
      'hubblets_events_undecodable_total',
      'Monitor events the observer could not decode',
      'counter',
      () => s()?.decodeErrors() ?? 0,
    ).registerIn(reg);
    new ScrapedMetric(
      'hubblets_ring_buffer_events',
      'Events held in the ring buffer',
      'gauge',
      () => s()?.ring.len ?? 0,
    ).registerIn(reg);
    new ScrapedMetric(
      'hubblets_ring_buffer_capacity',
      'Events the ring buffer can hold (--buffer-capacity)',
      'gauge',
      () => s()?.ring.cap ?? 0,
    ).registerIn(reg);
    new ScrapedMetric(
      'hubblets_getflows_clients',
      'GetFlows streams open',
      'gauge',
      () => this.openGetFlows,
    ).registerIn(reg);
    new ScrapedMetric(
      'hubblets_recordings_running',
      'Recordings writing a file',
      'gauge',
      () => s()?.recordings.sinks.size ?? 0,
    ).registerIn(reg);
    new ScrapedMetric(
      'hubblets_recorder_sink_queue_packets',
      'Packets running recordings hold in their queues, not yet written (each queue holds up to --sink-queue-size)',
      'gauge',
      () => s()?.recordings.queuedPackets ?? 0,
    ).registerIn(reg);
    // The L7 connection trackers', present only when they run.
    registerL7TrackerMetrics(reg, () => s()?.l7Http?.(), {
      name: 'http',
      connections: 'TCP connections the L7 parser reads as HTTP now',
      held: 'Bytes the L7 parser holds for HTTP connections (out-of-order segments, unfinished heads)',
      dropped:
        'HTTP connections the L7 parser stopped reading: evicted (least recently used, to make room), abandoned (bytes stopped parsing as HTTP), tunnel (CONNECT or 101 Switching Protocols)',
      reasons: [
        ['evicted', (t) => t.evicted],
        ['abandoned', (t) => t.abandoned],
        ['tunnel', (t) => t.tunnels],
      ],
    });
    new ScrapedMetric(
      'hubblets_l7_http_gaps_total',
      'Holes in HTTP byte streams the L7 parser gave up on (segments the capture lost), each followed by a resynchronisation',
      'counter',
      (): ScrapedValues => {
        const t = s()?.l7Http?.();
        return t === undefined ? [] : [[{}, t.gaps]];
      },
    ).registerIn(reg);
    registerL7TrackerMetrics(reg, () => s()?.l7DnsTcp?.(), {
      name: 'dns_tcp',
      connections: 'TCP connections on port 53 the L7 parser reads as DNS now',
      held: 'Bytes the L7 parser holds for DNS-over-TCP connections (out-of-order segments, messages spanning segments)',
      dropped:
        'DNS-over-TCP connections the L7 parser stopped reading: evicted (least recently used, to make room), abandoned (a hole in a stream, a length no DNS message has, or a message the end of the connection cut short)',
      reasons: [
        ['evicted', (t) => t.evicted],
        ['abandoned', (t) => t.abandoned],
      ],
    });
    new ScrapedMetric(
      'hubblets_l7_flows_dropped_total',
      "L7 flows not kept: their packet's flow had left the ring before the L7 parser's worker thread answered (the ring is too small for the load), or a hook stopped it",
      'counter',
      (): ScrapedValues => {
        const dropped = s()?.l7FlowsDropped;
        return dropped === undefined ? [] : [[{}, dropped()]];
      },
    ).registerIn(reg);
    // The exporter's, present only when exporting: an absent series says "not exporting", a 0 would not.
    const exported = (read: (e: NonNullable<NodeHealthSources['export']>) => number): ScrapedValues => {
      const e = s()?.export;
      return e === undefined ? [] : [[{}, read(e)]];
    };
    new ScrapedMetric(
      'hubblets_export_events_written_total',
      'Events written to the export file (--export-file-path)',
      'counter',
      () => exported((e) => e.written),
    ).registerIn(reg);
    new ScrapedMetric(
      'hubblets_export_events_dropped_total',
      'Events not exported: its queue was full, or the file could not be written',
      'counter',
      () => exported((e) => e.dropped),
    ).registerIn(reg);
    new ScrapedMetric(
      'hubblets_export_write_errors_total',
      'Times writing the export file failed (a full disk, a removed directory); each stops export until a retry succeeds',
      'counter',
      () => exported((e) => e.errors),
    ).registerIn(reg);
    new ScrapedMetric(
      'hubblets_export_stopped',
      '1 while export is stopped by a write error (retried every few seconds), else 0',
      'gauge',
      () => exported((e) => (e.paused ? 1 : 0)),
    ).registerIn(reg);
    new ScrapedMetric('hubblets_export_queue_events', 'Events waiting to be written to the export file', 'gauge', () =>
      exported((e) => e.queued),
    ).registerIn(reg);
    registerUiMetrics(reg, () => this.ui);
    new ScrapedMetric(
      'hubblets_metrics_label_sets',
      'Label sets a flow metric holds (at most --metrics-label-sets-max each)',
      'gauge',
      () => this.vectors.map((v) => [{ metric: v.name }, v.size] as const),
    ).registerIn(reg);
    new ScrapedMetric(
      'hubblets_metrics_label_sets_evicted_total',
      'Label sets a flow metric dropped (least recently used first) to stay within --metrics-label-sets-max',
      'counter',
      () => this.vectors.map((v) => [{ metric: v.name }, v.evicted] as const),
    ).registerIn(reg);
  }
}

/** What every L7 connection tracker (HTTP, DNS over TCP) counts. */
interface L7TrackerCounters {
  readonly connections: number;
  readonly bufferedBytes: number;
}

/**
 * An L7 connection tracker's series: hubblets_l7_NAME_connections and _buffered_bytes (gauges) and
 * _connections_dropped_total by reason; none while `read` gives undefined (the tracker is off).
 */
function registerL7TrackerMetrics<T extends L7TrackerCounters>(
  reg: Registry,
  read: () => T | undefined,
  tracker: {
    name: string;
    connections: string;
    held: string;
    dropped: string;
    reasons: readonly (readonly [string, (t: T) => number])[];
  },
): void {
  const gauge = (value: (t: T) => number) => (): ScrapedValues => {
    const t = read();
    return t === undefined ? [] : [[{}, value(t)]];
  };
  const prefix = `hubblets_l7_${tracker.name}`;
  new ScrapedMetric(
    `${prefix}_connections`,
    tracker.connections,
    'gauge',
    gauge((t) => t.connections),
  ).registerIn(reg);
  new ScrapedMetric(
    `${prefix}_buffered_bytes`,
    tracker.held,
    'gauge',
    gauge((t) => t.bufferedBytes),
  ).registerIn(reg);
  new ScrapedMetric(`${prefix}_connections_dropped_total`, tracker.dropped, 'counter', (): ScrapedValues => {
    const t = read();
    return t === undefined ? [] : tracker.reasons.map(([reason, value]) => [{ reason }, value(t)]);
  }).registerIn(reg);
}

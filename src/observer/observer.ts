// The Observer: decodes each monitor event exactly once and writes it into the ring every reader shares.
import type { Flow } from '../api/flow/flow.js';
import type { CapturedFrame, MonitorConsumer, MonitorEvent, Timestamp } from '../monitor/types.js';
import { NamespaceTracker } from './namespaces.js';
import { ParserError, type DecodedEvent, type Parser } from './parser/index.js';
import type { L34Record } from './parser/l34Flow.js';
import { EventRing } from './eventRing.js';
import { randomUuid, uuidText, UUID_BYTES } from './parser/flowUuid.js';
import type { L7Kind } from './parser/seven/l7Store.js';

/**
 * Hooks let metrics and exporters plug in without the Observer knowing them, as Hubble's
 * observer options do. A hook returning true stops the event from going further.
 */
export interface ObserverHooks {
  onMonitorEvent?: ((event: MonitorEvent) => boolean | void)[];
  onDecodedFlow?: ((flow: Flow) => boolean | void)[];
  onDecodedEvent?: ((event: DecodedEvent) => boolean | void)[];
}

/** Several parties' hooks as one set, each list in the order given (metrics, then the exporter, ...). */
export function joinHooks(...parts: readonly (ObserverHooks | undefined)[]): ObserverHooks {
  const joined: Required<ObserverHooks> = { onMonitorEvent: [], onDecodedFlow: [], onDecodedEvent: [] };
  for (const part of parts) {
    joined.onMonitorEvent.push(...(part?.onMonitorEvent ?? []));
    joined.onDecodedFlow.push(...(part?.onDecodedFlow ?? []));
    joined.onDecodedEvent.push(...(part?.onDecodedEvent ?? []));
  }
  return joined;
}

export interface ObserverOptions {
  parser: Parser;
  ringCapacity: number;
  clusterName: string;
  hooks?: ObserverHooks;
  /** Told about events that could not be decoded (counted either way). */
  onDecodeError?: (err: ParserError, event: MonitorEvent) => void;
}

export class Observer implements MonitorConsumer {
  readonly ring: EventRing;
  readonly namespaces = new NamespaceTracker();
  readonly startedAtMs = Date.now();
  /** Flows decoded since start, including those the ring has since overwritten. */
  seenFlows = 0;
  /** Other events stored since start, by kind (flows are seenFlows). */
  readonly seenEvents = { agent: 0, debug: 0, lost: 0 };
  /** What lost events reported lost (their num_events_lost), by LostEventSource number. */
  readonly reportedLost: number[] = [];
  decodeErrors = 0;
  /** L7 flows not kept because their packet's flow was not (a hook stopped it) or had left the ring meanwhile. */
  l7FlowsDropped = 0;

  private readonly parser: Parser;
  private readonly clusterName: string;
  private readonly hooks: Required<ObserverHooks>;
  /** Whether hooks read decoded objects; without them L3/L4 flows are never built as objects. */
  private readonly wantsObjects: boolean;
  private readonly onDecodeError: ((err: ParserError, event: MonitorEvent) => void) | undefined;
  private readonly l7Uuid = new Uint8Array(UUID_BYTES);
  private readonly l7UuidWords = new Uint32Array(this.l7Uuid.buffer);

  constructor(opts: ObserverOptions) {
    const parser = opts.parser;
    const l7 = parser.openL7(opts.ringCapacity, (packet, kind, sequence) => this.keepL7(packet, kind, sequence));
    this.ring = new EventRing(
      opts.ringCapacity,
      l7 && ((flow, kind, sequence) => parser.l7FlowOf(flow, kind, sequence)),
    );
    this.parser = parser;
    this.clusterName = opts.clusterName;
    this.hooks = { onMonitorEvent: [], onDecodedFlow: [], onDecodedEvent: [], ...opts.hooks };
    this.wantsObjects = this.hooks.onDecodedFlow.length > 0 || this.hooks.onDecodedEvent.length > 0;
    this.onDecodeError = opts.onDecodeError;
  }

  onMonitorEvent(event: MonitorEvent): void {
    for (const hook of this.hooks.onMonitorEvent) if (hook(event) === true) return;
    // L3/L4 events, nearly all of them, go into the ring as the parser's record; objects only for hooks that want them.
    let record: L34Record | undefined;
    try {
      record = this.parser.recordFlow(event);
      if (record === undefined) {
        this.store(this.parser.decode(event));
        return;
      }
    } catch (err) {
      if (!(err instanceof ParserError)) throw err;
      this.decodeErrors++;
      this.onDecodeError?.(err, event);
      return;
    }
    this.parser.readL7(record, this.keep(record, event.timestamp, event.nodeName));
  }

  /**
   * A frame from a capture source, decoded straight from its bytes into the flow its TraceNotify would give, so that
   * no event is built for it (unless a hook reads events, or it does not decode).
   */
  onCapturedFrame(frame: CapturedFrame): void {
    if (this.hooks.onMonitorEvent.length > 0) return this.onMonitorEvent(frame.event());
    let record: L34Record;
    try {
      record = this.parser.recordFrame(frame);
    } catch (err) {
      if (!(err instanceof ParserError)) throw err;
      this.decodeErrors++;
      this.onDecodeError?.(err, frame.event());
      return;
    }
    this.parser.readL7(record, this.keep(record, record.time, frame.nodeName));
  }

  /**
   * Resolves once the L7 flows of every packet taken in so far are in the ring (the L7 parser's worker thread hands
   * them back within a turn of the event loop); at once without it.
   */
  settled(): Promise<void> {
    return this.parser.settledL7();
  }

  /** Stops what the Observer started: the L7 parser's worker thread, if it has one. The ring stays readable. */
  close(): Promise<void> {
    return this.parser.close();
  }

  /**
   * The L7 flow of record `sequence` (of `kind`) found in the packet whose flow is at ring position `packet`, after
   * it; dropped if that flow is not in the ring (-1: a hook stopped it; or overwritten meanwhile).
   */
  private keepL7(packet: number, kind: L7Kind, sequence: number): void {
    const ring = this.ring;
    if (packet < ring.positions.oldestPosition) {
      this.l7FlowsDropped++;
      return;
    }
    if (!this.wantsObjects) {
      this.seenFlows++;
      ring.writeL7(packet, kind, sequence);
      return;
    }
    const uuid = this.l7Uuid;
    randomUuid(this.l7UuidWords, 0);
    const flow = this.parser.l7FlowOf(ring.flowAt(packet), kind, sequence);
    flow.uuid = uuidText(uuid, 0);
    if (this.hooks.onDecodedFlow.some((hook) => hook(flow) === true)) return;
    this.seenFlows++;
    const decoded: DecodedEvent = { kind: 'flow', timestamp: flow.time!, nodeName: flow.nodeName, flow };
    if (this.hooks.onDecodedEvent.some((hook) => hook(decoded) === true)) return;
    ring.writeL7(packet, kind, sequence, flow, uuid);
  }

  /**
   * A decoded L3/L4 record into the ring, through the hooks that read objects if there are any. Returns its position
   * in the ring, -1 if a hook stopped it.
   */
  private keep(record: L34Record, timestamp: Timestamp, nodeName: string): number {
    this.namespaces.observe(this.clusterName, record.source?.namespace ?? '');
    this.namespaces.observe(this.clusterName, record.destination?.namespace ?? '');
    let flow: Flow | undefined;
    if (this.wantsObjects) {
      flow = this.parser.flowOf(record);
      for (const hook of this.hooks.onDecodedFlow) if (hook(flow) === true) return -1;
      this.seenFlows++;
      const decoded: DecodedEvent = { kind: 'flow', timestamp, nodeName, flow };
      for (const hook of this.hooks.onDecodedEvent) if (hook(decoded) === true) return -1;
    } else {
      this.seenFlows++;
    }
    return this.ring.writeRecord(record, this.parser.emitter, flow);
  }

  /** An event decoded to objects (flows from other parsers, agent, debug and lost events) into the ring. */
  private store(decoded: DecodedEvent): void {
    if (decoded.kind === 'flow') {
      const flow = decoded.flow;
      this.namespaces.observe(this.clusterName, flow.source?.namespace ?? '');
      this.namespaces.observe(this.clusterName, flow.destination?.namespace ?? '');
      for (const hook of this.hooks.onDecodedFlow) if (hook(flow) === true) return;
      this.seenFlows++;
    }
    for (const hook of this.hooks.onDecodedEvent) if (hook(decoded) === true) return;
    if (decoded.kind !== 'flow') this.seenEvents[decoded.kind]++;
    if (decoded.kind === 'lost') {
      const { source, numEventsLost } = decoded.lostEvent;
      this.reportedLost[source] = (this.reportedLost[source] ?? 0) + numEventsLost;
    }
    this.ring.write(decoded);
  }
}

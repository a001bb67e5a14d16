// The parser: turns each MonitorEvent into exactly one Hubble event (flow, agent event, debug event or lost event),
// dispatching on the payload kind and the datapath message type as Hubble's parser does.

import type { AgentEvent, DebugEvent, Emitter, Flow, LostEvent } from '../../api/flow/flow.js';
import { DatapathDecodeError } from '../../monitor/datapath/decodeError.js';
import { MessageType } from '../../monitor/datapath/messageType.js';
import type { CapturedFrame, MonitorEvent, Timestamp } from '../../monitor/types.js';
import { decodeAgentEvent } from './agent.js';
import { decodeDebugEvent, type DebugParserLookups } from './debug.js';
import type { ParserGetters } from './getters.js';
import { ParserError } from './parserError.js';
import { SockParser } from './sock.js';
import { ThreeFourParser } from './threefour.js';
import { sharedMessage } from '../../protowire/compiledEncoder.js';
import { toFlow, type L34Record } from './l34Flow.js';
import { uuidText } from './flowUuid.js';
import { SevenParser, type SevenParserOptions } from './seven/index.js';
import type { L7Record, StoredL7 } from './seven/l7Record.js';

export { ParserError } from './parserError.js';
export type { ParserErrorCode } from './parserError.js';

interface DecodedBase {
  /** When the event happened (the monitor event's time). */
  timestamp: Timestamp;
  nodeName: string;
}

/** What the ring holds: one decoded event, as Hubble's v1.Event. */
export type DecodedEvent =
  | (DecodedBase & { kind: 'flow'; flow: Flow })
  | (DecodedBase & { kind: 'agent'; agentEvent: AgentEvent })
  | (DecodedBase & { kind: 'debug'; debugEvent: DebugEvent })
  | (DecodedBase & { kind: 'lost'; lostEvent: LostEvent });

export interface ParserOptions extends ParserGetters {
  nodeName: string;
  clusterName: string;
  /** Software named in every flow's emitter field. */
  emitter: Emitter;
  /** L7 flows from packets (DNS, HTTP/1.x); none without this. */
  l7?: SevenParserOptions;
}

const NO_L7_RECORDS: readonly L7Record[] = Object.freeze([]);

export class Parser {
  private readonly threeFour: ThreeFourParser;
  private readonly sock: SockParser;
  private readonly seven: SevenParser | undefined;
  private readonly debugLookups: DebugParserLookups;
  /** Software named in every flow's emitter field. */
  readonly emitter: Emitter;

  constructor(options: ParserOptions) {
    this.threeFour = new ThreeFourParser(options);
    this.sock = new SockParser(options);
    this.seven = options.l7 && new SevenParser(options.l7);
    const { endpoints, links } = options;
    this.debugLookups = {
      endpointById: endpoints && ((id) => endpoints.endpointById(id)),
      linkName: links && ((ifindex) => links.linkName(ifindex) ?? ''),
    };
    this.emitter = sharedMessage('flow.Emitter', { ...options.emitter });
  }

  /**
   * Decodes an L3/L4 event (trace, drop, policy verdict, debug capture) into a record of the flow's fields, building
   * no objects (the ring keeps records: see EventRing). The record is reused until the next call; flowOf() turns it
   * into the Flow decode() would return. Undefined for every other event, which decode() handles. Throws ParserError
   * as decode() does.
   */
  recordFlow(event: MonitorEvent): L34Record | undefined {
    const payload = event.payload;
    if (payload.kind !== 'perf') return undefined;
    const data = payload.data;
    const type = data.length === 0 ? -1 : data[0]!;
    if (
      type !== MessageType.TRACE &&
      type !== MessageType.DROP &&
      type !== MessageType.POLICY_VERDICT &&
      type !== MessageType.CAPTURE
    ) {
      return undefined;
    }
    return this.threeFour.record(data, event.timestamp, event.nodeName);
  }

  /** Decodes a captured Ethernet frame into a record, as recordFlow() decodes the TraceNotify it would be wrapped in. */
  recordFrame(frame: CapturedFrame): L34Record {
    return this.threeFour.recordFrame(frame);
  }

  /**
   * The L7 messages (DNS messages, HTTP/1.x heads) in the packet the last recordFlow() or recordFrame() decoded into
   * `record`, as records the ring stores; none for nearly every packet, or with L7 off. Valid until the next call.
   */
  l7RecordsOf(record: L34Record): readonly L7Record[] {
    const seven = this.seven;
    if (seven === undefined) return NO_L7_RECORDS;
    return seven.recordsOf(record, this.threeFour.packetHeaders, this.threeFour.packetBytes);
  }

  /** The Flow of an L7 record l7RecordsOf() found in the packet of `record` (for hooks that read objects). */
  l7FlowOf(record: L34Record, l7: L7Record): Flow {
    const flow = this.seven!.flowOf(this.flowOf(record), l7.stored());
    flow.uuid = uuidText(l7.uuid, 0);
    return flow;
  }

  /** Decodes the L7 records the ring stores into flows, on top of their packets' flows; undefined with L7 off. */
  get l7Decoder(): ((packet: Flow, stored: StoredL7) => Flow) | undefined {
    const seven = this.seven;
    return seven && ((packet, stored) => seven.flowOf(packet, stored));
  }

  /** The L7 parser's HTTP connection counters; undefined with L7 HTTP off. */
  get l7HttpStats(): SevenParser['httpStats'] {
    return this.seven?.httpStats;
  }

  /** The Flow of a record recordFlow returned (same UUID, emitter set), for whoever needs the object. */
  flowOf(record: L34Record): Flow {
    const flow = toFlow(record);
    flow.emitter = this.emitter;
    return flow;
  }

  /** Decodes one event; throws ParserError for events that cannot be decoded (the Observer counts and skips them). */
  decode(event: MonitorEvent): DecodedEvent {
    const { timestamp, nodeName, payload } = event;
    switch (payload.kind) {
      case 'perf': {
        const data = payload.data;
        if (data.length === 0) throw new ParserError('INVALID_MESSAGE', 'empty datapath message');
        const type = data[0]!;
        if (type === MessageType.DEBUG) {
          return { kind: 'debug', timestamp, nodeName, debugEvent: this.decodeDebug(data, payload.cpu) };
        }
        if (type === MessageType.RECORDER_CAPTURE) {
          // Recorder captures belong to the recorder's sinks; Hubble's observer has no flow for them.
          throw new ParserError(
            'UNKNOWN_MESSAGE_TYPE',
            'recorder capture events are for the recorder, not the observer',
          );
        }
        const flow =
          type === MessageType.TRACE_SOCK
            ? this.sock.decode(data, timestamp, nodeName)
            : this.threeFour.decode(data, timestamp, nodeName);
        flow.emitter = this.emitter;
        return { kind: 'flow', timestamp, nodeName, flow };
      }
      case 'agent':
        return { kind: 'agent', timestamp, nodeName, agentEvent: decodeAgentEvent(payload) };
      case 'lost':
        return {
          kind: 'lost',
          timestamp,
          nodeName,
          lostEvent: {
            source: payload.source,
            numEventsLost: payload.numLost,
            cpu: payload.cpu,
            first: undefined,
            last: undefined,
          },
        };
    }
  }

  private decodeDebug(data: Uint8Array, cpu: number): DebugEvent {
    try {
      return decodeDebugEvent(data, cpu, this.debugLookups);
    } catch (err) {
      if (err instanceof DatapathDecodeError) throw new ParserError('INVALID_MESSAGE', err.message, { cause: err });
      throw err;
    }
  }
}

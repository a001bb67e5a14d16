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
import { Layer } from '../../packet/frame.js';
import { IpProtocol } from '../../packet/protocols.js';
import { L7_PROTOCOLS, L7Packet, mayCarryL7, SevenParser, type SevenParserOptions } from './seven/index.js';
import type { HttpConnectionStats } from './seven/httpConnections.js';
import type { DnsTcpStats } from './seven/dnsTcp.js';
import { l7FlowOf, type L7FlowOptions } from './seven/l7Flow.js';
import { L7Store, type L7Kind } from './seven/l7Store.js';
import { L7Offload, type L7Delivery } from './seven/offload.js';
import { uint32At } from '../../packet/format.js';

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
  /** Told when the L7 parser's worker thread fails (L7 reading stops; the rest goes on). */
  onL7Failure?: (err: Error) => void;
}

const VERDICT_FORWARDED = 1;
/** Packets handed to the L7 worker and not yet answered, at most (and at most a quarter of the ring). */
const MAX_L7_IN_FLIGHT = 1024;

/** The L7 parser as the Observer has it open: its store, and where each packet goes (this thread or the worker). */
interface OpenL7 {
  store: L7Store;
  deliver: L7Delivery;
  /** Set when it runs in this thread. */
  seven: SevenParser | undefined;
  /** Set when it runs in a worker thread. */
  offload: L7Offload | undefined;
}

export class Parser {
  private readonly threeFour: ThreeFourParser;
  private readonly sock: SockParser;
  private readonly l7Options: SevenParserOptions | undefined;
  /** Which L7 protocols are read (--l7). */
  private readonly l7Dns: boolean;
  private readonly l7Http: boolean;
  private readonly l7FlowOptions: L7FlowOptions;
  private readonly onL7Failure: (err: Error) => void;
  private l7: OpenL7 | undefined;
  private readonly l7Packet = new L7Packet();
  private readonly debugLookups: DebugParserLookups;
  /** Software named in every flow's emitter field. */
  readonly emitter: Emitter;

  constructor(options: ParserOptions) {
    this.threeFour = new ThreeFourParser(options);
    this.sock = new SockParser(options);
    this.l7Options = options.l7;
    const protocols = options.l7?.protocols ?? L7_PROTOCOLS;
    this.l7Dns = protocols.includes('dns');
    this.l7Http = protocols.includes('http');
    this.l7FlowOptions = { keepSecrets: options.l7?.keepSecrets ?? false };
    this.onL7Failure = options.onL7Failure ?? (() => undefined);
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
   * Opens the L7 parser (with L7 on) for an Observer whose ring holds `ringCapacity` entries: each record it finds
   * goes to `deliver` with the ticket its packet was read with. Returns the store the records are in.
   */
  openL7(ringCapacity: number, deliver: L7Delivery): L7Store | undefined {
    const options = this.l7Options;
    if (options === undefined || !(this.l7Dns || this.l7Http)) return undefined;
    if (this.l7 !== undefined) throw new Error('the L7 parser is already open');
    const inFlight = options.worker === true ? Math.max(1, Math.min(MAX_L7_IN_FLIGHT, (ringCapacity + 1) >> 2)) : 0;
    // A record stays in the store while the ring may still hold it (at most one per ring slot), plus those in flight.
    const store = L7Store.create(ringCapacity + 1 + 4 * inFlight, ringCapacity + 1, options.worker === true);
    this.l7 = {
      store,
      deliver,
      seven: options.worker === true ? undefined : new SevenParser(options, store),
      offload: options.worker === true ? new L7Offload(options, store, deliver, inFlight, this.onL7Failure) : undefined,
    };
    return store;
  }

  /**
   * Reads the L7 messages (DNS messages, HTTP/1.x heads) in the packet the last recordFlow() or recordFrame() decoded
   * into `record`; its flow is in the ring at `ticket` (-1 if not kept). Their records are delivered with that ticket,
   * at once or, from the worker thread, within a turn of the event loop, in packet order. Only forwarded packets are
   * read (a dropped one never reached its peer).
   */
  readL7(record: L34Record, ticket: number): void {
    const l7 = this.l7;
    if (l7 === undefined || record.verdict !== VERDICT_FORWARDED || record.ip === undefined) return;
    const h = this.threeFour.packetHeaders;
    if (h.payloadOffset < 0) return;
    const protocol = (h.layers & Layer.TCP) !== 0 ? IpProtocol.TCP : (h.layers & Layer.UDP) !== 0 ? IpProtocol.UDP : 0;
    const bytes = this.threeFour.packetBytes;
    const start = h.payloadOffset;
    const end = h.payloadEnd;
    const dns = this.l7Dns;
    const http = this.l7Http;
    if (!mayCarryL7(dns, http, protocol, bytes, start, end, h.tcpFlags, h.sourcePort, h.destinationPort)) return;
    const time = record.time;
    if (l7.offload !== undefined) {
      l7.offload.submit(h, bytes, protocol, time.seconds, time.nanos, ticket);
      return;
    }
    const p = this.l7Packet;
    p.protocol = protocol;
    p.sourceIP = record.ip.source;
    p.destinationIP = record.ip.destination;
    p.sourcePort = h.sourcePort;
    p.destinationPort = h.destinationPort;
    p.tcpFlags = h.tcpFlags;
    if (protocol === IpProtocol.TCP) {
      p.sequence = uint32At(bytes, h.transportOffset + 4);
      p.acknowledgement = uint32At(bytes, h.transportOffset + 8);
    }
    p.seconds = time.seconds;
    p.nanos = time.nanos;
    p.bytes = bytes;
    p.payloadStart = h.payloadOffset;
    p.payloadEnd = h.payloadEnd;
    const seven = l7.seven!;
    const count = seven.read(p);
    for (let i = 0; i < count; i++) l7.deliver(ticket, seven.kinds[i]!, seven.sequences[i]!);
  }

  /** Whether the L7 parser's worker thread runs now (undefined without one: L7 off, or in this thread). */
  get l7WorkerRunning(): boolean | undefined {
    return this.l7?.offload?.running;
  }

  /** Resolves once every record of the packets read so far has been delivered (at once without the worker). */
  settledL7(): Promise<void> {
    return this.l7?.offload?.settled() ?? Promise.resolve();
  }

  /** Stops the L7 parser's worker thread, if it has one. */
  async close(): Promise<void> {
    await this.l7?.offload?.close();
  }

  /** The flow of the L7 record `sequence` (of `kind`), found in the packet whose L3/L4 flow is `packet`. */
  l7FlowOf(packet: Flow, kind: L7Kind, sequence: number): Flow {
    return l7FlowOf(packet, this.l7!.store.load(sequence, kind), this.l7FlowOptions);
  }

  /** The L7 parser's HTTP connection counters; undefined with L7 HTTP off. */
  get l7HttpStats(): HttpConnectionStats | undefined {
    return (this.l7?.offload ?? this.l7?.seven)?.httpStats;
  }

  /** The L7 parser's DNS-over-TCP connection counters; undefined with L7 DNS off. */
  get l7DnsTcpStats(): DnsTcpStats | undefined {
    return (this.l7?.offload ?? this.l7?.seven)?.dnsTcpStats;
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

// The L7 parser: DNS messages and HTTP/1.x message heads read from the packets themselves, each an L7 flow as Hubble
// shows the ones its proxy logs (type L7, event type access-log, l7 record, summary), beside the packet's own L3/L4
// flow. Most packets carry neither, and cost a port check or one lookup.
import {
  FlowType,
  TrafficDirection,
  type CiliumEventType,
  type Emitter,
  type Flow,
  type Layer4,
  type Layer7,
} from '../../../api/flow/flow.js';
import { MessageType } from '../../../monitor/datapath/messageType.js';
import { decodeDnsMessage, isStrictDnsMessage, type DnsMessage } from '../../../packet/dns.js';
import { Layer, type PacketHeaders } from '../../../packet/frame.js';
import { IpProtocol, TcpFlag } from '../../../packet/protocols.js';
import { sharedMessage } from '../../../protowire/compiledEncoder.js';
import { flowUuid } from '../flowUuid.js';
import type { L34Record } from '../l34Flow.js';
import { DnsTransactions, eachTcpDnsMessage, type DnsEnds } from './dns.js';
import { httpRecord, type HttpRecordOptions } from './http.js';
import { HttpConnections, type HttpConnectionsOptions, type TcpSegment } from './httpConnections.js';

/** The L7 protocols read from packets (`--l7`). */
export const L7_PROTOCOLS = ['dns', 'http'] as const;
export type L7Protocol = (typeof L7_PROTOCOLS)[number];

export interface SevenParserOptions {
  /** Protocols to read; both by default. */
  protocols?: readonly L7Protocol[];
  /** Ports HTTP is looked for on (either end); any port when empty or absent. */
  httpPorts?: readonly number[];
  /** Keep credential headers' values instead of redacting them. */
  keepSecrets?: boolean;
  /** Bounds of the HTTP connection tracker. */
  httpLimits?: Omit<HttpConnectionsOptions, 'ports'>;
}

const DNS_PORT = 53;
const VERDICT_FORWARDED = 1;
/** Hubble's event type for flows its proxy logs (monitor's MessageTypeAccessLog). */
const ACCESS_LOG_EVENT: CiliumEventType = sharedMessage('flow.CiliumEventType', {
  type: MessageType.ACCESS_LOG,
  subType: 0,
});
const EMPTY_FLOWS: readonly Flow[] = Object.freeze([]);
const EMPTY_STRINGS: string[] = Object.freeze([]) as unknown as string[];

export class SevenParser {
  private readonly dnsOn: boolean;
  private readonly httpOn: boolean;
  private readonly dnsTransactions = new DnsTransactions();
  private readonly http: HttpConnections | undefined;
  private readonly httpOptions: HttpRecordOptions;
  /** The flows of the current packet (reused: valid until the next call). */
  private readonly found: Flow[] = [];
  private readonly segment: TcpSegment = {
    connectionKey: '',
    fromFirst: false,
    sequence: 0,
    acknowledgement: 0,
    flags: 0,
    bytes: new Uint8Array(0),
    payloadStart: 0,
    payloadEnd: 0,
    timeNs: 0,
    sourcePort: 0,
    destinationPort: 0,
  };
  private readonly ends: DnsEnds = { sourceIP: '', sourcePort: 0, destinationIP: '', destinationPort: 0, protocol: 0 };
  // The packet being read, for the flows it yields.
  private record!: L34Record;
  private emitter!: Emitter;

  constructor(options: SevenParserOptions = {}) {
    const protocols = options.protocols ?? L7_PROTOCOLS;
    this.dnsOn = protocols.includes('dns');
    this.httpOn = protocols.includes('http');
    this.http = this.httpOn ? new HttpConnections({ ...options.httpLimits, ports: options.httpPorts }) : undefined;
    this.httpOptions = { keepSecrets: options.keepSecrets ?? false };
  }

  /** The HTTP tracker's counters (connections tracked, evicted, gaps, ...), undefined with HTTP off. */
  get httpStats(): HttpConnections['stats'] | undefined {
    return this.http?.stats;
  }

  /**
   * The L7 flows in the packet `record` was decoded from (its headers `h` index `bytes`): DNS messages and HTTP heads
   * it completes. Only forwarded packets are read (a dropped one never reached its peer). The array is reused.
   */
  flowsOf(record: L34Record, h: PacketHeaders, bytes: Uint8Array, emitter: Emitter): readonly Flow[] {
    if (record.verdict !== VERDICT_FORWARDED || h.payloadOffset < 0 || record.ip === undefined) return EMPTY_FLOWS;
    const layers = h.layers;
    const isTcp = (layers & Layer.TCP) !== 0;
    if (!isTcp && (layers & Layer.UDP) === 0) return EMPTY_FLOWS;
    this.found.length = 0;
    this.record = record;
    this.emitter = emitter;
    const start = h.payloadOffset;
    const end = h.payloadEnd;
    const dnsPort = h.sourcePort === DNS_PORT || h.destinationPort === DNS_PORT;
    if (isTcp) {
      if (this.dnsOn && (dnsPort || isStrictTcpDnsSegment(bytes, start, end))) {
        eachTcpDnsMessage(bytes, start, end, (message) => this.addDns(message, IpProtocol.TCP));
      } else if (this.http !== undefined && (end > start || (h.tcpFlags & (TcpFlag.FIN | TcpFlag.RST)) !== 0)) {
        this.readHttp(h, bytes);
      }
    } else if (this.dnsOn && end > start) {
      const message =
        dnsPort || isStrictDnsMessage(bytes, start, end) ? decodeDnsMessage(bytes, start, end) : undefined;
      if (message !== undefined) this.addDns(message, IpProtocol.UDP);
    }
    return this.found;
  }

  private addDns(message: DnsMessage, protocol: number): void {
    const r = this.record;
    const l4 = r.l4;
    const ends = this.ends;
    ends.sourceIP = r.ip!.source;
    ends.destinationIP = r.ip!.destination;
    ends.sourcePort = l4?.UDP?.sourcePort ?? l4?.TCP?.sourcePort ?? 0;
    ends.destinationPort = l4?.UDP?.destinationPort ?? l4?.TCP?.destinationPort ?? 0;
    ends.protocol = protocol;
    const dns = this.dnsTransactions.record(message, ends, timeNs(r));
    if (dns === undefined) return;
    this.add({ type: dns.type, latencyNs: dns.latencyNs, dns: dns.dns }, dns.summary, protocol, message.isResponse);
  }

  private readHttp(h: PacketHeaders, bytes: Uint8Array): void {
    const r = this.record;
    const ip = r.ip!;
    const s = this.segment;
    const sourcePort = h.sourcePort;
    const destinationPort = h.destinationPort;
    // Both directions of a connection share a key: the two ends in a fixed order.
    s.fromFirst = ip.source < ip.destination || (ip.source === ip.destination && sourcePort <= destinationPort);
    s.connectionKey = s.fromFirst
      ? `${ip.source} ${sourcePort} ${ip.destination} ${destinationPort}`
      : `${ip.destination} ${destinationPort} ${ip.source} ${sourcePort}`;
    const tcp = h.transportOffset;
    s.sequence = word(bytes, tcp + 4);
    s.acknowledgement = word(bytes, tcp + 8);
    s.flags = h.tcpFlags;
    s.bytes = bytes;
    s.payloadStart = h.payloadOffset;
    s.payloadEnd = h.payloadEnd;
    s.timeNs = timeNs(r);
    s.sourcePort = sourcePort;
    s.destinationPort = destinationPort;
    const heads = this.http!.segment(s);
    for (const head of heads) {
      // A request's authority is its destination; a response's request went to the response's source.
      const serverIsSource = head.kind === 'response';
      const authority = serverIsSource
        ? hostPort(ip.source, sourcePort, ip.ipVersion === 2)
        : hostPort(ip.destination, destinationPort, ip.ipVersion === 2);
      const http = httpRecord(head, authority, this.httpOptions);
      this.add({ type: http.type, latencyNs: http.latencyNs, http: http.http }, http.summary, IpProtocol.TCP, serverIsSource);
    }
  }

  /** One L7 flow of the current packet: its addresses, ports and endpoints, with `l7` and `summary`. */
  private add(l7: Layer7, summary: string, protocol: number, isReply: boolean): void {
    const r = this.record;
    const l4 = r.l4;
    const sourcePort = l4?.TCP?.sourcePort ?? l4?.UDP?.sourcePort ?? 0;
    const destinationPort = l4?.TCP?.destinationPort ?? l4?.UDP?.destinationPort ?? 0;
    const ports = { sourcePort, destinationPort };
    const layer4: Layer4 =
      protocol === IpProtocol.TCP ? { TCP: { ...ports, flags: undefined } } : { UDP: ports };
    this.found.push({
      time: r.time,
      uuid: flowUuid(),
      emitter: this.emitter,
      verdict: VERDICT_FORWARDED,
      dropReason: 0,
      authType: 0,
      ethernet: undefined,
      IP: r.ip,
      l4: layer4,
      tunnel: undefined,
      source: r.source,
      destination: r.destination,
      Type: FlowType.L7,
      nodeName: r.nodeName,
      nodeLabels: EMPTY_STRINGS,
      sourceNames: r.sourceNames,
      destinationNames: r.destinationNames,
      l7,
      reply: isReply,
      eventType: ACCESS_LOG_EVENT,
      sourceService: r.sourceService,
      destinationService: r.destinationService,
      trafficDirection: exchangeDirection(r.trafficDirection, isReply),
      policyMatchType: 0,
      traceObservationPoint: 0,
      traceReason: 0,
      file: undefined,
      ipTraceId: undefined,
      dropReasonDesc: 0,
      isReply,
      debugCapturePoint: 0,
      interface: undefined,
      proxyPort: 0,
      traceContext: undefined,
      sockXlatePoint: 0,
      socketCookie: 0,
      cgroupId: 0,
      Summary: summary,
      extensions: undefined,
      egressAllowedBy: [],
      ingressAllowedBy: [],
      egressDeniedBy: [],
      ingressDeniedBy: [],
      policyLog: EMPTY_STRINGS,
      aggregate: undefined,
    });
  }
}

/**
 * An L7 flow's direction is the exchange's, as Hubble's proxy reports it on request and response alike: the
 * request's packet direction, which a response packet travels against.
 */
function exchangeDirection(packetDirection: TrafficDirection, isReply: boolean): TrafficDirection {
  if (!isReply) return packetDirection;
  if (packetDirection === TrafficDirection.INGRESS) return TrafficDirection.EGRESS;
  if (packetDirection === TrafficDirection.EGRESS) return TrafficDirection.INGRESS;
  return packetDirection;
}

/** A TCP segment off port 53 that is exactly one length-prefixed, well-formed DNS message. */
function isStrictTcpDnsSegment(bytes: Uint8Array, start: number, end: number): boolean {
  return end - start > 2 && ((bytes[start]! << 8) | bytes[start + 1]!) === end - start - 2 && isStrictDnsMessage(bytes, start + 2, end);
}

function word(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function timeNs(r: L34Record): number {
  return r.time.seconds * 1e9 + r.time.nanos;
}

/** "host:port" with an IPv6 address in brackets. */
function hostPort(ip: string, port: number, ipv6: boolean): string {
  return ipv6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

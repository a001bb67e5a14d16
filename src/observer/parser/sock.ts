// Hubble's socket-trace parser: turns a datapath trace-sock event (a socket-level service translation, no packet)
// into a flow of type SOCK, as Hubble's sock parser does.
//
// Hubble finds the socket's own address through the pod that owns the cgroup; there is no cgroup getter here, so the
// local side of these flows has no address (and so only identity 0), exactly as Hubble shows cgroups it cannot map.

import { FlowType, IPVersion, Verdict, type Flow, type Layer4, type Service } from '../../api/flow/flow.js';
import { DatapathDecodeError } from '../../monitor/datapath/decodeError.js';
import { MessageType, messageTypeName } from '../../monitor/datapath/messageType.js';
import {
  SockL4Proto,
  SockXlatePoint,
  TRACE_SOCK_FLAG_IPV6,
  decodeTraceSockNotify,
} from '../../monitor/datapath/traceSock.js';
import type { Timestamp } from '../../monitor/types.js';
import { formatIPv4, formatIPv6 } from '../../packet/ipAddress.js';
import { EndpointResolver } from './endpointResolver.js';
import { flowUuid } from './flowUuid.js';
import type { DnsGetter, ParserGetters, ServiceGetter } from './getters.js';
import { ParserError } from './parserError.js';

export interface SockParserOptions extends ParserGetters {
  nodeName: string;
}

const EMPTY_STRINGS: string[] = Object.freeze([]) as unknown as string[];
const EMPTY_POLICIES: never[] = Object.freeze([]) as unknown as never[];

export class SockParser {
  private readonly nodeName: string;
  private readonly endpoints: EndpointResolver;
  private readonly dns: DnsGetter | undefined;
  private readonly services: ServiceGetter | undefined;

  constructor(options: SockParserOptions) {
    this.nodeName = options.nodeName;
    this.endpoints = new EndpointResolver(options.endpoints, options.identities);
    this.dns = options.dns;
    this.services = options.services;
  }

  /** Decodes a TRACE_SOCK perf event seen at `time`; throws ParserError for anything else or a short message. */
  decode(data: Uint8Array, time: Timestamp, nodeName: string): Flow {
    if (data.length === 0) throw new ParserError('INVALID_MESSAGE', 'empty datapath message');
    if (data[0] !== MessageType.TRACE_SOCK) {
      throw new ParserError(
        'UNKNOWN_MESSAGE_TYPE',
        `message type ${messageTypeName(data[0]!)} is not a trace-sock event`,
      );
    }
    let sock;
    try {
      sock = decodeTraceSockNotify(data);
    } catch (err) {
      if (err instanceof DatapathDecodeError)
        throw new ParserError('INVALID_MESSAGE', `trace-sock: ${err.message}`, { cause: err });
      throw err;
    }
    const isIPv6 = (sock.flags & TRACE_SOCK_FLAG_IPV6) !== 0;
    let sourceIP = '';
    let destinationIP = isIPv6 ? formatIPv6(sock.dstIP, 0) : formatIPv4(sock.dstIP, 0);
    let sourcePort = 0; // a socket trace does not know its own port
    let destinationPort = sock.dstPort;
    let source = this.endpoints.resolve(sourceIP, 0);
    let destination = this.endpoints.resolve(destinationIP, 0);
    // Reverse translations describe the reply path: the service side is the source.
    if (sock.xlatePoint === SockXlatePoint.PRE_DIRECTION_REV || sock.xlatePoint === SockXlatePoint.POST_DIRECTION_REV) {
      [sourceIP, destinationIP] = [destinationIP, sourceIP];
      [sourcePort, destinationPort] = [destinationPort, sourcePort];
      [source, destination] = [destination, source];
    }
    let verdict = Verdict.VERDICT_UNKNOWN;
    if (sock.xlatePoint === SockXlatePoint.PRE_DIRECTION_FWD || sock.xlatePoint === SockXlatePoint.PRE_DIRECTION_REV) {
      verdict = Verdict.TRACED;
    } else if (
      sock.xlatePoint === SockXlatePoint.POST_DIRECTION_FWD ||
      sock.xlatePoint === SockXlatePoint.POST_DIRECTION_REV
    ) {
      verdict = Verdict.TRANSLATED;
    }
    let l4: Layer4 | undefined;
    let summary = 'Unknown';
    if (sock.l4Proto === SockL4Proto.TCP) {
      l4 = {
        TCP: { sourcePort, destinationPort, flags: undefined },
        UDP: undefined,
        ICMPv4: undefined,
        ICMPv6: undefined,
        SCTP: undefined,
        VRRP: undefined,
        IGMP: undefined,
      };
      summary = 'TCP';
    } else if (sock.l4Proto === SockL4Proto.UDP) {
      l4 = {
        TCP: undefined,
        UDP: { sourcePort, destinationPort },
        ICMPv4: undefined,
        ICMPv6: undefined,
        SCTP: undefined,
        VRRP: undefined,
        IGMP: undefined,
      };
      summary = 'UDP';
    }
    const dns = this.dns;
    const services = this.services;
    return {
      time,
      uuid: flowUuid(),
      emitter: undefined,
      verdict,
      dropReason: 0,
      authType: 0,
      ethernet: undefined,
      IP: {
        source: sourceIP,
        sourceXlated: '',
        destination: destinationIP,
        ipVersion: isIPv6 ? IPVersion.IPv6 : IPVersion.IPv4,
        encrypted: false,
      },
      l4,
      tunnel: undefined,
      source,
      destination,
      Type: FlowType.SOCK,
      nodeName: nodeName !== '' ? nodeName : this.nodeName,
      nodeLabels: EMPTY_STRINGS,
      sourceNames: dns !== undefined && sourceIP !== '' ? (dns.namesOf(sourceIP) as string[]) : EMPTY_STRINGS,
      destinationNames:
        dns !== undefined && destinationIP !== '' ? (dns.namesOf(destinationIP) as string[]) : EMPTY_STRINGS,
      l7: undefined,
      reply: false,
      eventType: { type: MessageType.TRACE_SOCK, subType: sock.xlatePoint },
      sourceService:
        services !== undefined && sourceIP !== ''
          ? (services.serviceAt(sourceIP, sourcePort) as Service | undefined)
          : undefined,
      destinationService:
        services !== undefined && destinationIP !== ''
          ? (services.serviceAt(destinationIP, destinationPort) as Service | undefined)
          : undefined,
      trafficDirection: 0,
      policyMatchType: 0,
      traceObservationPoint: 0,
      traceReason: 0,
      file: undefined,
      ipTraceId: undefined,
      dropReasonDesc: 0,
      isReply: undefined,
      debugCapturePoint: 0,
      interface: undefined,
      proxyPort: 0,
      traceContext: undefined,
      sockXlatePoint: sock.xlatePoint,
      socketCookie: Number(sock.sockCookie),
      cgroupId: Number(sock.cgroupId),
      Summary: summary,
      extensions: undefined,
      egressAllowedBy: EMPTY_POLICIES,
      ingressAllowedBy: EMPTY_POLICIES,
      egressDeniedBy: EMPTY_POLICIES,
      ingressDeniedBy: EMPTY_POLICIES,
      policyLog: EMPTY_STRINGS,
      aggregate: undefined,
    };
  }
}

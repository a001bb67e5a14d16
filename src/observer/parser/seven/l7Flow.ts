// An L7 flow as a reader gets it: decoded from a stored L7 record's bytes (the DNS message, the HTTP heads) on top of
// the L3/L4 flow of the packet it came in, whose addresses, ports, endpoints, names, services, node and time it
// shares, shaped as Hubble shows the flows its proxy logs (type L7, event type access-log, no link or trace fields).
import { FlowType, type CiliumEventType, type Flow, type Layer4, type Layer7 } from '../../../api/flow/flow.js';
import { MessageType } from '../../../monitor/datapath/messageType.js';
import { decodeDnsMessage } from '../../../packet/dns.js';
import { sharedMessage } from '../../../protowire/compiledEncoder.js';
import { dnsL7Of } from './dns.js';
import { httpRecord, type HttpRecordOptions } from './http.js';
import { BodyFraming, parseHead, type HttpRequestHead } from './httpHead.js';
import { L7Kind, type StoredL7 } from './l7Store.js';

/** Hubble's event type for flows its proxy logs (monitor's MessageTypeAccessLog). */
const ACCESS_LOG_EVENT: CiliumEventType = sharedMessage('flow.CiliumEventType', {
  type: MessageType.ACCESS_LOG,
  subType: 0,
});
const VERDICT_FORWARDED = 1;
const EMPTY_STRINGS: string[] = Object.freeze([]) as unknown as string[];
const framing = new BodyFraming();

export type L7FlowOptions = HttpRecordOptions;

/**
 * The L7 flow of `stored`, found in the packet whose L3/L4 flow is `found` (whose UUID it takes): its sides as that
 * flow's, or swapped when the message travelled the other way (held behind a lost segment, read on a packet of the
 * other direction).
 */
export function l7FlowOf(found: Flow, stored: StoredL7, options: L7FlowOptions): Flow {
  const packet = stored.reversed ? withSidesSwapped(found) : found;
  const isReply = stored.kind === L7Kind.DNS_RESPONSE || stored.kind === L7Kind.HTTP_RESPONSE;
  const isHttp = stored.kind === L7Kind.HTTP_REQUEST || stored.kind === L7Kind.HTTP_RESPONSE;
  const ports = portsOf(packet.l4);
  const l4: Layer4 = packet.l4?.TCP !== undefined ? { TCP: { ...ports, flags: undefined } } : { UDP: ports };
  const l7: Layer7 = { type: isReply ? 2 : 1, latencyNs: stored.latencyNs };
  let summary = '';
  if (isHttp) {
    const decoded = decodeHttp(packet, stored, options);
    if (decoded !== undefined) {
      l7.http = decoded.http;
      summary = decoded.summary;
    }
  } else if (stored.message !== undefined) {
    const message = decodeDnsMessage(stored.message);
    if (message !== undefined) {
      const dns = dnsL7Of(message);
      l7.dns = dns.dns;
      summary = dns.summary;
    }
  }
  return {
    ...packet,
    verdict: VERDICT_FORWARDED,
    dropReason: 0,
    authType: 0,
    ethernet: undefined,
    l4,
    tunnel: undefined,
    Type: FlowType.L7,
    l7,
    reply: isReply,
    eventType: ACCESS_LOG_EVENT,
    // The connection's, as its packets carry it: the same on request and response, as Hubble's proxy reports.
    trafficDirection: packet.trafficDirection,
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
    Summary: summary,
    policyLog: EMPTY_STRINGS,
  };
}

function decodeHttp(packet: Flow, stored: StoredL7, options: L7FlowOptions) {
  if (stored.message === undefined) return undefined;
  const isResponse = stored.kind === L7Kind.HTTP_RESPONSE;
  const head = parseHead(
    isResponse ? 'response' : 'request',
    stored.message,
    0,
    stored.message.length,
    0,
    false,
    framing,
  );
  if (head === undefined) return undefined;
  let request: HttpRequestHead | undefined;
  if (isResponse && stored.request !== undefined) {
    const parsed = parseHead('request', stored.request, 0, stored.request.length, 0, false, framing);
    if (parsed?.kind === 'request') request = parsed;
  }
  // A request's server is its destination; a response comes from it.
  const ip = packet.IP;
  const ports = portsOf(packet.l4);
  const v6 = ip?.ipVersion === 2;
  const authority = isResponse
    ? hostPort(ip?.source ?? '', ports.sourcePort, v6)
    : hostPort(ip?.destination ?? '', ports.destinationPort, v6);
  return httpRecord(head, request, stored.latencyNs, authority, options);
}

/** `flow` seen from its other end: addresses, ports, endpoints, names and services swapped. */
function withSidesSwapped(flow: Flow): Flow {
  const ip = flow.IP;
  const tcp = flow.l4?.TCP;
  const udp = flow.l4?.UDP;
  return {
    ...flow,
    IP: ip && { ...ip, source: ip.destination, destination: ip.source, sourceXlated: '' },
    l4:
      tcp !== undefined
        ? { TCP: { ...tcp, sourcePort: tcp.destinationPort, destinationPort: tcp.sourcePort } }
        : udp !== undefined
          ? { UDP: { ...udp, sourcePort: udp.destinationPort, destinationPort: udp.sourcePort } }
          : flow.l4,
    source: flow.destination,
    destination: flow.source,
    sourceNames: flow.destinationNames,
    destinationNames: flow.sourceNames,
    sourceService: flow.destinationService,
    destinationService: flow.sourceService,
  };
}

function portsOf(l4: Flow['l4']): { sourcePort: number; destinationPort: number } {
  const ports = l4?.TCP ?? l4?.UDP;
  return { sourcePort: ports?.sourcePort ?? 0, destinationPort: ports?.destinationPort ?? 0 };
}

/** "host:port" with an IPv6 address in brackets. */
function hostPort(ip: string, port: number, ipv6: boolean): string {
  return ipv6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

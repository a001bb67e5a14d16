// Hubble's L3/L4 parser: turns a datapath trace, drop, policy-verdict or debug-capture event into one flow.Flow,
// decoding its packet once (src/packet) and filling every field Hubble's threefour parser fills, with metadata from
// the getters.
//
// Connection state for packets without a datapath verdict. Our capture sources (libpcap, pcap files) wrap each frame
// in a trace notification with reason UNKNOWN, source endpoint 0 and observation point FROM_NETWORK (arriving, or
// direction not known) or TO_NETWORK (leaving). Whenever a trace's reason is UNKNOWN, this parser asks its own bounded
// connection table (connectionTable.ts) instead of the datapath's conntrack:
//   - trace_reason NEW for the packet that opens a connection, ESTABLISHED for later packets in the same direction,
//     REPLY for packets in the opposite direction (RELATED for ICMP errors), and is_reply true exactly for REPLY;
//     frames the table cannot follow (non-IP, unknown ports) keep trace_reason UNKNOWN and no is_reply;
//   - traffic_direction is the connection's, as Hubble reports it: TO_NETWORK is EGRESS (INGRESS for a reply),
//     FROM_NETWORK is INGRESS (EGRESS for a reply), any other observation point TRAFFIC_DIRECTION_UNKNOWN.
// Traces with a known reason follow Hubble exactly (reason mapping, is_reply, direction from the source endpoint).
//
// Where this parser differs from Hubble's (which stops at whatever gopacket's DecodingLayerParser rejects):
//   - a packet cut short in its transport header, or carrying an unreadable one, still yields a flow with the layers
//     that were whole (Hubble drops the event);
//   - VLAN/QinQ tags, IPv6 extension headers and AH are walked, and a first IPv4 fragment's transport header is read
//     (gopacket stops at all of these, leaving no l4);
//   - ARP frames get a summary line ("ARP Request who-has A tell B") where Hubble says "Ethernet";
//   - an event with no packet bytes at all, or too few for a link header, is an error (INVALID_PACKET);
//   - policy correlation (egress/ingress_allowed_by, ...) is left empty: there is no policy metadata getter.
//
// Hot path: one decode per packet into a reused PacketHeaders, then one Flow object literal with every field in
// Flow's declaration order (one hidden class for all flows). Sub-messages that repeat (TCP flag sets, event types,
// endpoints, interfaces) are shared between flows and frozen.

import {
  DebugCapturePoint as FlowDebugCapturePoint,
  FlowType,
  IPVersion,
  SCTPChunkType,
  TraceObservationPoint as FlowObservationPoint,
  TrafficDirection,
  Tunnel_Protocol,
  Verdict,
  type CiliumEventType,
  type Ethernet,
  type Flow,
  type IP,
  type Layer4,
  type NetworkInterface,
  type Service,
  type TCPFlags,
  type Tunnel,
} from '../../api/flow/flow.js';
import { DebugCapturePoint } from '../../monitor/datapath/debugCapture.js';
import { DatapathDecodeError } from '../../monitor/datapath/decodeError.js';
import { bpfFileName } from '../../monitor/datapath/dropReason.js';
import { MessageType, messageTypeName } from '../../monitor/datapath/messageType.js';
import {
  PolicyDirection,
  PolicyVerdictFlag,
  policyVerdictDirection,
  policyVerdictMatchType,
} from '../../monitor/datapath/policyVerdict.js';
import {
  TraceNotifyFlag,
  TraceObservationPoint,
  TraceReason,
  traceReasonIsEncrypted,
  traceReasonOf,
} from '../../monitor/datapath/traceNotify.js';
import type { CapturedFrame, Timestamp } from '../../monitor/types.js';
import { decodeDnsMessage, DNS_HEADER_LENGTH, isStrictDnsMessage } from '../../packet/dns.js';
import { clientHelloServerName, startsLikeClientHello } from '../../packet/tlsClientHello.js';
import { AddressTextCache, byteSwap32, isZeroBytes, uint16At, uint32At } from '../../packet/format.js';
import { Layer, LinkType, OverlayKind, PacketHeaders, decodeFrame, decodeOverlay } from '../../packet/frame.js';
import { formatIPv4 } from '../../packet/ipAddress.js';
import { SctpChunk } from '../../packet/protocols.js';
import { SharedFlowParts } from './sharedParts.js';
import { ConnectionTable, ConnectionVerdict } from './connectionTable.js';
import { FlowContextMemo, type FlowContext } from './flowContext.js';
import { EndpointResolver } from './endpointResolver.js';
import { EventHeader } from './eventHeader.js';
import type { DnsGetter, DnsLearner, LinkGetter, ParserGetters, ServiceGetter } from './getters.js';
import { ParserError } from './parserError.js';
import { packetSummary } from './summary.js';
import { sharedMessage } from '../../protowire/compiledEncoder.js';
import { randomUuid } from './flowUuid.js';
import { L34Record, REPLY_FALSE, REPLY_TRUE, REPLY_UNKNOWN, toFlow } from './l34Flow.js';

export interface ThreeFourParserOptions extends ParserGetters {
  /** Used for flows whose event comes without a node name. */
  nodeName: string;
  /**
   * Accepted like the other parsers take it; endpoints get their cluster from the endpoint getter, or from the
   * cluster label of their identity, as Hubble's do.
   */
  clusterName: string;
  /** The IP option type the datapath reads trace ids from (Cilium's --ip-tracing-option-type); sent in ip_trace_id. */
  ipTraceOptionType?: number;
  /** Connection state for traces whose reason is UNKNOWN; a table with default limits when not given. */
  connectionTable?: ConnectionTable;
}

const EMPTY_STRINGS: string[] = Object.freeze([]) as unknown as string[];

/** DNS answers usually come from this port; from others, only payloads that are exactly one DNS message count. */
const DNS_PORT = 53;

/** Interfaces cached at most; past that, new ones get fresh objects instead of growing the cache. */
const MAX_CACHED_INTERFACES = 1024;

/** flow.TCPFlags for each of the 512 flag combinations (TcpFlag bits), shared by all flows. */
const TCP_FLAGS: readonly TCPFlags[] = Array.from({ length: 512 }, (_, bits) =>
  sharedMessage('flow.TCPFlags', {
    FIN: (bits & 0x001) !== 0,
    SYN: (bits & 0x002) !== 0,
    RST: (bits & 0x004) !== 0,
    PSH: (bits & 0x008) !== 0,
    ACK: (bits & 0x010) !== 0,
    URG: (bits & 0x020) !== 0,
    ECE: (bits & 0x040) !== 0,
    CWR: (bits & 0x080) !== 0,
    NS: (bits & 0x100) !== 0,
  }),
);

const eventTypes: (CiliumEventType | undefined)[] = [];

function eventTypeOf(type: number, subType: number): CiliumEventType {
  const key = (type << 8) | subType;
  return (eventTypes[key] ??= sharedMessage('flow.CiliumEventType', { type, subType }));
}

function sctpChunkType(chunk: number): SCTPChunkType {
  switch (chunk) {
    case SctpChunk.INIT:
      return SCTPChunkType.INIT;
    case SctpChunk.INIT_ACK:
      return SCTPChunkType.INIT_ACK;
    case SctpChunk.SHUTDOWN:
      return SCTPChunkType.SHUTDOWN;
    case SctpChunk.SHUTDOWN_ACK:
      return SCTPChunkType.SHUTDOWN_ACK;
    case SctpChunk.SHUTDOWN_COMPLETE:
      return SCTPChunkType.SHUTDOWN_COMPLETE;
    case SctpChunk.ABORT:
      return SCTPChunkType.ABORT;
    default:
      return SCTPChunkType.UNSUPPORTED;
  }
}

/** Hubble's flow.TraceReason for a datapath reason (encrypt bit cleared): UNKNOWN is 0, the CT states shift by one. */
function flowTraceReason(reason: number): number {
  if (reason === TraceReason.UNKNOWN) return 0;
  return reason < TraceReason.UNKNOWN ? reason + 1 : reason;
}

/** flow.Layer4 of a decoded packet: shared through `parts` for the common protocols, built fresh for the rare ones. */
function layer4Of(h: PacketHeaders, data: Uint8Array, parts: SharedFlowParts): Layer4 | undefined {
  const layers = h.layers;
  if ((layers & Layer.TCP) !== 0) return parts.tcp(h.sourcePort, h.destinationPort, h.tcpFlags, TCP_FLAGS[h.tcpFlags]!);
  if ((layers & Layer.UDP) !== 0) return parts.udp(h.sourcePort, h.destinationPort);
  if ((layers & Layer.ICMPV4) !== 0) return parts.icmpv4(h.icmpType, h.icmpCode);
  if ((layers & Layer.ICMPV6) !== 0) return parts.icmpv6(h.icmpType, h.icmpCode);
  if ((layers & Layer.SCTP) !== 0) return parts.sctp(h.sourcePort, h.destinationPort, sctpChunkType(h.sctpChunkType));
  if ((layers & Layer.VRRP) !== 0) {
    return {
      TCP: undefined,
      UDP: undefined,
      ICMPv4: undefined,
      ICMPv6: undefined,
      SCTP: undefined,
      VRRP: { type: h.vrrpType, vrid: h.vrrpRouterId, priority: h.vrrpPriority },
      IGMP: undefined,
    };
  }
  if ((layers & Layer.IGMP) !== 0) {
    return {
      TCP: undefined,
      UDP: undefined,
      ICMPv4: undefined,
      ICMPv6: undefined,
      SCTP: undefined,
      VRRP: undefined,
      IGMP: { type: h.igmpType, groupAddress: formatIPv4(data, h.igmpGroupOffset) },
    };
  }
  return undefined;
}

export class ThreeFourParser {
  private readonly nodeName: string;
  private readonly dns: DnsGetter | undefined;
  private readonly dnsLearner: DnsLearner | undefined;
  private readonly services: ServiceGetter | undefined;
  private readonly links: LinkGetter | undefined;
  private readonly ipTraceOptionType: number;
  private readonly connections: ConnectionTable;
  private readonly outer = new PacketHeaders();
  private readonly inner = new PacketHeaders();
  private readonly header = new EventHeader();
  private readonly endpoints: EndpointResolver;
  private readonly interfaces = new Map<number, NetworkInterface>();
  private readonly addresses = new AddressTextCache();
  private readonly parts = new SharedFlowParts();
  private readonly contexts = new FlowContextMemo();
  private readonly formatMac = (data: Uint8Array, at: number): string => this.addresses.mac(data, at);
  /** What compute() found for the last event, read by decode() and encode(). */
  private readonly lastRecord = new L34Record();
  /** The headers of the packet the last record describes (the inner one of a tunnel) and the bytes they index. */
  private lastHeaders: PacketHeaders = this.outer;
  private lastBytes: Uint8Array = new Uint8Array(0);

  constructor(options: ThreeFourParserOptions) {
    this.nodeName = options.nodeName;
    this.endpoints = new EndpointResolver(options.endpoints, options.identities);
    this.dns = options.dns;
    this.dnsLearner = options.dnsLearner;
    this.services = options.services;
    this.links = options.links;
    this.ipTraceOptionType = options.ipTraceOptionType ?? 0;
    this.connections = options.connectionTable ?? new ConnectionTable();
  }

  /**
   * Decodes a TRACE, DROP, POLICY_VERDICT or CAPTURE (debug capture) perf event captured at `time` on `nodeName`.
   * Throws ParserError: INVALID_MESSAGE when the event header does not decode, UNKNOWN_MESSAGE_TYPE for other
   * message types, INVALID_PACKET when it carries no packet or too little of one for a link (or IP) header.
   */
  decode(data: Uint8Array, time: Timestamp, nodeName: string): Flow {
    this.compute(data, time, nodeName);
    return toFlow(this.lastRecord);
  }

  /**
   * Decodes like decode() into the parser's record instead of a Flow: the Observer's path, where the ring keeps the
   * record's fields and makes a Flow (toFlow) or its encoding (writeFlow) only when the flow is read. The record is
   * reused: valid until the next call.
   */
  record(data: Uint8Array, time: Timestamp, nodeName: string): L34Record {
    this.compute(data, time, nodeName);
    return this.lastRecord;
  }

  /**
   * Decodes a captured Ethernet frame as record() decodes the TraceNotify the capture sources would wrap it in (the
   * same flow, field for field), without that event being built. The record is reused: valid until the next call.
   */
  recordFrame(frame: CapturedFrame): L34Record {
    this.header.fromFrame(frame);
    const end = frame.start + frame.capLen;
    if (frame.capLen === 0) throw new ParserError('INVALID_PACKET', 'trace event carries no packet');
    this.computePacket(frame.bytes, end, { seconds: frame.seconds, nanos: frame.nanos }, frame.nodeName);
    return this.lastRecord;
  }

  private compute(data: Uint8Array, time: Timestamp, nodeName: string): void {
    if (data.length === 0) throw new ParserError('INVALID_MESSAGE', 'empty datapath message');
    const messageType = data[0]!;
    if (
      messageType !== MessageType.TRACE &&
      messageType !== MessageType.DROP &&
      messageType !== MessageType.POLICY_VERDICT &&
      messageType !== MessageType.CAPTURE
    ) {
      throw new ParserError(
        'UNKNOWN_MESSAGE_TYPE',
        `message type ${messageTypeName(messageType)} is not an L3/L4 event (trace, drop, policy-verdict, capture)`,
      );
    }
    const e = this.header;
    try {
      e.read(data);
    } catch (err) {
      if (err instanceof DatapathDecodeError) {
        throw new ParserError('INVALID_MESSAGE', `${messageTypeName(messageType)}: ${err.message}`, { cause: err });
      }
      throw err;
    }
    if (e.payloadOffset >= data.length) {
      throw new ParserError('INVALID_PACKET', `${messageTypeName(messageType)} event carries no packet`);
    }
    this.computePacket(data, data.length, time, nodeName);
  }

  /** The flow of the event whose header is in this.header and whose packet lies in data[header.payloadOffset, end). */
  private computePacket(data: Uint8Array, end: number, time: Timestamp, nodeName: string): void {
    const e = this.header;
    const messageType = e.type;
    const isTrace = messageType === MessageType.TRACE;
    const isDrop = messageType === MessageType.DROP;
    const isPolicyVerdict = messageType === MessageType.POLICY_VERDICT;
    const isCapture = messageType === MessageType.CAPTURE;

    // Traces and drops flag IPv6 and L3 devices with the same bits; policy verdicts with their own.
    let isIPv6 = false;
    let isL3Device = false;
    let overlay = 0;
    if (isPolicyVerdict) {
      isIPv6 = (e.flags & PolicyVerdictFlag.IS_IPV6) !== 0;
      isL3Device = (e.flags & PolicyVerdictFlag.IS_L3) !== 0;
    } else if (!isCapture) {
      isIPv6 = (e.flags & TraceNotifyFlag.IS_IPV6) !== 0;
      isL3Device = (e.flags & TraceNotifyFlag.IS_L3_DEVICE) !== 0;
      if ((e.flags & TraceNotifyFlag.IS_VXLAN) !== 0) overlay = OverlayKind.VXLAN;
      else if ((e.flags & TraceNotifyFlag.IS_GENEVE) !== 0) overlay = OverlayKind.GENEVE;
    }
    const outer = this.outer;
    const linkType = !isL3Device ? LinkType.ETHERNET : isIPv6 ? LinkType.IPV6 : LinkType.IPV4;
    decodeFrame(outer, data, linkType, e.payloadOffset, end);
    if (outer.layers === 0) {
      throw new ParserError(
        'INVALID_PACKET',
        `${messageTypeName(messageType)} event: ${end - e.payloadOffset} packet bytes hold no whole ${linkType === LinkType.ETHERNET ? 'Ethernet' : 'IP'} header`,
      );
    }

    // Overlay traffic the datapath flagged: the flow describes the inner packet, the tunnel the outer one.
    let h = outer;
    let tunnel: Tunnel | undefined;
    if (overlay !== 0) {
      const vni = decodeOverlay(outer, data, overlay as OverlayKind, this.inner);
      if (vni >= 0) {
        tunnel = {
          protocol: overlay === OverlayKind.VXLAN ? Tunnel_Protocol.VXLAN : Tunnel_Protocol.GENEVE,
          IP: this.ipOf(outer, data),
          l4: layer4Of(outer, data, this.parts),
          vni,
        };
        h = this.inner;
      }
    }

    const withPorts = (h.layers & (Layer.TCP | Layer.UDP | Layer.SCTP)) !== 0;
    const sourcePort = withPorts ? h.sourcePort : 0;
    const destinationPort = withPorts ? h.destinationPort : 0;

    // Identities the datapath reported (policy verdicts know only the remote side).
    let sourceLabel = e.srcLabel;
    let destinationLabel = e.dstLabel;
    const ingressVerdict = isPolicyVerdict && policyVerdictDirection(e.flags) === PolicyDirection.INGRESS;
    if (isPolicyVerdict) {
      sourceLabel = ingressVerdict ? e.remoteLabel : 0;
      destinationLabel = ingressVerdict ? 0 : e.remoteLabel;
    }

    let ifindex = 0;
    let proxyPort = 0;
    if (isTrace) {
      ifindex = e.ifindex;
      if (e.subType === TraceObservationPoint.TO_PROXY) proxyPort = e.dstID;
    } else if (isCapture) {
      switch (e.subType) {
        case DebugCapturePoint.DELIVERY:
        case DebugCapturePoint.FROM_LB:
        case DebugCapturePoint.AFTER_V46:
        case DebugCapturePoint.AFTER_V64:
        case DebugCapturePoint.SNAT_PRE:
        case DebugCapturePoint.SNAT_POST:
          ifindex = e.arg1;
          break;
        case DebugCapturePoint.PROXY_PRE:
        case DebugCapturePoint.PROXY_POST:
          // The datapath stores the proxy port in network byte order.
          proxyPort = byteSwap32(e.arg1);
          break;
      }
    }

    // A TLS ClientHello names the server before the context is looked up, so its own flow carries the name.
    if (this.dnsLearner !== undefined && (h.layers & Layer.TCP) !== 0 && h.payloadEnd - h.payloadOffset > 5) {
      this.learnServerName(h, data, time);
    }

    // Who and where: the same for every packet between the same two addresses, so remembered for a while.
    const encrypted = isTrace && traceReasonIsEncrypted(e.reason);
    const origIP =
      isTrace && e.origIPOffset >= 0 && !isZeroBytes(data, e.origIPOffset, isIPv6 ? 16 : 4) ? e.origIPOffset : -1;
    this.fillContextKey(
      h,
      data,
      isTrace,
      encrypted,
      isIPv6,
      origIP,
      sourcePort,
      destinationPort,
      ifindex,
      sourceLabel,
      destinationLabel,
    );
    let context = this.contexts.lookup();
    if (context === undefined) {
      context = this.contextOf(
        h,
        data,
        encrypted,
        isIPv6,
        origIP,
        sourcePort,
        destinationPort,
        ifindex,
        sourceLabel,
        destinationLabel,
      );
      this.contexts.remember(context);
    }
    const { source, snatted } = context;

    // Verdict and drop reason.
    let verdict = Verdict.VERDICT_UNKNOWN;
    let dropReason = 0;
    if (isDrop) {
      verdict = Verdict.DROPPED;
      dropReason = e.subType;
    } else if (isTrace) {
      verdict = Verdict.FORWARDED;
    } else if (isPolicyVerdict) {
      if (e.verdict < 0) {
        verdict = Verdict.DROPPED;
        // A denied packet's verdict is the negated drop reason.
        dropReason = -e.verdict >>> 0;
      } else if (e.verdict > 0) {
        verdict = Verdict.REDIRECTED;
      } else {
        verdict = (e.flags & PolicyVerdictFlag.IS_AUDITED) !== 0 ? Verdict.AUDIT : Verdict.FORWARDED;
      }
    }

    // Connection state: the datapath's when it has one, else our connection table's.
    let traceReason = 0;
    let isReply: boolean | undefined;
    let trafficDirection = TrafficDirection.TRAFFIC_DIRECTION_UNKNOWN;
    let observationPoint = FlowObservationPoint.UNKNOWN_POINT;
    if (isTrace) {
      // Zero is TO_LXC in the datapath; Hubble keeps zero for "unknown" and names this point TO_ENDPOINT.
      observationPoint = e.subType === TraceObservationPoint.TO_LXC ? FlowObservationPoint.TO_ENDPOINT : e.subType;
      const reason = traceReasonOf(e.reason);
      if (reason === TraceReason.UNKNOWN) {
        const leaving = e.subType === TraceObservationPoint.TO_NETWORK;
        const state = this.connections.observe(h, data, time.seconds + time.nanos / 1e9, leaving);
        traceReason = state;
        isReply = state === ConnectionVerdict.UNTRACKED ? undefined : state === ConnectionVerdict.REPLY;
        if (leaving || e.subType === TraceObservationPoint.FROM_NETWORK) {
          // A connection's direction, on each of its packets: egress if this host opened it, ingress if it accepted.
          const tracked = state !== ConnectionVerdict.UNTRACKED && state !== ConnectionVerdict.RELATED;
          const openedHere = tracked ? this.connections.openedHere : leaving;
          trafficDirection = openedHere ? TrafficDirection.EGRESS : TrafficDirection.INGRESS;
        }
      } else {
        traceReason = flowTraceReason(reason);
        const ctReply = reason === TraceReason.CT_REPLY;
        isReply = reason === TraceReason.SRV6_ENCAP || reason === TraceReason.SRV6_DECAP ? undefined : ctReply;
        if (e.source !== 0) {
          const fromSourceEndpoint = e.source === (source.ID & 0xffff);
          trafficDirection =
            fromSourceEndpoint !== ctReply || snatted ? TrafficDirection.EGRESS : TrafficDirection.INGRESS;
        }
      }
    } else if (isDrop) {
      if (e.source !== 0) {
        // Hubble assumes a drop at the endpoint that sent the packet is egress, and that drops are never replies.
        trafficDirection = e.source === (source.ID & 0xffff) ? TrafficDirection.EGRESS : TrafficDirection.INGRESS;
      }
    } else if (isPolicyVerdict) {
      // Forwarded policy verdicts are emitted for a connection's first packet, so they are not replies.
      if (e.verdict >= 0) isReply = false;
      trafficDirection = ingressVerdict ? TrafficDirection.INGRESS : TrafficDirection.EGRESS;
    }

    if (this.dnsLearner !== undefined && withPorts && h.payloadEnd - h.payloadOffset >= DNS_HEADER_LENGTH) {
      this.learnDns(h, data, time, sourcePort === DNS_PORT);
    }

    this.lastHeaders = h;
    this.lastBytes = data;
    const r = this.lastRecord;
    r.time = time;
    randomUuid(r.uuidWords, 0);
    r.verdict = verdict;
    r.dropReason = dropReason;
    r.authType = isPolicyVerdict ? e.authType : 0;
    r.ethernet = context.ethernet;
    r.ip = context.ip;
    r.l4 = layer4Of(h, data, this.parts);
    r.tunnel = tunnel;
    r.source = source;
    r.destination = context.destination;
    r.nodeName = nodeName !== '' ? nodeName : this.nodeName;
    r.sourceNames = context.sourceNames;
    r.destinationNames = context.destinationNames;
    r.eventType = eventTypeOf(messageType, e.subType);
    r.sourceService = context.sourceService;
    r.destinationService = context.destinationService;
    r.trafficDirection = trafficDirection;
    r.policyMatchType = isPolicyVerdict ? policyVerdictMatchType(e.flags) : 0;
    r.traceObservationPoint = observationPoint;
    r.traceReason = traceReason;
    r.fileName = isDrop ? bpfFileName(e.file) : '';
    r.fileLine = isDrop ? e.line : 0;
    r.hasFile = isDrop;
    r.ipTraceId = e.ipTraceId;
    r.ipTraceOptionType = this.ipTraceOptionType;
    r.isReply = isReply === undefined ? REPLY_UNKNOWN : isReply ? REPLY_TRUE : REPLY_FALSE;
    r.debugCapturePoint = isCapture ? e.subType : FlowDebugCapturePoint.DBG_CAPTURE_POINT_UNKNOWN;
    r.iface = context.iface;
    r.proxyPort = proxyPort;
    r.summary = packetSummary(h, data);
  }

  /** Writes the context memo's key (see CONTEXT_KEY_WORDS) for a packet: everything contextOf() depends on. */
  private fillContextKey(
    h: PacketHeaders,
    data: Uint8Array,
    isTrace: boolean,
    encrypted: boolean,
    isIPv6: boolean,
    origIP: number,
    sourcePort: number,
    destinationPort: number,
    ifindex: number,
    sourceLabel: number,
    destinationLabel: number,
  ): void {
    const key = this.contexts.key;
    const hasEthernet = (h.layers & Layer.ETHERNET) !== 0;
    key[0] =
      h.ipVersion | (encrypted ? 0x10 : 0) | (hasEthernet ? 0x20 : 0) | (isTrace ? 0x40 : 0) | (origIP >= 0 ? 0x80 : 0);
    key[1] = ((sourcePort << 16) | destinationPort) >>> 0;
    key[2] = ifindex;
    key[3] = sourceLabel;
    key[4] = destinationLabel;
    const v6 = h.ipVersion === 6;
    const v4 = h.ipVersion === 4;
    const src = h.sourceAddressOffset;
    const dst = h.destinationAddressOffset;
    key[5] = v4 || v6 ? uint32At(data, src) : 0;
    key[6] = v6 ? uint32At(data, src + 4) : 0;
    key[7] = v6 ? uint32At(data, src + 8) : 0;
    key[8] = v6 ? uint32At(data, src + 12) : 0;
    key[9] = v4 || v6 ? uint32At(data, dst) : 0;
    key[10] = v6 ? uint32At(data, dst + 4) : 0;
    key[11] = v6 ? uint32At(data, dst + 8) : 0;
    key[12] = v6 ? uint32At(data, dst + 12) : 0;
    // The original source address (bit 0x80 above tells a present one from none).
    const orig6 = origIP >= 0 && isIPv6;
    key[13] = origIP >= 0 ? uint32At(data, origIP) : 0;
    key[14] = orig6 ? uint32At(data, origIP + 4) : 0;
    key[15] = orig6 ? uint32At(data, origIP + 8) : 0;
    key[16] = orig6 ? uint32At(data, origIP + 12) : 0;
    const mac = h.linkOffset;
    key[17] = hasEthernet ? uint32At(data, mac) : 0;
    key[18] = hasEthernet ? uint32At(data, mac + 4) : 0;
    key[19] = hasEthernet ? uint32At(data, mac + 8) : 0;
  }

  /** Asks the getters about a packet's addresses (what the memo remembers); arguments as for fillContextKey(). */
  private contextOf(
    h: PacketHeaders,
    data: Uint8Array,
    encrypted: boolean,
    isIPv6: boolean,
    origIP: number,
    sourcePort: number,
    destinationPort: number,
    ifindex: number,
    sourceLabel: number,
    destinationLabel: number,
  ): FlowContext {
    // Addresses, with the pre-SNAT source from the trace's original IP when the datapath recorded one.
    let sourceIP = '';
    let destinationIP = '';
    let ip: IP | undefined;
    // Hubble reads any original IP as a sign of SNAT when it picks the traffic direction.
    let snatted = false;
    if (h.ipVersion !== 0) {
      sourceIP = this.addresses.ip(data, h.sourceAddressOffset, h.ipVersion);
      destinationIP = this.addresses.ip(data, h.destinationAddressOffset, h.ipVersion);
      let sourceXlated = '';
      if (origIP >= 0) {
        snatted = true;
        const original = isIPv6 ? this.addresses.ipv6(data, origIP) : this.addresses.ipv4(data, origIP);
        // Traces sometimes carry the header's own address as original IP; only a difference means SNAT.
        if (original !== sourceIP) {
          sourceXlated = sourceIP;
          sourceIP = original;
        }
      }
      ip = this.parts.ip(
        data,
        h.sourceAddressOffset,
        h.destinationAddressOffset,
        h.ipVersion === 4 ? 4 : 6,
        sourceIP,
        sourceXlated,
        destinationIP,
        encrypted,
      );
    }
    const services = this.services;
    const dns = this.dns;
    return {
      sourceIP,
      destinationIP,
      snatted,
      ip,
      ethernet: this.ethernetOf(h, data),
      source: this.endpoints.resolve(sourceIP, sourceLabel),
      destination: this.endpoints.resolve(destinationIP, destinationLabel),
      sourceService:
        services !== undefined && sourceIP !== ''
          ? (services.serviceAt(sourceIP, sourcePort) as Service | undefined)
          : undefined,
      destinationService:
        services !== undefined && destinationIP !== ''
          ? (services.serviceAt(destinationIP, destinationPort) as Service | undefined)
          : undefined,
      sourceNames: dns !== undefined && sourceIP !== '' ? (dns.namesOf(sourceIP) as string[]) : EMPTY_STRINGS,
      destinationNames:
        dns !== undefined && destinationIP !== '' ? (dns.namesOf(destinationIP) as string[]) : EMPTY_STRINGS,
      iface: ifindex !== 0 ? this.interfaceOf(ifindex) : undefined,
    };
  }

  private ethernetOf(h: PacketHeaders, data: Uint8Array): Ethernet | undefined {
    if ((h.layers & Layer.ETHERNET) === 0) return undefined;
    return this.parts.ethernet(data, h.linkOffset, this.formatMac);
  }

  /** flow.IP of a decoded packet (used for a tunnel's outer header; no SNAT or encryption there). */
  private ipOf(h: PacketHeaders, data: Uint8Array): IP | undefined {
    if (h.ipVersion === 0) return undefined;
    return {
      source: this.addresses.ip(data, h.sourceAddressOffset, h.ipVersion),
      sourceXlated: '',
      destination: this.addresses.ip(data, h.destinationAddressOffset, h.ipVersion),
      ipVersion: h.ipVersion === 4 ? IPVersion.IPv4 : IPVersion.IPv6,
      encrypted: false,
    };
  }

  private interfaceOf(index: number): NetworkInterface {
    const name = this.links?.linkName(index) ?? '';
    const cached = this.interfaces.get(index);
    if (cached !== undefined && cached.name === name) return cached;
    const created = sharedMessage('flow.NetworkInterface', { index, name });
    if (cached !== undefined || this.interfaces.size < MAX_CACHED_INTERFACES) this.interfaces.set(index, created);
    return created;
  }

  /** The headers of the packet the last record() or recordFrame() decoded, for the L7 parser; valid until the next. */
  get packetHeaders(): PacketHeaders {
    return this.lastHeaders;
  }

  /** The bytes packetHeaders index. */
  get packetBytes(): Uint8Array {
    return this.lastBytes;
  }

  /** Teaches the name learner the server name a TLS ClientHello asks for, as a name of its destination address. */
  private learnServerName(h: PacketHeaders, data: Uint8Array, time: Timestamp): void {
    const start = h.payloadOffset;
    if (!startsLikeClientHello(data, start, h.payloadEnd)) return;
    const name = clientHelloServerName(data, start, h.payloadEnd);
    if (name === undefined || h.ipVersion === 0) return;
    const ip = this.addresses.ip(data, h.destinationAddressOffset, h.ipVersion);
    // No TTL: the learner keeps it for its floor, as a fresh answer with TTL 0.
    this.dnsLearner!.learn({ query: name, ips: [ip], ttlSeconds: 0, at: time });
    this.contexts.forget();
  }

  /**
   * Tells the DNS learner about a response with answers (UDP, or TCP with the whole message in this segment): from
   * port 53, or from any port when the payload is exactly one well-formed DNS message.
   */
  private learnDns(h: PacketHeaders, data: Uint8Array, time: Timestamp, fromDnsPort: boolean): void {
    let start = h.payloadOffset;
    let end = h.payloadEnd;
    if ((h.layers & Layer.TCP) !== 0) {
      if (end - start < 2) return;
      const length = uint16At(data, start);
      start += 2;
      if (length > end - start) return;
      end = start + length;
    } else if ((h.layers & Layer.UDP) === 0) {
      return;
    }
    // Only responses (QR bit) with at least one answer are worth decoding.
    if (end - start < DNS_HEADER_LENGTH || (data[start + 2]! & 0x80) === 0 || uint16At(data, start + 6) === 0) return;
    if (!fromDnsPort && (end !== h.payloadEnd || !isStrictDnsMessage(data, start, end))) return;
    const message = decodeDnsMessage(data, start, end);
    if (message === undefined || message.rcode !== 0 || message.ips.length === 0 || message.questionName === '') return;
    this.dnsLearner!.learn({ query: message.questionName, ips: message.ips, ttlSeconds: message.minTtl, at: time });
    // Names just learnt belong on the next packet to those addresses, not a tick later.
    this.contexts.forget();
  }
}

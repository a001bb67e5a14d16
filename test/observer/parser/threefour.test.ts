import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DropReason,
  Flow,
  FlowType,
  IPVersion,
  SCTPChunkType,
  TraceObservationPoint as FlowObservationPoint,
  TraceReason as FlowTraceReason,
  TrafficDirection,
  Tunnel_Protocol,
  Verdict,
  type Endpoint,
} from '../../../src/api/flow/flow.js';
import { DebugCapturePoint, encodeDebugCapture } from '../../../src/monitor/datapath/debugCapture.js';
import { DatapathDecodeError } from '../../../src/monitor/datapath/decodeError.js';
import { DropNotifyFlag, encodeDropNotify } from '../../../src/monitor/datapath/dropNotify.js';
import { MessageType } from '../../../src/monitor/datapath/messageType.js';
import { encodePolicyVerdictNotify, PolicyMatchType } from '../../../src/monitor/datapath/policyVerdict.js';
import { encodeTraceSockNotify } from '../../../src/monitor/datapath/traceSock.js';
import {
  TRACE_REASON_ENCRYPT_MASK,
  TraceNotifyFlag,
  TraceObservationPoint,
  TraceReason,
  encodeTraceNotify,
  type TraceNotifyInit,
} from '../../../src/monitor/datapath/traceNotify.js';
import type { Timestamp } from '../../../src/monitor/types.js';
import type { DnsAnswer, ParserGetters } from '../../../src/observer/parser/getters.js';
import { ParserError } from '../../../src/observer/parser/parserError.js';
import { ThreeFourParser } from '../../../src/observer/parser/threefour.js';
import { DnsNameCache } from '../../../src/observer/metadata/dnsNames.js';
import { DnsType } from '../../../src/packet/dns.js';
import { EtherType, IpProtocol, TcpFlag } from '../../../src/packet/protocols.js';
import { captureWhile, ping, tcpExchange, udpBurst } from '../../harness/capture.js';
import {
  arp,
  concat,
  dnsMessage,
  ethernet,
  hex,
  icmp,
  igmp,
  ipv4,
  ipv4Address,
  ipv6,
  ipv6Address,
  sctp,
  sctpChunk,
  tcp,
  udp,
  vrrp,
} from '../../harness/frames.js';
import { tsharkTransport } from '../../harness/packetView.js';
import { readPcap } from '../../harness/pcapFiles.js';
import { tsharkLayers, type TsharkLayers } from '../../harness/tshark.js';

const TIME: Timestamp = { seconds: 1_700_000_000, nanos: 123_456_789 };
const CLIENT = '10.0.0.1';
const SERVER = '10.0.0.2';

const tcpFrame = (flags: number, src = CLIENT, dst = SERVER, sport = 40000, dport = 80) =>
  ethernet({ type: EtherType.IPV4 }, ipv4({ src, dst, protocol: IpProtocol.TCP }, tcp({ sport, dport, flags })));
const trace = (frame: Uint8Array, init: Partial<TraceNotifyInit> = {}) =>
  encodeTraceNotify(
    { obsPoint: TraceObservationPoint.FROM_NETWORK, origLen: frame.length, reason: TraceReason.UNKNOWN, ...init },
    frame,
  );

function parser(getters: ParserGetters = {}, options: { ipTraceOptionType?: number } = {}): ThreeFourParser {
  return new ThreeFourParser({ nodeName: 'default-node', clusterName: 'test', ...getters, ...options });
}

function decodeError(fn: () => unknown): ParserError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ParserError);
    return err as ParserError;
  }
  throw new Error('expected a ParserError');
}

/** "TCP Flags: SYN, ACK" from TcpFlag bits, in Hubble's order. */
function expectedTcpSummary(bits: number): string {
  const order: Array<[number, string]> = [
    [TcpFlag.SYN, 'SYN'],
    [TcpFlag.ACK, 'ACK'],
    [TcpFlag.RST, 'RST'],
    [TcpFlag.FIN, 'FIN'],
    [TcpFlag.PSH, 'PSH'],
    [TcpFlag.URG, 'URG'],
    [TcpFlag.ECE, 'ECE'],
    [TcpFlag.CWR, 'CWR'],
    [TcpFlag.NS, 'NS'],
  ];
  return (
    'TCP Flags: ' +
    order
      .filter(([b]) => (bits & b) !== 0)
      .map(([, n]) => n)
      .join(', ')
  );
}

describe('L3/L4 parser on traffic captured from the loopback interface', () => {
  let frames: { data: Uint8Array; seconds: number; nanos: number }[];
  let tshark: TsharkLayers[];
  const servers = new Set<number>();
  const learned: DnsAnswer[] = [];
  let flows: Flow[];

  beforeAll(async () => {
    const path = await captureWhile('tcp or udp or icmp or icmp6', async () => {
      servers.add((await tcpExchange(3)).serverPort);
      servers.add((await tcpExchange(2, '::1')).serverPort);
      await udpBurst(2, 9);
      await ping('127.0.0.1', 2);
      await ping('::1', 2);
      await dnsExchange();
    });
    const { nanosecond, records } = readPcap(path);
    frames = records.map((r) => ({
      data: r.data,
      seconds: r.seconds,
      nanos: nanosecond ? r.fraction : r.fraction * 1000,
    }));
    tshark = await tsharkLayers(path);
    const p = parser({ dnsLearner: { learn: (answer) => learned.push(answer) } });
    flows = frames.map((f) =>
      p.decode(trace(f.data, { ifindex: 1 }), { seconds: f.seconds, nanos: f.nanos }, 'capture-node'),
    );
  }, 30_000);

  it('gives every frame a flow whose addresses, ports and protocol agree with tshark', () => {
    expect(flows.length).toBe(tshark.length);
    flows.forEach((flow, i) => {
      const ts = tshark[i]!;
      const label = `frame ${i + 1}`;
      expect(flow.ethernet, label).toEqual({ source: ts['eth.src'], destination: ts['eth.dst'] });
      const v6 = ts['ipv6.src'] !== undefined;
      expect(flow.IP, label).toEqual({
        source: v6 ? ts['ipv6.src'] : ts['ip.src'],
        sourceXlated: '',
        destination: v6 ? ts['ipv6.dst'] : ts['ip.dst'],
        ipVersion: v6 ? IPVersion.IPv6 : IPVersion.IPv4,
        encrypted: false,
      });
      const transport = tsharkTransport(ts);
      const l4 = flow.l4!;
      switch (transport) {
        case 'tcp': {
          const bits = parseInt(ts['tcp.flags']!, 16) & 0x1ff;
          expect(l4.TCP, label).toMatchObject({
            sourcePort: Number(ts['tcp.srcport']),
            destinationPort: Number(ts['tcp.dstport']),
          });
          expect(l4.TCP!.flags!.SYN).toBe((bits & TcpFlag.SYN) !== 0);
          expect(l4.TCP!.flags!.ACK).toBe((bits & TcpFlag.ACK) !== 0);
          expect(l4.TCP!.flags!.FIN).toBe((bits & TcpFlag.FIN) !== 0);
          expect(l4.TCP!.flags!.PSH).toBe((bits & TcpFlag.PSH) !== 0);
          expect(flow.Summary, label).toBe(expectedTcpSummary(bits));
          break;
        }
        case 'udp':
          expect(l4.UDP, label).toEqual({
            sourcePort: Number(ts['udp.srcport']),
            destinationPort: Number(ts['udp.dstport']),
          });
          expect(flow.Summary).toBe('UDP');
          break;
        case 'icmp':
          expect(l4.ICMPv4, label).toEqual({ type: Number(ts['icmp.type']), code: Number(ts['icmp.code']) });
          break;
        case 'icmpv6':
          expect(l4.ICMPv6, label).toEqual({ type: Number(ts['icmpv6.type']), code: Number(ts['icmpv6.code']) });
          break;
        default:
          throw new Error(`${label}: unexpected transport ${transport}`);
      }
    });
  });

  it('stamps each flow with its capture time and node, and a fresh uuid', () => {
    flows.forEach((flow, i) => {
      expect(flow.time).toEqual({ seconds: frames[i]!.seconds, nanos: frames[i]!.nanos });
      expect(flow.nodeName).toBe('capture-node');
      expect(flow.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(flow.Type).toBe(FlowType.L3_L4);
      expect(flow.verdict).toBe(Verdict.FORWARDED);
      expect(flow.traceObservationPoint).toBe(FlowObservationPoint.FROM_NETWORK);
      expect(flow.eventType).toEqual({ type: MessageType.TRACE, subType: TraceObservationPoint.FROM_NETWORK });
      expect(flow.interface).toEqual({ index: 1, name: '' });
    });
    expect(new Set(flows.map((f) => f.uuid)).size).toBe(flows.length);
  });

  it('marks exactly the answering side as replies, and sets direction and trace reason from that', () => {
    // Other test files may put traffic on the loopback interface at the same time: judge only this test's own
    // connections (its TCP servers, its UDP port and DNS server) and echo messages, which say who answers.
    const summaries: string[] = [];
    let judged = 0;
    flows.forEach((flow, i) => {
      const ts = tshark[i]!;
      const transport = tsharkTransport(ts);
      let reply: boolean;
      let related = false;
      if (transport === 'tcp') {
        if (!servers.has(Number(ts['tcp.srcport'])) && !servers.has(Number(ts['tcp.dstport']))) return;
        reply = servers.has(Number(ts['tcp.srcport']));
      } else if (transport === 'udp') {
        if (ts['udp.dstport'] !== '9' && ts['udp.srcport'] !== '53' && ts['udp.dstport'] !== '53') return;
        reply = ts['udp.srcport'] === '53';
      } else if (transport === 'icmp') {
        reply = ts['icmp.type'] === '0';
        related = ts['icmp.type'] === '3';
      } else {
        reply = ts['icmpv6.type'] === '129';
        related = ts['icmpv6.type'] === '1';
      }
      judged++;
      expect(flow.isReply, `frame ${i + 1}`).toBe(reply);
      expect(flow.reply).toBe(reply);
      // Loopback cannot tell leaving from arriving: every packet arrives, so each connection reads as accepted
      // (ingress) on all its packets, not split by side.
      expect(flow.trafficDirection).toBe(TrafficDirection.INGRESS);
      if (related) expect(flow.traceReason).toBe(FlowTraceReason.RELATED);
      else if (reply) expect(flow.traceReason).toBe(FlowTraceReason.REPLY);
      else expect([FlowTraceReason.NEW, FlowTraceReason.ESTABLISHED]).toContain(flow.traceReason);
      summaries.push(flow.Summary);
    });
    expect(judged).toBeGreaterThan(30);
    expect(summaries).toEqual(
      expect.arrayContaining([
        'TCP Flags: SYN',
        'TCP Flags: SYN, ACK',
        'ICMPv4 EchoRequest',
        'ICMPv4 EchoReply',
        'ICMPv6 EchoRequest',
        'ICMPv6 EchoReply',
      ]),
    );
    // The first packet of each of this test's TCP connections is NEW.
    const syns = flows.filter(
      (f) => f.l4?.TCP?.flags?.SYN === true && f.l4.TCP.flags.ACK === false && servers.has(f.l4.TCP.destinationPort),
    );
    expect(syns.length).toBe(2);
    for (const syn of syns) expect(syn.traceReason).toBe(FlowTraceReason.NEW);
  });

  it('learns names from the DNS response it saw on the wire', () => {
    const responses = tshark.filter((ts) => ts['udp.srcport'] === '53' && ts['dns.qry.name'] === 'svc.example.test');
    expect(responses).toHaveLength(1);
    expect(learned.filter((a) => a.query === 'svc.example.test')).toEqual([
      { query: 'svc.example.test', ips: responses[0]!['dns.a']!.split(','), ttlSeconds: 30, at: expect.anything() },
    ]);
    const at = learned.find((a) => a.query === 'svc.example.test')!.at;
    const index = tshark.indexOf(responses[0]!);
    expect(at).toEqual({ seconds: frames[index]!.seconds, nanos: frames[index]!.nanos });
  });
});

/** A query to 127.0.0.1:53 answered with a CNAME and two A records. */
async function dnsExchange(): Promise<void> {
  const server = createSocket('udp4');
  await new Promise<void>((resolve) => server.bind(53, '127.0.0.1', resolve));
  server.on('message', (_msg, peer) => {
    const response = dnsMessage({
      question: 'svc.example.test',
      compress: true,
      answers: [
        { name: 'svc.example.test', type: DnsType.CNAME, ttl: 300, data: 'lb.example.test' },
        { name: 'lb.example.test', type: DnsType.A, ttl: 30, data: '192.0.2.10' },
        { name: 'lb.example.test', type: DnsType.A, ttl: 60, data: '192.0.2.11' },
      ],
    });
    server.send(response, peer.port, peer.address);
  });
  const client = createSocket('udp4');
  const answered = new Promise((resolve) => client.once('message', resolve));
  client.send(dnsMessage({ question: 'svc.example.test', response: false }), 53, '127.0.0.1');
  await answered;
  client.close();
  server.close();
}

describe('L3/L4 parser on datapath events', () => {
  const frame = tcpFrame(TcpFlag.SYN);
  const reply = tcpFrame(TcpFlag.SYN | TcpFlag.ACK, SERVER, CLIENT, 80, 40000);

  it.each<[string, Uint8Array, Partial<Flow>]>([
    [
      'a trace to an endpoint is FORWARDED at TO_ENDPOINT, not "unknown point"',
      trace(frame, { obsPoint: TraceObservationPoint.TO_LXC, reason: TraceReason.POLICY, dstID: 7 }),
      {
        verdict: Verdict.FORWARDED,
        traceObservationPoint: FlowObservationPoint.TO_ENDPOINT,
        eventType: { type: MessageType.TRACE, subType: 0 },
        traceReason: FlowTraceReason.NEW,
        isReply: false,
        reply: false,
        proxyPort: 0,
        Summary: 'TCP Flags: SYN',
      },
    ],
    [
      "an encrypted reply keeps the datapath's verdict: REPLY and encrypted",
      trace(reply, {
        obsPoint: TraceObservationPoint.FROM_CRYPTO,
        reason: TraceReason.CT_REPLY | TRACE_REASON_ENCRYPT_MASK,
      }),
      {
        traceReason: FlowTraceReason.REPLY,
        isReply: true,
        reply: true,
        IP: { source: SERVER, sourceXlated: '', destination: CLIENT, ipVersion: IPVersion.IPv4, encrypted: true },
      },
    ],
    [
      'an established packet',
      trace(frame, { obsPoint: TraceObservationPoint.TO_STACK, reason: TraceReason.CT_ESTABLISHED }),
      {
        traceReason: FlowTraceReason.ESTABLISHED,
        isReply: false,
        trafficDirection: TrafficDirection.TRAFFIC_DIRECTION_UNKNOWN,
      },
    ],
    [
      'SRv6 encapsulation says nothing about replies',
      trace(frame, { obsPoint: TraceObservationPoint.TO_STACK, reason: TraceReason.SRV6_ENCAP }),
      { traceReason: FlowTraceReason.SRV6_ENCAP, isReply: undefined, reply: false },
    ],
    [
      'the original (pre-SNAT) source replaces the header source, which becomes source_xlated',
      trace(frame, {
        obsPoint: TraceObservationPoint.TO_NETWORK,
        reason: TraceReason.POLICY,
        origIP: concat(ipv4Address('172.16.0.9'), new Uint8Array(12)),
      }),
      {
        IP: {
          source: '172.16.0.9',
          sourceXlated: CLIENT,
          destination: SERVER,
          ipVersion: IPVersion.IPv4,
          encrypted: false,
        },
      },
    ],
    [
      'an original IP equal to the header source is not a translation',
      trace(frame, {
        obsPoint: TraceObservationPoint.TO_NETWORK,
        reason: TraceReason.POLICY,
        origIP: concat(ipv4Address(CLIENT), new Uint8Array(12)),
      }),
      { IP: { source: CLIENT, sourceXlated: '', destination: SERVER, ipVersion: IPVersion.IPv4, encrypted: false } },
    ],
    [
      'an IP option trace id is reported with the configured option type',
      trace(frame, { reason: TraceReason.POLICY, ipTraceId: 0x1_0000_0001n }),
      { ipTraceId: { traceId: 0x1_0000_0001, ipOptionType: 136 } },
    ],
    [
      'a trace to the proxy carries the proxy port',
      trace(frame, { obsPoint: TraceObservationPoint.TO_PROXY, reason: TraceReason.POLICY, dstID: 15001 }),
      { proxyPort: 15001, traceObservationPoint: FlowObservationPoint.TO_PROXY },
    ],
    [
      'a drop is DROPPED with its reason, description and source location, and no reply state',
      encodeDropNotify({ subType: 133, srcLabel: 1234, dstLabel: 5678, line: 1337, file: 2, ifindex: 3 }, frame),
      {
        verdict: Verdict.DROPPED,
        dropReason: 133,
        dropReasonDesc: DropReason.POLICY_DENIED,
        file: { name: 'bpf_lxc.c', line: 1337 },
        isReply: undefined,
        eventType: { type: MessageType.DROP, subType: 133 },
        interface: undefined,
        traceObservationPoint: FlowObservationPoint.UNKNOWN_POINT,
        traceReason: 0,
      },
    ],
    [
      'a drop reason flow.proto does not name is still passed on by number',
      encodeDropNotify({ subType: 250 }, frame),
      { dropReason: 250, dropReasonDesc: 250 as DropReason },
    ],
    [
      'an allowed ingress policy verdict: FORWARDED, not a reply, the remote identity on the source',
      encodePolicyVerdictNotify({ flags: 1 | (PolicyMatchType.L3_L4 << 3), remoteLabel: 9001, authType: 1 }, frame),
      {
        verdict: Verdict.FORWARDED,
        isReply: false,
        trafficDirection: TrafficDirection.INGRESS,
        policyMatchType: PolicyMatchType.L3_L4,
        authType: 1,
        eventType: { type: MessageType.POLICY_VERDICT, subType: 0 },
      },
    ],
    [
      'an audited egress policy verdict',
      encodePolicyVerdictNotify({ flags: 2 | 0x40, remoteLabel: 2 }, frame),
      { verdict: Verdict.AUDIT, trafficDirection: TrafficDirection.EGRESS },
    ],
    [
      'a denied policy verdict carries its drop reason and no reply state',
      encodePolicyVerdictNotify({ flags: 1, verdict: -181 }, frame),
      { verdict: Verdict.DROPPED, dropReason: 181, dropReasonDesc: DropReason.POLICY_DENY, isReply: undefined },
    ],
    [
      'a policy verdict redirecting to a proxy',
      encodePolicyVerdictNotify({ flags: 2, verdict: 15001 }, frame),
      { verdict: Verdict.REDIRECTED },
    ],
    [
      'a debug capture at delivery names its point and interface',
      encodeDebugCapture({ subType: DebugCapturePoint.DELIVERY, arg1: 4 }, frame),
      {
        verdict: Verdict.VERDICT_UNKNOWN,
        debugCapturePoint: DebugCapturePoint.DELIVERY,
        interface: { index: 4, name: 'lxc-four' },
        eventType: { type: MessageType.CAPTURE, subType: DebugCapturePoint.DELIVERY },
        isReply: undefined,
      },
    ],
    [
      'a debug capture before the proxy carries the proxy port (sent in network order)',
      encodeDebugCapture({ subType: DebugCapturePoint.PROXY_PRE, arg1: 0x993a0000 }, frame),
      { proxyPort: 0x3a99, debugCapturePoint: DebugCapturePoint.PROXY_PRE },
    ],
  ])('%s', (_name, event, expected) => {
    const p = parser({ links: { linkName: (i) => (i === 4 ? 'lxc-four' : undefined) } }, { ipTraceOptionType: 136 });
    expect(p.decode(event, TIME, 'node')).toMatchObject(expected);
  });

  it('gives each captured connection one direction: egress when this host opened it, ingress when it accepted it', () => {
    const p = parser();
    const seen = (flags: number, leaving: boolean, fromClient: boolean) =>
      p.decode(
        trace(fromClient ? tcpFrame(flags) : tcpFrame(flags, SERVER, CLIENT, 80, 40000), {
          obsPoint: leaving ? TraceObservationPoint.TO_NETWORK : TraceObservationPoint.FROM_NETWORK,
        }),
        TIME,
        'n',
      );
    const { SYN, ACK, FIN } = { SYN: 0x02, ACK: 0x10, FIN: 0x01 };
    // This host is the client: its SYN leaves, the SYN-ACK arrives, and so on: egress throughout, replies included.
    const opened = [
      seen(SYN, true, true),
      seen(SYN | ACK, false, false),
      seen(ACK, true, true),
      seen(FIN | ACK, false, false),
    ];
    expect(opened.map((f) => [f.isReply, f.trafficDirection])).toEqual([
      [false, TrafficDirection.EGRESS],
      [true, TrafficDirection.EGRESS],
      [false, TrafficDirection.EGRESS],
      [true, TrafficDirection.EGRESS],
    ]);
    // This host is the server (a new connection on other ports): ingress throughout.
    const accepted = (flags: number, leaving: boolean, fromClient: boolean) =>
      p.decode(
        trace(fromClient ? tcpFrame(flags, CLIENT, SERVER, 40001, 81) : tcpFrame(flags, SERVER, CLIENT, 81, 40001), {
          obsPoint: leaving ? TraceObservationPoint.TO_NETWORK : TraceObservationPoint.FROM_NETWORK,
        }),
        TIME,
        'n',
      ).trafficDirection;
    expect([accepted(SYN, false, true), accepted(SYN | ACK, true, false), accepted(ACK, false, true)]).toEqual([
      TrafficDirection.INGRESS,
      TrafficDirection.INGRESS,
      TrafficDirection.INGRESS,
    ]);
    // A capture that cannot tell directions (everything "arrives", as on loopback): one direction still, ingress.
    const unknown = (flags: number, fromClient: boolean) =>
      p.decode(
        trace(fromClient ? tcpFrame(flags, CLIENT, SERVER, 40002, 82) : tcpFrame(flags, SERVER, CLIENT, 82, 40002)),
        TIME,
        'n',
      ).trafficDirection;
    expect([unknown(SYN, true), unknown(SYN | ACK, false), unknown(ACK, true)]).toEqual([
      TrafficDirection.INGRESS,
      TrafficDirection.INGRESS,
      TrafficDirection.INGRESS,
    ]);
  });

  it('picks the traffic direction from the endpoint that emitted the trace, as Hubble does', () => {
    const local: Endpoint = {
      ID: 42,
      identity: 1000,
      clusterName: 'c',
      namespace: 'default',
      labels: ['k8s:app=web'],
      podName: 'web-0',
      workloads: [],
    };
    const p = parser({
      endpoints: { endpointByIP: (ip) => (ip === CLIENT ? local : undefined), endpointById: () => undefined },
    });
    const direction = (data: Uint8Array) => p.decode(data, TIME, 'n').trafficDirection;
    // The local endpoint opened the connection: its packets and the replies it gets are egress traffic.
    expect(direction(trace(frame, { source: 42, reason: TraceReason.POLICY }))).toBe(TrafficDirection.EGRESS);
    expect(direction(trace(reply, { source: 42, reason: TraceReason.CT_REPLY }))).toBe(TrafficDirection.EGRESS);
    // A connection into the endpoint: the packets it receives and the replies it sends are ingress traffic.
    expect(direction(trace(reply, { source: 42, reason: TraceReason.POLICY }))).toBe(TrafficDirection.INGRESS);
    expect(direction(trace(frame, { source: 42, reason: TraceReason.CT_REPLY }))).toBe(TrafficDirection.INGRESS);
    // SNAT happens on the way out.
    expect(
      direction(
        trace(reply, {
          source: 7,
          reason: TraceReason.POLICY,
          origIP: concat(ipv4Address('1.1.1.1'), new Uint8Array(12)),
        }),
      ),
    ).toBe(TrafficDirection.EGRESS);
    // Drops at the sending endpoint are egress, elsewhere ingress.
    expect(direction(encodeDropNotify({ subType: 133, source: 42 }, frame))).toBe(TrafficDirection.EGRESS);
    expect(direction(encodeDropNotify({ subType: 133, source: 9 }, frame))).toBe(TrafficDirection.INGRESS);
    expect(direction(encodeDropNotify({ subType: 133, source: 0 }, frame))).toBe(
      TrafficDirection.TRAFFIC_DIRECTION_UNKNOWN,
    );
  });

  it('tracks connection state itself for captured frames, with direction from where they were captured', () => {
    const p = parser();
    const seen = (data: Uint8Array) => {
      const f = p.decode(data, TIME, 'n');
      return [f.traceReason, f.isReply, f.trafficDirection];
    };
    const { INGRESS, EGRESS, TRAFFIC_DIRECTION_UNKNOWN } = TrafficDirection;
    // Direction is the connection's, as in Hubble: one we open is egress both ways, one opened to us ingress.
    expect(seen(trace(frame, { obsPoint: TraceObservationPoint.TO_NETWORK }))).toEqual([
      FlowTraceReason.NEW,
      false,
      EGRESS,
    ]);
    expect(seen(trace(reply, { obsPoint: TraceObservationPoint.FROM_NETWORK }))).toEqual([
      FlowTraceReason.REPLY,
      true,
      EGRESS,
    ]);
    expect(seen(trace(frame, { obsPoint: TraceObservationPoint.TO_NETWORK }))).toEqual([
      FlowTraceReason.ESTABLISHED,
      false,
      EGRESS,
    ]);
    const inbound = tcpFrame(TcpFlag.SYN, '192.0.2.50', CLIENT, 51000, 22);
    const answer = tcpFrame(TcpFlag.SYN | TcpFlag.ACK, CLIENT, '192.0.2.50', 22, 51000);
    expect(seen(trace(inbound, { obsPoint: TraceObservationPoint.FROM_NETWORK }))).toEqual([
      FlowTraceReason.NEW,
      false,
      INGRESS,
    ]);
    expect(seen(trace(answer, { obsPoint: TraceObservationPoint.TO_NETWORK }))).toEqual([
      FlowTraceReason.REPLY,
      true,
      INGRESS,
    ]);
    // Other observation points say nothing about direction; frames without connections have no reply state.
    expect(seen(trace(frame, { obsPoint: TraceObservationPoint.TO_STACK }))).toEqual([
      FlowTraceReason.ESTABLISHED,
      false,
      TRAFFIC_DIRECTION_UNKNOWN,
    ]);
    const request = ethernet({ type: EtherType.ARP }, arp(1, '020000000001', CLIENT, '000000000000', SERVER));
    expect(seen(trace(request))).toEqual([FlowTraceReason.TRACE_REASON_UNKNOWN, undefined, INGRESS]);
  });

  it('decodes packets from L3 devices, which have no Ethernet header', () => {
    const p = parser();
    const packet4 = ipv4({ src: CLIENT, dst: SERVER, protocol: IpProtocol.UDP }, udp(1, 2));
    const flow4 = p.decode(
      trace(packet4, { flags: TraceNotifyFlag.IS_L3_DEVICE, reason: TraceReason.POLICY }),
      TIME,
      'n',
    );
    expect(flow4.ethernet).toBeUndefined();
    expect(flow4.IP?.source).toBe(CLIENT);
    expect(flow4.l4?.UDP).toEqual({ sourcePort: 1, destinationPort: 2 });
    const packet6 = ipv6({ src: 'fd00::1', dst: 'fd00::2', next: IpProtocol.ICMPV6 }, icmp(128, 0, 1, 1));
    const origIP = ipv6Address('fd00::99');
    const flow6 = p.decode(
      trace(packet6, {
        flags: TraceNotifyFlag.IS_L3_DEVICE | TraceNotifyFlag.IS_IPV6,
        reason: TraceReason.POLICY,
        origIP,
      }),
      TIME,
      'n',
    );
    expect(flow6.IP).toEqual({
      source: 'fd00::99',
      sourceXlated: 'fd00::1',
      destination: 'fd00::2',
      ipVersion: IPVersion.IPv6,
      encrypted: false,
    });
    expect(flow6.Summary).toBe('ICMPv6 EchoRequest');
  });

  it('describes the inner packet of overlay traffic and the outer one as the tunnel', () => {
    const inner = ethernet(
      { type: EtherType.IPV4 },
      ipv4(
        { src: '10.244.1.5', dst: '10.244.2.7', protocol: IpProtocol.TCP },
        tcp({ sport: 33000, dport: 8080, flags: TcpFlag.SYN }),
      ),
    );
    const outer = ethernet(
      { type: EtherType.IPV4 },
      ipv4(
        { src: '192.168.0.1', dst: '192.168.0.2', protocol: IpProtocol.UDP },
        udp(51000, 8472, concat(hex('08000000 00000700'), inner)),
      ),
    );
    const flow = parser().decode(encodeDropNotify({ subType: 133, flags: DropNotifyFlag.IS_VXLAN }, outer), TIME, 'n');
    expect(flow.IP).toMatchObject({ source: '10.244.1.5', destination: '10.244.2.7' });
    expect(flow.l4?.TCP).toMatchObject({ sourcePort: 33000, destinationPort: 8080 });
    expect(flow.tunnel).toEqual({
      protocol: Tunnel_Protocol.VXLAN,
      IP: {
        source: '192.168.0.1',
        sourceXlated: '',
        destination: '192.168.0.2',
        ipVersion: IPVersion.IPv4,
        encrypted: false,
      },
      l4: expect.objectContaining({ UDP: { sourcePort: 51000, destinationPort: 8472 } }),
      vni: 7,
    });
    expect(flow.Summary).toBe('TCP Flags: SYN');
  });
});

describe('L3/L4 parser metadata', () => {
  const frame = tcpFrame(TcpFlag.ACK, CLIENT, SERVER, 40000, 443);
  const web: Endpoint = Object.freeze({
    ID: 42,
    identity: 1000,
    clusterName: 'c1',
    namespace: 'shop',
    labels: ['k8s:app=web'],
    podName: 'web-0',
    workloads: [],
  });

  it('fills endpoints from the endpoint getter and shares its objects between flows', () => {
    const p = parser({
      endpoints: { endpointByIP: (ip) => (ip === CLIENT ? web : undefined), endpointById: () => undefined },
    });
    const a = p.decode(trace(frame), TIME, 'n');
    const b = p.decode(trace(frame), TIME, 'n');
    expect(a.source).toBe(web);
    expect(b.source).toBe(web);
    expect(a.destination).toMatchObject({ ID: 0, identity: 0, labels: [] });
  });

  it("keeps the datapath's identity when it disagrees with user space", () => {
    const p = parser({
      endpoints: { endpointByIP: (ip) => (ip === CLIENT ? web : undefined), endpointById: () => undefined },
    });
    const flow = p.decode(trace(frame, { srcLabel: 2000, reason: TraceReason.POLICY }), TIME, 'n');
    expect(flow.source).toEqual({ ...web, identity: 2000 });
    expect(web.identity).toBe(1000);
  });

  it('falls back to the identity of the address, with sorted labels and only the longest CIDR label', () => {
    const world = Object.freeze({ identity: 2, labels: Object.freeze(['reserved:world']) });
    const cidr = Object.freeze({
      identity: 16777217,
      labels: Object.freeze([
        'cidr:10.0.0.0/8',
        'reserved:world',
        'cidr:10.0.0.0/24',
        'k8s:io.cilium.k8s.policy.cluster=east',
        'cidr:10.0.0.0/16',
      ]),
    });
    const p = parser({ identities: { identityOf: (ip) => (ip === SERVER ? cidr : world) } });
    const flow = p.decode(trace(frame), TIME, 'n');
    expect(flow.source).toEqual({
      ID: 0,
      identity: 2,
      clusterName: '',
      namespace: '',
      labels: ['reserved:world'],
      podName: '',
      workloads: [],
    });
    expect(flow.destination).toEqual({
      ID: 0,
      identity: 16777217,
      clusterName: 'east',
      namespace: '',
      labels: ['cidr:10.0.0.0/24', 'k8s:io.cilium.k8s.policy.cluster=east', 'reserved:world'],
      podName: '',
      workloads: [],
    });
    expect(p.decode(trace(frame), TIME, 'n').destination).toBe(flow.destination);
  });

  it('uses the identities the datapath reported when no getter knows the address', () => {
    const flow = parser().decode(trace(frame, { srcLabel: 1234, dstLabel: 5678 }), TIME, 'n');
    expect(flow.source).toMatchObject({ identity: 1234, labels: [] });
    expect(flow.destination).toMatchObject({ identity: 5678, labels: [] });
  });

  it('names addresses, services and interfaces through the getters', () => {
    const names = Object.freeze(['api.example.com']);
    const p = parser({
      dns: { namesOf: (ip) => (ip === SERVER ? names : []) },
      services: {
        serviceAt: (ip, port) => (ip === SERVER && port === 443 ? { name: 'api', namespace: 'shop' } : undefined),
      },
      links: { linkName: (i) => (i === 5 ? 'eth0' : undefined) },
    });
    const flow = p.decode(trace(frame, { ifindex: 5 }), TIME, '');
    expect(flow.destinationNames).toBe(names);
    expect(flow.sourceNames).toEqual([]);
    expect(flow.destinationService).toEqual({ name: 'api', namespace: 'shop' });
    expect(flow.sourceService).toBeUndefined();
    expect(flow.interface).toEqual({ index: 5, name: 'eth0' });
    expect(flow.nodeName).toBe('default-node');
  });

  it('shows a change in the metadata on flows a fraction of a second later', async () => {
    let service: { name: string; namespace: string } | undefined;
    const p = parser({ services: { serviceAt: (ip) => (ip === SERVER ? service : undefined) } });
    expect(p.decode(trace(frame), TIME, 'n').destinationService).toBeUndefined();
    service = { name: 'api', namespace: 'shop' };
    await new Promise((r) => setTimeout(r, 300));
    expect(p.decode(trace(frame), TIME, 'n').destinationService).toEqual({ name: 'api', namespace: 'shop' });
  });

  it('names an address on the very next packet after a DNS response resolved it', () => {
    const names = new DnsNameCache();
    const p = parser({ dns: names, dnsLearner: names });
    const toDb = trace(tcpFrame(TcpFlag.SYN, CLIENT, '192.0.2.7', 40000, 5432));
    expect(p.decode(toDb, TIME, 'n').destinationNames).toEqual([]);
    const response = dnsMessage({
      question: 'db.example',
      answers: [{ name: 'db.example', type: DnsType.A, ttl: 300, data: '192.0.2.7' }],
    });
    const fromResolver = ethernet(
      { type: EtherType.IPV4 },
      ipv4({ src: SERVER, dst: CLIENT, protocol: IpProtocol.UDP }, udp(53, 40001, response)),
    );
    p.decode(trace(fromResolver), TIME, 'n');
    expect(p.decode(toDb, TIME, 'n').destinationNames).toEqual(['db.example']);
  });

  it('learns DNS answers over UDP and TCP, from port 53 or a payload that is exactly one DNS message, and only from responses that resolve something', () => {
    const learned: DnsAnswer[] = [];
    const p = parser({ dnsLearner: { learn: (a) => learned.push(a) } });
    const answer = { name: 'db.example', type: DnsType.A, ttl: 42, data: '192.0.2.7' };
    const response = dnsMessage({ question: 'db.example', answers: [answer] });
    const overUdp = (sport: number, message: Uint8Array) =>
      ethernet(
        { type: EtherType.IPV4 },
        ipv4({ src: SERVER, dst: CLIENT, protocol: IpProtocol.UDP }, udp(sport, 40000, message)),
      );
    const overTcp = (message: Uint8Array) =>
      ethernet(
        { type: EtherType.IPV4 },
        ipv4(
          { src: SERVER, dst: CLIENT, protocol: IpProtocol.TCP },
          tcp(
            { sport: 53, dport: 40000, flags: TcpFlag.PSH | TcpFlag.ACK },
            concat(Uint8Array.of(message.length >> 8, message.length & 0xff), message),
          ),
        ),
      );
    for (const frame of [
      overUdp(53, response),
      overTcp(response),
      overUdp(5353, response), // another port, but exactly one well-formed DNS message
      overUdp(5353, concat(response, Uint8Array.of(0))), // another port, and more than a DNS message
      overUdp(53, dnsMessage({ question: 'db.example', response: false })), // a query
      overUdp(53, dnsMessage({ question: 'gone.example', rcode: 3 })), // NXDOMAIN
      overUdp(
        53,
        dnsMessage({
          question: 'mx.example',
          answers: [{ name: 'mx.example', type: DnsType.MX, ttl: 1, data: '000a00' }],
        }),
      ),
      overTcp(response).subarray(0, 80), // the TCP segment holds only part of the message
    ]) {
      p.decode(trace(frame), TIME, 'n');
    }
    expect(learned).toEqual([
      { query: 'db.example', ips: ['192.0.2.7'], ttlSeconds: 42, at: TIME },
      { query: 'db.example', ips: ['192.0.2.7'], ttlSeconds: 42, at: TIME },
      { query: 'db.example', ips: ['192.0.2.7'], ttlSeconds: 42, at: TIME },
    ]);
  });

  it('builds every flow with the same fields in the same order, and they survive the protobuf wire', () => {
    const p = parser();
    const shape = Object.keys(Flow.fromPartial({}));
    const events = [
      trace(frame),
      encodeDropNotify({ subType: 133, ipTraceId: 5n }, frame),
      encodePolicyVerdictNotify({ flags: 1 }, frame),
      encodeDebugCapture({ subType: 4, arg1: 1 }, frame),
      trace(ethernet({ type: EtherType.ARP }, arp(1, '020000000001', CLIENT, '000000000000', SERVER))),
    ];
    for (const event of events) {
      const flow = p.decode(event, TIME, 'n');
      expect(Object.keys(flow)).toEqual(shape);
      const wire = Flow.decode(Flow.encode(flow).finish());
      expect(wire).toEqual(Flow.fromPartial(JSON.parse(JSON.stringify(flow)) as object));
    }
  });
});

describe('L3/L4 parser summaries', () => {
  const v4 = (protocol: number, payload: Uint8Array, dst = SERVER) =>
    ethernet({ type: EtherType.IPV4 }, ipv4({ src: CLIENT, dst, protocol }, payload));
  const v6 = (next: number, payload: Uint8Array) =>
    ethernet({ type: EtherType.IPV6 }, ipv6({ src: 'fe80::1', dst: 'fe80::2', next }, payload));

  it.each<[string, Uint8Array, string]>([
    ['TCP flags in Hubble order', tcpFrame(0x1ff), 'TCP Flags: SYN, ACK, RST, FIN, PSH, URG, ECE, CWR, NS'],
    ['TCP without flags', tcpFrame(0), 'TCP Flags: '],
    ['UDP', v4(IpProtocol.UDP, udp(1, 2)), 'UDP'],
    ['ICMPv4 echo request', v4(IpProtocol.ICMP, icmp(8, 0)), 'ICMPv4 EchoRequest'],
    ['ICMPv4 port unreachable', v4(IpProtocol.ICMP, icmp(3, 3)), 'ICMPv4 DestinationUnreachable(Port)'],
    ['ICMPv4 code on a type without codes', v4(IpProtocol.ICMP, icmp(8, 5)), 'ICMPv4 EchoRequest(Code: 5)'],
    ['ICMPv4 unknown type', v4(IpProtocol.ICMP, icmp(42, 1)), 'ICMPv4 42(1)'],
    ['ICMPv6 echo reply', v6(IpProtocol.ICMPV6, icmp(129, 0)), 'ICMPv6 EchoReply'],
    ['ICMPv6 neighbor solicitation', v6(IpProtocol.ICMPV6, icmp(135, 0)), 'ICMPv6 NeighborSolicitation'],
    ['ICMPv6 MLD report, which gopacket does not name', v6(IpProtocol.ICMPV6, icmp(143, 0)), 'ICMPv6 143(0)'],
    ['SCTP', v4(IpProtocol.SCTP, sctp(1, 2, sctpChunk(1))), 'SCTP'],
    ['VRRP', v4(IpProtocol.VRRP, vrrp(1, 100, ['10.0.0.254']), '224.0.0.18'), 'VRRP VRRPv2 Advertisement'],
    ['IGMP', v4(IpProtocol.IGMP, igmp(0x16, '239.1.1.1'), '239.1.1.1'), 'IGMP IGMPv2 Membership Report'],
    [
      'ARP request',
      ethernet({ type: EtherType.ARP }, arp(1, '020000000001', CLIENT, '000000000000', SERVER)),
      `ARP Request who-has ${SERVER} tell ${CLIENT}`,
    ],
    [
      'ARP reply',
      ethernet({ type: EtherType.ARP }, arp(2, '020000000002', SERVER, '020000000001', CLIENT)),
      `ARP Reply ${SERVER} is-at 02:00:00:00:00:02`,
    ],
    [
      'a later IPv4 fragment',
      ethernet(
        { type: EtherType.IPV4 },
        ipv4({ src: CLIENT, dst: SERVER, protocol: IpProtocol.UDP, fragmentOffset: 8 }, new Uint8Array(8)),
      ),
      'IPv4',
    ],
    ['IPv6 ESP', v6(IpProtocol.ESP, new Uint8Array(16)), 'IPv6'],
    ['a frame whose IP header was cut off', tcpFrame(TcpFlag.SYN).subarray(0, 20), 'Ethernet'],
  ])('%s', (_name, frame, summary) => {
    expect(parser().decode(trace(frame), TIME, 'n').Summary).toBe(summary);
  });

  it('fills the L4 fields of every protocol it names', () => {
    const p = parser();
    const l4 = (frame: Uint8Array) => p.decode(trace(frame), TIME, 'n').l4;
    expect(l4(v4(IpProtocol.SCTP, sctp(36412, 2905, sctpChunk(1))))?.SCTP).toEqual({
      sourcePort: 36412,
      destinationPort: 2905,
      chunkType: SCTPChunkType.INIT,
    });
    expect(l4(v4(IpProtocol.SCTP, sctp(1, 2, sctpChunk(14))))?.SCTP?.chunkType).toBe(SCTPChunkType.SHUTDOWN_COMPLETE);
    expect(l4(v4(IpProtocol.SCTP, sctp(1, 2, sctpChunk(0))))?.SCTP?.chunkType).toBe(SCTPChunkType.UNSUPPORTED);
    expect(l4(v4(IpProtocol.VRRP, vrrp(51, 150, ['10.0.0.254']), '224.0.0.18'))?.VRRP).toEqual({
      type: 1,
      vrid: 51,
      priority: 150,
    });
    expect(l4(v4(IpProtocol.IGMP, igmp(0x16, '239.1.1.1'), '239.1.1.1'))?.IGMP).toEqual({
      type: 0x16,
      groupAddress: '239.1.1.1',
    });
    const tcpFlags = l4(tcpFrame(TcpFlag.NS | TcpFlag.CWR | TcpFlag.FIN))?.TCP?.flags;
    expect(tcpFlags).toEqual({
      FIN: true,
      SYN: false,
      RST: false,
      PSH: false,
      ACK: false,
      URG: false,
      ECE: false,
      CWR: true,
      NS: true,
    });
  });

  it('still yields a flow when the TCP header is cut short, without L4', () => {
    const flow = parser().decode(trace(tcpFrame(TcpFlag.SYN).subarray(0, 14 + 20 + 8)), TIME, 'n');
    expect(flow.IP?.source).toBe(CLIENT);
    expect(flow.l4).toBeUndefined();
    expect(flow.Summary).toBe('IPv4');
    expect(flow.isReply).toBeUndefined();
  });
});

describe('L3/L4 parser errors', () => {
  const frame = tcpFrame(TcpFlag.SYN);

  it.each<[string, Uint8Array, string, boolean]>([
    ['an empty message', new Uint8Array(), 'INVALID_MESSAGE', false],
    ['a trace shorter than its header', trace(frame).subarray(0, 20), 'INVALID_MESSAGE', true],
    [
      'a trace of an unknown version',
      (() => {
        const t = trace(frame);
        t[14] = 9;
        return t;
      })(),
      'INVALID_MESSAGE',
      true,
    ],
    ['a drop shorter than its header', encodeDropNotify({ subType: 1 }).subarray(0, 30), 'INVALID_MESSAGE', true],
    [
      'a policy verdict shorter than its header',
      encodePolicyVerdictNotify({}).subarray(0, 39),
      'INVALID_MESSAGE',
      true,
    ],
    ['a debug capture shorter than its header', encodeDebugCapture({}).subarray(0, 10), 'INVALID_MESSAGE', true],
    ['a debug message', Uint8Array.of(MessageType.DEBUG, 0, 0, 0), 'UNKNOWN_MESSAGE_TYPE', false],
    ['a trace-sock event', encodeTraceSockNotify({}), 'UNKNOWN_MESSAGE_TYPE', false],
    ['a trace without a packet', trace(new Uint8Array()), 'INVALID_PACKET', false],
    ['a trace whose packet is too short for Ethernet', trace(hex('0102030405')), 'INVALID_PACKET', false],
    [
      'an L3-device trace whose packet is too short for IP',
      trace(hex('4500'), { flags: TraceNotifyFlag.IS_L3_DEVICE }),
      'INVALID_PACKET',
      false,
    ],
  ])('rejects %s', (_name, data, code, wrapsCodecError) => {
    const err = decodeError(() => parser().decode(data, TIME, 'n'));
    expect(err.code).toBe(code);
    if (wrapsCodecError) expect(err.cause).toBeInstanceOf(DatapathDecodeError);
  });

  it('lets nothing but ParserError escape, whatever the bytes', () => {
    const p = parser({ dnsLearner: { learn: () => undefined } });
    const types = fc.constantFrom(
      MessageType.TRACE,
      MessageType.DROP,
      MessageType.POLICY_VERDICT,
      MessageType.CAPTURE,
      MessageType.DEBUG,
      200,
    );
    fc.assert(
      fc.property(types, fc.uint8Array({ maxLength: 160 }), (type, rest) => {
        const data = concat(Uint8Array.of(type), rest);
        try {
          p.decode(data, TIME, 'n');
        } catch (err) {
          expect(err).toBeInstanceOf(ParserError);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('lets nothing but ParserError escape from mutated valid events', () => {
    const p = parser({ dnsLearner: { learn: () => undefined } });
    const dns = ethernet(
      { type: EtherType.IPV4 },
      ipv4(
        { src: SERVER, dst: CLIENT, protocol: IpProtocol.UDP },
        udp(
          53,
          4000,
          dnsMessage({ question: 'a.example', answers: [{ name: 'a.example', type: 1, ttl: 1, data: '192.0.2.1' }] }),
        ),
      ),
    );
    const events = [
      trace(frame),
      trace(frame, { origIP: new Uint8Array(16).fill(1), ipTraceId: 1n, flags: TraceNotifyFlag.IS_VXLAN }),
      trace(dns),
      encodeDropNotify({ subType: 133, flags: DropNotifyFlag.IS_GENEVE }, frame),
      encodePolicyVerdictNotify({ flags: 0xff }, frame),
      encodeDebugCapture({ subType: 8 }, frame),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...events),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(),
        (event, edits, cut) => {
          const data = event.slice(0, event.length - (cut % event.length));
          for (const [at, value] of edits) data[at % data.length] = value;
          try {
            p.decode(data, TIME, 'n');
          } catch (err) {
            expect(err).toBeInstanceOf(ParserError);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});

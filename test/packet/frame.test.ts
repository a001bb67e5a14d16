import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeStop,
  LinkType,
  PacketHeaders,
  decodeFrame,
  decodeOverlay,
  OverlayKind,
} from '../../src/packet/frame.js';
import { EtherType, IpProtocol, TcpFlag } from '../../src/packet/protocols.js';
import { captureWhile, ping, tcpExchange, udpBurst } from '../harness/capture.js';
import {
  arp,
  authenticationHeader,
  concat,
  ethernet,
  hex,
  icmp,
  igmp,
  ipv4,
  ipv6,
  ipv6Extension,
  ipv6Fragment,
  sctp,
  sctpChunk,
  tcp,
  udp,
  vrrp,
} from '../harness/frames.js';
import { expectAgreesWithTshark, layerNames } from '../harness/packetView.js';
import { readPcap, writePcapWithText2pcap } from '../harness/pcapFiles.js';
import { tsharkLayers, type TsharkLayers } from '../harness/tshark.js';

const ALL_TCP_FLAGS = 0x1ff;
const v4 = (protocol: number, payload: Uint8Array, extra: Partial<Parameters<typeof ipv4>[0]> = {}) =>
  ethernet({ type: EtherType.IPV4 }, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol, ...extra }, payload));
const v6 = (next: number, payload: Uint8Array, extra: Partial<Parameters<typeof ipv6>[0]> = {}) =>
  ethernet({ type: EtherType.IPV6 }, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', next, ...extra }, payload));

interface Case {
  name: string;
  frame: Uint8Array;
  /** What a reader of PacketHeaders should see; only the listed fields are checked. */
  expect: Partial<{
    layers: string[];
    stop: number;
    ipProtocol: number;
    hasPorts: boolean;
    sourcePort: number;
    destinationPort: number;
    tcpFlags: number;
    vlanCount: number;
    vlanOuter: number;
    vlanInner: number;
    isFragment: boolean;
    fragmentOffset: number;
    payloadLength: number;
    networkTruncated: boolean;
    sctpChunkType: number;
  }>;
}

const cases: Case[] = [
  {
    name: 'TCP SYN over IPv4',
    frame: v4(IpProtocol.TCP, tcp({ sport: 40000, dport: 80, flags: TcpFlag.SYN })),
    expect: {
      layers: ['eth', 'ip', 'tcp'],
      stop: DecodeStop.COMPLETE,
      sourcePort: 40000,
      destinationPort: 80,
      tcpFlags: TcpFlag.SYN,
    },
  },
  {
    name: 'TCP with all nine flags (NS included) and options',
    frame: v4(IpProtocol.TCP, tcp({ sport: 1, dport: 2, flags: ALL_TCP_FLAGS, options: hex('020405b4') }, hex('aabb'))),
    expect: { layers: ['eth', 'ip', 'tcp'], tcpFlags: ALL_TCP_FLAGS, payloadLength: 2 },
  },
  {
    name: 'UDP in a minimum-size frame: Ethernet padding is not payload',
    frame: concat(v4(IpProtocol.UDP, udp(5000, 6000, hex('01020304'))), new Uint8Array(14)),
    expect: { layers: ['eth', 'ip', 'udp'], sourcePort: 5000, destinationPort: 6000, payloadLength: 4 },
  },
  {
    name: 'ICMPv4 echo request',
    frame: v4(IpProtocol.ICMP, icmp(8, 0, 0x1234, 1, hex('6162'))),
    expect: { layers: ['eth', 'ip', 'icmp'], ipProtocol: IpProtocol.ICMP },
  },
  {
    name: 'ICMPv4 port unreachable quoting a UDP packet: the flow is the ICMP message, not the quoted one',
    frame: v4(
      IpProtocol.ICMP,
      icmp(3, 3, 0, 0, ipv4({ src: '10.0.0.2', dst: '10.0.0.1', protocol: IpProtocol.UDP }, udp(1, 2))),
    ),
    expect: { layers: ['eth', 'ip', 'icmp'], hasPorts: false },
  },
  {
    name: '802.1Q tagged TCP',
    frame: ethernet(
      { type: EtherType.IPV4, vlans: [[EtherType.VLAN, 42]] },
      ipv4(
        { src: '192.168.1.1', dst: '192.168.1.2', protocol: IpProtocol.TCP },
        tcp({ sport: 443, dport: 51000, flags: TcpFlag.ACK }),
      ),
    ),
    expect: { layers: ['eth', 'vlan', 'ip', 'tcp'], vlanCount: 1, vlanOuter: 42, vlanInner: -1, sourcePort: 443 },
  },
  {
    name: 'QinQ (802.1ad outer, 802.1Q inner) UDP',
    frame: ethernet(
      {
        type: EtherType.IPV4,
        vlans: [
          [EtherType.QINQ, 100],
          [EtherType.VLAN, 200],
        ],
      },
      ipv4({ src: '10.1.0.1', dst: '10.1.0.2', protocol: IpProtocol.UDP }, udp(53, 33000)),
    ),
    expect: { layers: ['eth', 'vlan', 'ip', 'udp'], vlanCount: 2, vlanOuter: 100, vlanInner: 200 },
  },
  {
    name: 'legacy 0x9100 QinQ tag',
    frame: ethernet(
      { type: EtherType.IPV4, vlans: [[EtherType.QINQ_LEGACY, 7]] },
      ipv4({ src: '10.1.0.1', dst: '10.1.0.2', protocol: IpProtocol.UDP }, udp(1, 2)),
    ),
    expect: { layers: ['eth', 'vlan', 'ip', 'udp'], vlanOuter: 7 },
  },
  {
    name: 'ARP request',
    frame: ethernet(
      { dst: 'ffffffffffff', type: EtherType.ARP },
      arp(1, '020000000001', '10.0.0.1', '000000000000', '10.0.0.2'),
    ),
    expect: { layers: ['eth', 'arp'], stop: DecodeStop.COMPLETE },
  },
  {
    name: 'ARP reply',
    frame: ethernet({ type: EtherType.ARP }, arp(2, '020000000002', '10.0.0.2', '020000000001', '10.0.0.1')),
    expect: { layers: ['eth', 'arp'] },
  },
  {
    name: 'first IPv4 fragment carries the UDP header',
    frame: v4(IpProtocol.UDP, udp(12345, 53, new Uint8Array(32), 1000), { moreFragments: true, id: 7 }),
    expect: { layers: ['eth', 'ip', 'udp'], isFragment: true, fragmentOffset: 0, sourcePort: 12345 },
  },
  {
    name: 'middle IPv4 fragment has no transport header',
    frame: v4(IpProtocol.UDP, new Uint8Array(40).fill(0xab), { moreFragments: true, fragmentOffset: 1480, id: 7 }),
    expect: {
      layers: ['eth', 'ip'],
      stop: DecodeStop.FRAGMENT,
      isFragment: true,
      fragmentOffset: 1480,
      hasPorts: false,
      ipProtocol: IpProtocol.UDP,
    },
  },
  {
    name: 'last IPv4 fragment has no transport header',
    frame: v4(IpProtocol.TCP, new Uint8Array(24).fill(0xcd), { fragmentOffset: 2960, id: 7 }),
    expect: { layers: ['eth', 'ip'], stop: DecodeStop.FRAGMENT, fragmentOffset: 2960 },
  },
  {
    name: 'IPv4 header with options',
    frame: v4(IpProtocol.TCP, tcp({ sport: 22, dport: 60000, flags: TcpFlag.PSH | TcpFlag.ACK }, hex('00')), {
      options: hex('01010100'),
    }),
    expect: { layers: ['eth', 'ip', 'tcp'], sourcePort: 22 },
  },
  {
    name: 'IPv4 AH before TCP',
    frame: v4(
      IpProtocol.AH,
      concat(authenticationHeader(IpProtocol.TCP), tcp({ sport: 179, dport: 40000, flags: TcpFlag.ACK })),
    ),
    expect: { layers: ['eth', 'ip', 'tcp'], ipProtocol: IpProtocol.TCP, sourcePort: 179 },
  },
  {
    name: 'GRE is decoded as far as IP',
    frame: v4(IpProtocol.GRE, hex('00000800')),
    expect: { layers: ['eth', 'ip'], stop: DecodeStop.COMPLETE, ipProtocol: IpProtocol.GRE },
  },
  {
    name: 'UDP over IPv6',
    frame: v6(IpProtocol.UDP, udp(546, 547, hex('0102'))),
    expect: { layers: ['eth', 'ipv6', 'udp'], sourcePort: 546, payloadLength: 2 },
  },
  {
    name: 'IPv6 hop-by-hop, routing and destination options before TCP',
    frame: v6(
      IpProtocol.HOP_BY_HOP,
      concat(
        ipv6Extension(IpProtocol.ROUTING, hex('0100000000000000000000000000')),
        ipv6Extension(IpProtocol.DESTINATION_OPTIONS, hex('040000000000000000000000000000000000000000000000')),
        ipv6Extension(IpProtocol.TCP),
        tcp({ sport: 8080, dport: 50000, flags: TcpFlag.SYN | TcpFlag.ACK }),
      ),
    ),
    expect: {
      layers: ['eth', 'ipv6', 'tcp'],
      ipProtocol: IpProtocol.TCP,
      sourcePort: 8080,
      tcpFlags: TcpFlag.SYN | TcpFlag.ACK,
    },
  },
  {
    name: 'IPv6 first fragment carries the UDP header',
    frame: v6(
      IpProtocol.FRAGMENT,
      concat(ipv6Fragment(IpProtocol.UDP, 0, true), udp(4000, 4001, new Uint8Array(16), 2000)),
    ),
    expect: { layers: ['eth', 'ipv6', 'udp'], isFragment: true, sourcePort: 4000 },
  },
  {
    name: 'later IPv6 fragment has no transport header',
    frame: v6(IpProtocol.FRAGMENT, concat(ipv6Fragment(IpProtocol.UDP, 1448, false), new Uint8Array(16))),
    expect: { layers: ['eth', 'ipv6'], stop: DecodeStop.FRAGMENT, fragmentOffset: 1448, ipProtocol: IpProtocol.UDP },
  },
  {
    name: 'IPv6 AH before ICMPv6',
    frame: v6(IpProtocol.AH, concat(authenticationHeader(IpProtocol.ICMPV6, 4), icmp(128, 0, 1, 1))),
    expect: { layers: ['eth', 'ipv6', 'icmpv6'], ipProtocol: IpProtocol.ICMPV6 },
  },
  {
    name: 'IPv6 ESP hides everything after it',
    frame: v6(IpProtocol.ESP, hex('00000100 00000001 deadbeefdeadbeef')),
    expect: { layers: ['eth', 'ipv6'], stop: DecodeStop.OPAQUE, ipProtocol: IpProtocol.ESP },
  },
  {
    name: 'IPv6 with no next header',
    frame: v6(IpProtocol.NO_NEXT_HEADER, new Uint8Array()),
    expect: { layers: ['eth', 'ipv6'], stop: DecodeStop.OPAQUE, ipProtocol: IpProtocol.NO_NEXT_HEADER },
  },
  {
    name: 'ICMPv6 neighbor solicitation',
    frame: v6(IpProtocol.ICMPV6, icmp(135, 0, 0, 0, hex('20010db8000000000000000000000002')), {
      dst: 'ff02::1:ff00:2',
      hopLimit: 255,
    }),
    expect: { layers: ['eth', 'ipv6', 'icmpv6'] },
  },
  {
    name: 'SCTP INIT',
    frame: v4(IpProtocol.SCTP, sctp(36412, 36412, sctpChunk(1, new Uint8Array(16)))),
    expect: { layers: ['eth', 'ip', 'sctp'], sctpChunkType: 1, sourcePort: 36412 },
  },
  {
    name: 'SCTP over IPv6 with a SHUTDOWN chunk',
    frame: v6(IpProtocol.SCTP, sctp(9899, 38412, sctpChunk(7, hex('00000001')))),
    expect: { layers: ['eth', 'ipv6', 'sctp'], sctpChunkType: 7 },
  },
  {
    name: 'VRRP advertisement',
    frame: ethernet(
      { dst: '01005e000012', type: EtherType.IPV4 },
      ipv4({ src: '10.0.0.1', dst: '224.0.0.18', protocol: IpProtocol.VRRP, ttl: 255 }, vrrp(51, 150, ['10.0.0.254'])),
    ),
    expect: { layers: ['eth', 'ip', 'vrrp'] },
  },
  {
    name: 'IGMPv2 membership report',
    frame: ethernet(
      { dst: '01005e0000fb', type: EtherType.IPV4 },
      ipv4({ src: '10.0.0.1', dst: '224.0.0.251', protocol: IpProtocol.IGMP, ttl: 1 }, igmp(0x16, '224.0.0.251')),
    ),
    expect: { layers: ['eth', 'ip', 'igmp'] },
  },
  {
    name: 'TCP header cut after 10 bytes: ports known, TCP not decoded',
    frame: v4(IpProtocol.TCP, tcp({ sport: 1234, dport: 80, flags: TcpFlag.SYN })).subarray(0, 14 + 20 + 10),
    expect: {
      layers: ['eth', 'ip'],
      stop: DecodeStop.TRUNCATED,
      hasPorts: true,
      sourcePort: 1234,
      destinationPort: 80,
      networkTruncated: true,
    },
  },
  {
    name: 'TCP options cut by the snap length: the fixed header still counts',
    frame: v4(
      IpProtocol.TCP,
      tcp({ sport: 1, dport: 2, flags: TcpFlag.ACK, options: new Uint8Array(20).fill(1) }),
    ).subarray(0, 14 + 20 + 24),
    expect: { layers: ['eth', 'ip', 'tcp'], stop: DecodeStop.TRUNCATED, tcpFlags: TcpFlag.ACK },
  },
  {
    name: 'UDP header cut after 6 bytes',
    frame: v4(IpProtocol.UDP, udp(5353, 5353, new Uint8Array(8))).subarray(0, 14 + 20 + 6),
    expect: { layers: ['eth', 'ip'], stop: DecodeStop.TRUNCATED, hasPorts: true, sourcePort: 5353 },
  },
  {
    name: 'IPv4 header cut short: only Ethernet',
    frame: v4(IpProtocol.UDP, udp(1, 2)).subarray(0, 14 + 15),
    expect: { layers: ['eth'], stop: DecodeStop.TRUNCATED },
  },
  {
    name: 'IPv6 header cut short: only Ethernet',
    frame: v6(IpProtocol.UDP, udp(1, 2)).subarray(0, 14 + 30),
    expect: { layers: ['eth'], stop: DecodeStop.TRUNCATED },
  },
  {
    name: 'IPv4 header length below 20 bytes is malformed',
    frame: v4(IpProtocol.UDP, udp(1, 2), { ihl: 4 }),
    expect: { layers: ['eth'], stop: DecodeStop.MALFORMED },
  },
  {
    name: 'TCP data offset below 5 words is malformed but its flags are readable',
    frame: v4(IpProtocol.TCP, tcp({ sport: 1, dport: 2, flags: TcpFlag.RST, dataOffset: 2 })),
    expect: { layers: ['eth', 'ip', 'tcp'], stop: DecodeStop.MALFORMED, tcpFlags: TcpFlag.RST },
  },
  {
    name: '802.3 LLC frame is not decoded past Ethernet',
    frame: concat(hex('0180c2000000 020000000001 0026 424203'), new Uint8Array(35)),
    expect: { layers: ['eth'], stop: DecodeStop.UNSUPPORTED },
  },
];

describe('frame decoder on crafted frames, judged by tshark', () => {
  let tshark: TsharkLayers[];
  beforeAll(async () => {
    tshark = await tsharkLayers(await writePcapWithText2pcap(cases.map((c) => c.frame)));
  });

  it.each(cases.map((c, i) => [c.name, i] as const))('%s', (name, i) => {
    const c = cases[i]!;
    const h = new PacketHeaders();
    decodeFrame(h, c.frame);
    const { layers, payloadLength, ...fields } = c.expect;
    if (layers !== undefined) expect(layerNames(h), 'layers').toEqual(layers);
    if (payloadLength !== undefined) expect(h.payloadEnd - h.payloadOffset, 'payload length').toBe(payloadLength);
    expect(h).toMatchObject(fields);
    expect(tshark).toHaveLength(cases.length);
    expectAgreesWithTshark(h, c.frame, tshark[i]!, name);
  });
});

describe('frame decoder without a link header', () => {
  it('reads IPv4 and IPv6 packets directly, or by their version nibble', () => {
    const packet4 = ipv4({ src: '1.2.3.4', dst: '5.6.7.8', protocol: IpProtocol.UDP }, udp(1, 2));
    const packet6 = ipv6({ src: '::1', dst: '::2', next: IpProtocol.UDP }, udp(3, 4));
    const h = new PacketHeaders();
    for (const [linkType, packet, names] of [
      [LinkType.IPV4, packet4, ['ip', 'udp']],
      [LinkType.IPV6, packet6, ['ipv6', 'udp']],
      [LinkType.RAW_IP, packet4, ['ip', 'udp']],
      [LinkType.RAW_IP, packet6, ['ipv6', 'udp']],
    ] as const) {
      decodeFrame(h, packet, linkType);
      expect(layerNames(h)).toEqual(names);
    }
    decodeFrame(h, hex('50 00 00 00'), LinkType.RAW_IP);
    expect(h.layers).toBe(0);
    expect(h.stop).toBe(DecodeStop.UNSUPPORTED);
  });

  it('decodes a frame that starts in the middle of a buffer', () => {
    const frame = v4(IpProtocol.UDP, udp(7, 9));
    const buffer = concat(new Uint8Array(32).fill(0xff), frame, new Uint8Array(8).fill(0xee));
    const h = new PacketHeaders();
    decodeFrame(h, buffer, LinkType.ETHERNET, 32, 32 + frame.length);
    expect(layerNames(h)).toEqual(['eth', 'ip', 'udp']);
    expect(h.linkOffset).toBe(32);
    expect(h.payloadEnd).toBe(32 + frame.length);
  });
});

describe('overlay decoding', () => {
  const innerFrame = ethernet(
    { src: '0a0000000001', dst: '0a0000000002', type: EtherType.IPV4 },
    ipv4(
      { src: '10.244.1.5', dst: '10.244.2.7', protocol: IpProtocol.TCP },
      tcp({ sport: 33000, dport: 8080, flags: TcpFlag.SYN }),
    ),
  );

  it('finds the inner frame and VNI of a VXLAN packet', () => {
    const frame = v4(IpProtocol.UDP, udp(40000, 8472, concat(hex('08000000 00002a00'), innerFrame)));
    const outer = new PacketHeaders();
    const inner = new PacketHeaders();
    decodeFrame(outer, frame);
    expect(decodeOverlay(outer, frame, OverlayKind.VXLAN, inner)).toBe(42);
    expect(layerNames(inner)).toEqual(['eth', 'ip', 'tcp']);
    expect(inner.destinationPort).toBe(8080);
  });

  it('skips Geneve options to reach the inner frame', () => {
    const geneve = concat(hex('02006558 00010000'), hex('01020304 05060708'), innerFrame);
    const frame = v4(IpProtocol.UDP, udp(40000, 6081, geneve));
    const outer = new PacketHeaders();
    const inner = new PacketHeaders();
    decodeFrame(outer, frame);
    expect(decodeOverlay(outer, frame, OverlayKind.GENEVE, inner)).toBe(256);
    expect(layerNames(inner)).toEqual(['eth', 'ip', 'tcp']);
  });

  it('reports no overlay when the outer packet is not UDP or too short', () => {
    const outer = new PacketHeaders();
    const inner = new PacketHeaders();
    const frame = v4(IpProtocol.TCP, tcp({ sport: 1, dport: 2, flags: 0 }));
    decodeFrame(outer, frame);
    expect(decodeOverlay(outer, frame, OverlayKind.VXLAN, inner)).toBe(-1);
    const short = v4(IpProtocol.UDP, udp(1, 8472, hex('0800')));
    decodeFrame(outer, short);
    expect(decodeOverlay(outer, short, OverlayKind.VXLAN, inner)).toBe(-1);
    expect(inner.layers).toBe(0);
  });
});

describe('frame decoder on traffic captured from the loopback interface', () => {
  let path: string;
  beforeAll(async () => {
    path = await captureWhile('tcp or udp or icmp or icmp6', async () => {
      await tcpExchange(3);
      await tcpExchange(2, '::1');
      await udpBurst(3, 9);
      await udpBurst(2, 9, '::1');
      await ping('127.0.0.1', 2);
      await ping('::1', 2);
    });
  }, 30_000);
  afterAll(() => undefined);

  it('agrees with tshark on every captured frame', async () => {
    const { linkType, records: frames } = readPcap(path);
    expect(linkType).toBe(1);
    const tshark = await tsharkLayers(path);
    expect(tshark).toHaveLength(frames.length);
    expect(frames.length).toBeGreaterThan(20);
    const h = new PacketHeaders();
    const seen = new Set<string>();
    frames.forEach((frame, i) => {
      decodeFrame(h, frame.data);
      expect(h.stop, `frame ${i + 1}`).toBe(DecodeStop.COMPLETE);
      seen.add(layerNames(h).join('/'));
      expectAgreesWithTshark(h, frame.data, tshark[i]!, `frame ${i + 1}`);
    });
    // The capture really exercised both IP versions and every protocol it was meant to.
    expect([...seen].sort()).toEqual(
      expect.arrayContaining([
        'eth/ip/tcp',
        'eth/ipv6/tcp',
        'eth/ip/udp',
        'eth/ipv6/udp',
        'eth/ip/icmp',
        'eth/ipv6/icmpv6',
      ]),
    );
  });
});

describe('frame decoder on hostile input', () => {
  const h = new PacketHeaders();
  const linkTypes = fc.constantFrom(LinkType.ETHERNET, LinkType.IPV4, LinkType.IPV6, LinkType.RAW_IP);

  function expectSane(data: Uint8Array): void {
    for (const offset of [h.linkOffset, h.networkOffset, h.transportOffset, h.payloadOffset, h.sourceAddressOffset]) {
      expect(offset).toBeGreaterThanOrEqual(-1);
      expect(offset).toBeLessThanOrEqual(data.length);
    }
    if (h.ipVersion !== 0)
      expect(h.destinationAddressOffset + (h.ipVersion === 4 ? 4 : 16)).toBeLessThanOrEqual(data.length);
    if (h.payloadOffset >= 0) expect(h.payloadEnd).toBeLessThanOrEqual(data.length);
    expect(h.decodedTo).toBeLessThanOrEqual(data.length);
  }

  it('never throws and keeps every offset inside the buffer on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), linkTypes, (data, linkType) => {
        decodeFrame(h, data, linkType);
        expectSane(data);
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws on random mutations and truncations of valid frames', () => {
    const frames = cases.map((c) => c.frame);
    fc.assert(
      fc.property(
        fc.constantFrom(...frames),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(),
        (frame, edits, cut) => {
          const data = frame.slice(0, frame.length - (cut % (frame.length + 1)));
          for (const [at, value] of edits) if (data.length > 0) data[at % data.length] = value;
          decodeFrame(h, data);
          expectSane(data);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('stops after a bounded number of VLAN tags and extension headers', () => {
    const tags = Array.from({ length: 1000 }, () => [EtherType.VLAN, 1] as [number, number]);
    decodeFrame(h, ethernet({ type: EtherType.IPV4, vlans: tags }, new Uint8Array(20)));
    expect(h.stop).toBe(DecodeStop.UNSUPPORTED);
    expect(h.vlanCount).toBe(8);
    const chain = concat(...Array.from({ length: 100 }, () => ipv6Extension(IpProtocol.DESTINATION_OPTIONS)));
    decodeFrame(h, v6(IpProtocol.DESTINATION_OPTIONS, chain));
    expect(h.stop).toBe(DecodeStop.UNSUPPORTED);
    expect(h.hasTransport).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { ConnectionTable, ConnectionVerdict } from '../../../src/observer/parser/connectionTable.js';
import { PacketHeaders, decodeFrame } from '../../../src/packet/frame.js';
import { EtherType, IpProtocol, TcpFlag } from '../../../src/packet/protocols.js';
import { arp, ethernet, icmp, ipv4, ipv6, tcp, udp } from '../../harness/frames.js';

const { NEW, ESTABLISHED, REPLY, RELATED, UNTRACKED } = ConnectionVerdict;
const { SYN, ACK, FIN, PSH } = TcpFlag;

const CLIENT = '10.0.0.1';
const SERVER = '10.0.0.2';

function tcpFrame(src: string, dst: string, sport: number, dport: number, flags: number): Uint8Array {
  return ethernet({ type: EtherType.IPV4 }, ipv4({ src, dst, protocol: IpProtocol.TCP }, tcp({ sport, dport, flags })));
}
const fromClient = (flags: number, sport = 40000) => tcpFrame(CLIENT, SERVER, sport, 80, flags);
const fromServer = (flags: number, dport = 40000) => tcpFrame(SERVER, CLIENT, 80, dport, flags);
const udpFrame = (src: string, dst: string, sport: number, dport: number) =>
  ethernet({ type: EtherType.IPV4 }, ipv4({ src, dst, protocol: IpProtocol.UDP }, udp(sport, dport)));
const icmpFrame = (src: string, dst: string, type: number, id: number) =>
  ethernet({ type: EtherType.IPV4 }, ipv4({ src, dst, protocol: IpProtocol.ICMP }, icmp(type, 0, id, 1)));

/** Feeds frames at the given capture times (seconds) and returns the table's verdict for each. */
function verdicts(table: ConnectionTable, frames: Array<Uint8Array | [Uint8Array, number]>): number[] {
  const h = new PacketHeaders();
  return frames.map((entry) => {
    const [frame, at] = Array.isArray(entry) ? entry : [entry, 1000];
    decodeFrame(h, frame);
    return table.observe(h, frame, at);
  });
}

describe('connection table', () => {
  it.each<[string, Array<Uint8Array | [Uint8Array, number]>, number[]]>([
    [
      'a TCP handshake and exchange: opener NEW then ESTABLISHED, the other side REPLY',
      [
        fromClient(SYN),
        fromServer(SYN | ACK),
        fromClient(ACK),
        fromClient(PSH | ACK),
        fromServer(PSH | ACK),
        fromServer(FIN | ACK),
        fromClient(FIN | ACK),
      ],
      [NEW, REPLY, ESTABLISHED, ESTABLISHED, REPLY, REPLY, ESTABLISHED],
    ],
    [
      'capture started after the SYN: the SYN-ACK is a reply and its receiver the initiator',
      [fromServer(SYN | ACK), fromClient(ACK), fromServer(ACK)],
      [REPLY, ESTABLISHED, REPLY],
    ],
    [
      'capture started mid-connection: the first packet seen opens it',
      [fromServer(PSH | ACK), fromClient(ACK), fromServer(ACK)],
      [NEW, REPLY, ESTABLISHED],
    ],
    ['a retransmitted SYN belongs to the connection it opened', [fromClient(SYN), fromClient(SYN)], [NEW, ESTABLISHED]],
    [
      'a new SYN on a closing tuple starts a new connection',
      [fromClient(SYN), fromServer(SYN | ACK), fromClient(FIN | ACK), fromServer(FIN | ACK), fromClient(SYN)],
      [NEW, REPLY, ESTABLISHED, REPLY, NEW],
    ],
    [
      'different client ports are different connections',
      [fromClient(SYN, 40000), fromClient(SYN, 40001), fromServer(SYN | ACK, 40001)],
      [NEW, NEW, REPLY],
    ],
    [
      'UDP: whoever speaks first opened the conversation',
      [udpFrame(SERVER, CLIENT, 53, 33000), udpFrame(CLIENT, SERVER, 33000, 53), udpFrame(SERVER, CLIENT, 53, 33000)],
      [NEW, REPLY, ESTABLISHED],
    ],
    [
      'ICMP echo: requests open, replies answer, identifiers keep pings apart',
      [
        icmpFrame(CLIENT, SERVER, 8, 7),
        icmpFrame(SERVER, CLIENT, 0, 7),
        icmpFrame(CLIENT, SERVER, 8, 7),
        icmpFrame(SERVER, CLIENT, 0, 9),
      ],
      [NEW, REPLY, ESTABLISHED, REPLY],
    ],
    [
      'ICMP errors are related to another connection and never replies',
      [icmpFrame(SERVER, CLIENT, 3, 0), icmpFrame(SERVER, CLIENT, 11, 0)],
      [RELATED, RELATED],
    ],
    [
      'loopback traffic between two ports of one address is one connection',
      [
        tcpFrame('127.0.0.1', '127.0.0.1', 50000, 8080, SYN),
        tcpFrame('127.0.0.1', '127.0.0.1', 8080, 50000, SYN | ACK),
      ],
      [NEW, REPLY],
    ],
    [
      'IPv6 connections are tracked like IPv4 ones',
      [
        ethernet(
          { type: EtherType.IPV6 },
          ipv6({ src: '2001:db8::1', dst: '2001:db8::2', next: IpProtocol.UDP }, udp(1000, 2000)),
        ),
        ethernet(
          { type: EtherType.IPV6 },
          ipv6({ src: '2001:db8::2', dst: '2001:db8::1', next: IpProtocol.UDP }, udp(2000, 1000)),
        ),
      ],
      [NEW, REPLY],
    ],
    [
      'frames whose connection cannot be told are not tracked',
      [
        ethernet({ type: EtherType.ARP }, arp(1, '020000000001', CLIENT, '000000000000', SERVER)),
        ethernet(
          { type: EtherType.IPV4 },
          ipv4({ src: CLIENT, dst: SERVER, protocol: IpProtocol.UDP, fragmentOffset: 1480 }, new Uint8Array(16)),
        ),
        fromClient(SYN).subarray(0, 14 + 20 + 10),
      ],
      [UNTRACKED, UNTRACKED, UNTRACKED],
    ],
    [
      'a UDP conversation idle past its TTL starts over',
      [
        [udpFrame(CLIENT, SERVER, 1, 2), 0],
        [udpFrame(SERVER, CLIENT, 2, 1), 59],
        [udpFrame(SERVER, CLIENT, 2, 1), 200],
      ],
      [NEW, REPLY, NEW],
    ],
    [
      'an established TCP connection outlives the handshake TTL, a closed one does not linger',
      [
        [fromClient(SYN), 0],
        [fromServer(SYN | ACK), 1],
        [fromClient(ACK), 2],
        [fromServer(ACK), 3000],
        [fromClient(FIN | ACK), 3001],
        [fromServer(ACK), 3020],
      ],
      [NEW, REPLY, ESTABLISHED, REPLY, ESTABLISHED, NEW],
    ],
  ])('%s', (_name, frames, expected) => {
    expect(verdicts(new ConnectionTable(), frames)).toEqual(expected);
  });

  it('never holds more connections than its capacity, and still knows the most recent ones', () => {
    const table = new ConnectionTable({ capacity: 64 });
    expect(table.capacity).toBe(64);
    const h = new PacketHeaders();
    for (let i = 0; i < 20_000; i++) {
      const frame = udpFrame(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, SERVER, 1000 + (i % 5000), 53);
      decodeFrame(h, frame);
      expect(table.observe(h, frame, 10)).toBe(NEW);
      expect(table.size).toBeLessThanOrEqual(64);
    }
    expect(table.size).toBe(64);
    // The newest conversation survived the flood: its answer is recognised as a reply.
    const last = 19_999;
    const answer = udpFrame(
      SERVER,
      `10.${(last >> 16) & 255}.${(last >> 8) & 255}.${last & 255}`,
      53,
      1000 + (last % 5000),
    );
    expect(verdicts(table, [[answer, 11]])).toEqual([REPLY]);
    table.clear();
    expect(table.size).toBe(0);
  });

  it('rounds its capacity up to a power of two', () => {
    expect(new ConnectionTable({ capacity: 1000 }).capacity).toBe(1024);
    expect(new ConnectionTable({ capacity: 1 }).capacity).toBe(8);
  });
});

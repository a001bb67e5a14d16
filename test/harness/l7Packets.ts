// Hostile L7 traffic for tests of the L7 parser: random and HTTP- or DNS-shaped payloads on port 53, port 80 and
// random ports, from a few clients, with random TCP numbers and flags, as Ethernet frames.
import fc from 'fast-check';
import { EtherType, IpProtocol } from '../../src/packet/protocols.js';
import { dnsMessage, ethernet, ipv4, tcp, udp } from './frames.js';

const text = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/** Tracker bounds small enough for the fuzz to reach them. */
export const FUZZ_LIMITS = { maxConnections: 64, maxHeadBytes: 4096, maxBufferedBytes: 1 << 20 };

const payloads = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .constantFrom(
      'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
      'POST /x HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc',
      'GET /a HTTP/1.1\r\n',
      '\r\nX: y\r\n\r\n',
    )
    .map(text),
  fc.record({ question: fc.constantFrom('a.test', 'b.example', ''), response: fc.boolean() }).map((d) =>
    dnsMessage({
      question: d.question,
      response: d.response,
      answers: d.response ? [{ name: d.question, type: 1, ttl: 5, data: '10.0.0.1' }] : [],
    }),
  ),
);

export const hostileL7Packet = fc.record({
  client: fc.integer({ min: 1, max: 6 }),
  port: fc.constantFrom(53, 80, 8080, 40000),
  fromClient: fc.boolean(),
  udp: fc.boolean(),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  flags: fc.constantFrom(0x18, 0x10, 0x11, 0x04, 0x02, 0x12),
  payload: payloads,
});

export type L7PacketSpec = typeof hostileL7Packet extends fc.Arbitrary<infer T> ? T : never;

export function frameOf(p: L7PacketSpec): Uint8Array {
  const clientIp = `10.0.0.${p.client}`;
  const [src, dst] = p.fromClient ? [clientIp, '10.0.1.1'] : ['10.0.1.1', clientIp];
  const [sport, dport] = p.fromClient ? [40000 + p.client, p.port] : [p.port, 40000 + p.client];
  const l4 = p.udp
    ? udp(sport, dport, p.payload)
    : tcp({ sport, dport, seq: p.seq, ack: p.seq ^ 0x5a5a, flags: p.flags }, p.payload);
  return ethernet({ type: EtherType.IPV4 }, ipv4({ src, dst, protocol: p.udp ? IpProtocol.UDP : IpProtocol.TCP }, l4));
}

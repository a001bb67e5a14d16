// DNS over TCP put back in order: each length-prefixed message read once, whole, however the segments cut it, repeat
// it or reorder it; and what is kept stays within its bounds.
import { describe, expect, it } from 'vitest';
import { DnsTcpStreams } from '../../../../src/observer/parser/seven/dnsTcp.js';
import { decodeDnsMessage } from '../../../../src/packet/dns.js';
import { TcpFlag } from '../../../../src/packet/protocols.js';
import { dnsMessage } from '../../../harness/frames.js';
import { Conversation, emptySegment, type SegmentSpec } from './conversation.js';

const prefixed = (message: Uint8Array) => Uint8Array.of(message.length >> 8, message.length & 0xff, ...message);
const query = (name: string, id: number) => prefixed(dnsMessage({ id, response: false, question: name }));
const answer = (name: string, id: number, addresses: number) =>
  prefixed(
    dnsMessage({
      id,
      question: name,
      answers: Array.from({ length: addresses }, (_, i) => ({
        name,
        type: 1,
        ttl: 60,
        data: `10.0.${i >> 8}.${i & 255}`,
      })),
    }),
  );

function dnsConversation(clientPort = 40000): Conversation {
  return new Conversation(`10.0.0.1 ${clientPort} 10.0.0.2 53`, 1000, 5000, clientPort, 53);
}

/** Feeds the segments; each message read, as "Q name" or "R name <answers>". */
function feed(streams: DnsTcpStreams, c: Conversation, specs: readonly SegmentSpec[]): string[] {
  const out: string[] = [];
  const s = emptySegment();
  for (const spec of specs) {
    const n = streams.segment(c.toSegment(spec, s));
    for (let i = 0; i < n; i++) {
      const span = streams.spanAt(i);
      const m = decodeDnsMessage(span.bytes, span.start, span.end);
      if (m === undefined) throw new Error('a span does not decode as DNS');
      out.push(m.isResponse ? `R ${m.questionName} ${m.ips.length}` : `Q ${m.questionName}`);
    }
  }
  return out;
}

const handshake = (c: Conversation): SegmentSpec[] => [
  { fromClient: true, offset: -1, data: new Uint8Array(), flags: TcpFlag.SYN, acknowledges: 0 },
  { fromClient: false, offset: -1, data: new Uint8Array(), flags: TcpFlag.SYN | TcpFlag.ACK, acknowledges: 0 },
  ...c.client(new Uint8Array(), [], TcpFlag.ACK),
];

describe('DnsTcpStreams', () => {
  it('reads a response whose length the server wrote apart from the message', () => {
    const streams = new DnsTcpStreams();
    const c = dnsConversation();
    expect(
      feed(streams, c, [
        ...handshake(c),
        ...c.client(query('big.test', 7)),
        ...c.server(answer('big.test', 7, 3), [2]),
      ]),
    ).toEqual(['Q big.test', 'R big.test 3']);
  });

  it('reads a message cut anywhere, its length prefix too, each once, with segments repeated and out of order', () => {
    const c = dnsConversation();
    const response = answer('many.test', 9, 60); // 60 answers: 1.5 KB, over several segments
    const cuts = [1, 400, 900, 1400];
    const segments = [...handshake(c), ...c.client(query('many.test', 9), [1, 5]), ...c.server(response, cuts)];
    // After the handshake (2 segments) and the query (3): the server's second and third segments swapped, its first
    // sent twice.
    const at = 5;
    const reordered = [
      ...segments.slice(0, at),
      segments[at]!,
      segments[at + 2]!,
      segments[at + 1]!,
      segments[at]!,
      ...segments.slice(at + 3),
    ];
    const streams = new DnsTcpStreams();
    expect(feed(streams, c, reordered)).toEqual(['Q many.test', 'R many.test 60']);
    expect(streams.stats).toMatchObject({ messages: 2, abandoned: 0, bufferedBytes: 0 });
  });

  it('reads several messages in one segment, and one straddling two', () => {
    const c = dnsConversation();
    const queries = Uint8Array.from([...query('a.test', 1), ...query('b.test', 2), ...query('c.test', 3)]);
    const streams = new DnsTcpStreams();
    expect(feed(streams, c, c.client(queries, [queries.length - 10]))).toEqual(['Q a.test', 'Q b.test', 'Q c.test']);
  });

  it('gives a connection up at a length no message has, and ignores mid-stream bytes it never saw start', () => {
    const streams = new DnsTcpStreams();
    const c = dnsConversation();
    expect(feed(streams, c, [...c.client(query('ok.test', 1)), ...c.client(Uint8Array.of(0, 3, 1, 2, 3))])).toEqual([
      'Q ok.test',
    ]);
    expect(feed(streams, c, c.client(query('after.test', 2)))).toEqual(['Q after.test']); // tracked again: it starts like one
    expect(streams.stats.abandoned).toBe(1);
    const d = dnsConversation(40001);
    expect(feed(streams, d, d.client(new TextEncoder().encode('not the start of any DNS message')))).toEqual([]);
    expect(streams.stats.tracked).toBe(2);
  });

  it('frees a connection at FIN from both sides and at RST', () => {
    const streams = new DnsTcpStreams();
    const c = dnsConversation();
    feed(streams, c, [...c.client(query('x.test', 1)), ...c.server(answer('x.test', 1, 1)), c.fin(true), c.fin(false)]);
    const d = dnsConversation(40001);
    feed(streams, d, [...d.client(query('y.test', 1)), d.rst(false)]);
    expect(streams.stats).toMatchObject({ tracked: 2, connections: 0, abandoned: 0 });
  });

  it('counts a connection that ends with a message it could not read whole as given up', () => {
    const streams = new DnsTcpStreams();
    // The answer's middle segment never captured: the rest waits beyond the hole until both FINs.
    const c = dnsConversation();
    const asked = c.client(query('lost.test', 1));
    const lost = c.server(answer('lost.test', 1, 60), [500, 1000]);
    expect(feed(streams, c, [...asked, lost[0]!, lost[2]!, c.fin(true), c.fin(false)])).toEqual(['Q lost.test']);
    expect(streams.stats).toMatchObject({ abandoned: 1, connections: 0, bufferedBytes: 0 });
    // An answer cut short by a reset.
    const d = dnsConversation(40001);
    const askedToo = d.client(query('cut.test', 2));
    const cut = d.server(answer('cut.test', 2, 60), [500]);
    expect(feed(streams, d, [...askedToo, cut[0]!, d.rst(false)])).toEqual(['Q cut.test']);
    expect(streams.stats).toMatchObject({ abandoned: 2, connections: 0, bufferedBytes: 0 });
  });

  it('keeps connections and buffered bytes within bounds', () => {
    const streams = new DnsTcpStreams();
    // Connections declaring 65,535-byte messages and sending 100 bytes of each: 16 MiB buffered at most.
    for (let i = 0; i < 5000; i++) {
      const c = dnsConversation(10000 + i);
      const start = Uint8Array.from([0xff, 0xff, ...dnsMessage({ id: i, response: false, question: 'x.test' })]);
      const held = new Uint8Array(100);
      held.set(start);
      feed(streams, c, c.client(held));
      expect(streams.stats.bufferedBytes).toBeLessThanOrEqual(16 * 1024 * 1024);
    }
    expect(streams.stats.connections).toBeLessThanOrEqual(4096);
    expect(streams.stats.evicted + streams.stats.abandoned).toBeGreaterThan(0);
    expect(streams.stats.messages).toBe(0);
  });
});

// HTTP/1.x heads from TCP segments, case by case: keep-alive and pipelining, every way a body is delimited, the
// order and repetition a capture sees segments in, tunnels, resynchronisation, and the bounds on what is kept.
import { describe, expect, it } from 'vitest';
import { HttpConnections, type HttpMessageHead } from '../../../../src/observer/parser/seven/httpConnections.js';
import { TcpFlag } from '../../../../src/packet/protocols.js';
import { Conversation, encode, summary, type SegmentSpec, readerFor } from './conversation.js';

const every = (text: string, step: number) => Array.from({ length: Math.ceil(text.length / step) }, (_, i) => i * step);

interface Case {
  name: string;
  /** Builds the segments in the order the capture sees them. */
  segments: (c: Conversation) => SegmentSpec[];
  expected: string[];
  /** Stats to check afterwards. */
  stats?: Partial<HttpConnections['stats']>;
  options?: ConstructorParameters<typeof HttpConnections>[0];
}

const cases: Case[] = [
  {
    name: 'keep-alive: requests and responses in turn, content-length and chunked bodies',
    segments: (c) => [
      ...c.client('GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'),
      ...c.client('POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nabc'),
      ...c.server('HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'),
      ...c.client('GET /c HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'),
    ],
    expected: ['GET /a', '200 <- GET /a', 'POST /b', '201 <- POST /b', 'GET /c', '404 <- GET /c'],
    stats: { requests: 3, responses: 3, bodyBytes: 5 + 3 + 3, abandoned: 0, gaps: 0 },
  },
  {
    name: 'pipelining: three requests in one segment, three responses in one segment',
    segments: (c) => [
      ...c.client('GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nHEAD /3 HTTP/1.1\r\n\r\n'),
      ...c.server(
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' +
          'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n',
      ),
      ...c.client('GET /4 HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ],
    expected: [
      'GET /1',
      'GET /2',
      'HEAD /3',
      '200 <- GET /1',
      '200 <- GET /2',
      '200 <- HEAD /3',
      'GET /4',
      '200 <- GET /4',
    ],
  },
  {
    name: 'chunked body with extensions and trailers, one byte per segment',
    segments: (c) => {
      const body =
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n' +
        'a;name=value;q="x y"\r\n0123456789\r\n1F\r\n' +
        'x'.repeat(31) +
        '\r\n0;last\r\nExpires: never\r\nX-Checksum: 1\r\n\r\n';
      return [
        ...c.client('GET /chunks HTTP/1.1\r\n\r\n'),
        ...c.server(body, every(body, 1)),
        ...c.client('GET /after HTTP/1.1\r\n\r\n'),
        ...c.server('HTTP/1.1 204 No Content\r\n\r\n'),
      ];
    },
    expected: ['GET /chunks', '200 <- GET /chunks', 'GET /after', '204 <- GET /after'],
    stats: { bodyBytes: 41, abandoned: 0 },
  },
  {
    name: 'a content-length body over many segments, holding text that looks like HTTP messages',
    segments: (c) => {
      const inner = 'GET /not-a-request HTTP/1.1\r\nHost: x\r\n\r\nHTTP/1.1 500 Not A Response\r\n\r\n';
      const body = inner.repeat(20);
      const request = `POST /upload HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      const response = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      return [
        ...c.client(request, every(request, 37)),
        ...c.server(response, every(response, inner.length)),
        ...c.client('GET /next HTTP/1.1\r\n\r\n'),
        ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
      ];
    },
    expected: ['POST /upload', '200 <- POST /upload', 'GET /next', '200 <- GET /next'],
  },
  {
    name: 'HEAD, 204 and 304 responses have no body whatever their headers say',
    segments: (c) => [
      ...c.client('HEAD /h HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n'),
      ...c.client('DELETE /d HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n'),
      ...c.client('GET /cached HTTP/1.1\r\nIf-None-Match: "x"\r\n\r\n'),
      ...c.server('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n'),
      ...c.client('GET /z HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz'),
    ],
    expected: [
      'HEAD /h',
      '200 <- HEAD /h',
      'DELETE /d',
      '204 <- DELETE /d',
      'GET /cached',
      '304 <- GET /cached',
      'GET /z',
      '200 <- GET /z',
    ],
  },
  {
    name: '100-continue and 102: an interim response names its request untimed, the final one answers it',
    segments: (c) => [
      ...c.client('PUT /big HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n'),
      ...c.server('HTTP/1.1 100 Continue\r\n\r\n'),
      ...c.client('data'),
      ...c.server('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n'),
      ...c.client('GET /info HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ],
    expected: [
      'PUT /big',
      '100 <- PUT /big (untimed)',
      '201 <- PUT /big',
      'GET /info',
      '102 <- GET /info (untimed)',
      '103 <- GET /info (untimed)',
      '200 <- GET /info',
    ],
  },
  {
    name: 'HTTP/1.0: a body without length ends at FIN, which frees the connection',
    segments: (c) => [
      ...c.client('GET /old HTTP/1.0\r\n\r\n'),
      ...c.server('HTTP/1.0 200 OK\r\n\r\nHTTP/1.0 200 this is body text\r\n\r\n', [10, 30]),
      c.fin(false),
    ],
    expected: ['GET /old', '200 <- GET /old'],
    stats: { connections: 0, closed: 1 },
  },
  {
    name: 'CONNECT answered 200: the tunnel that follows is not read',
    segments: (c) => [
      ...c.client('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'),
      ...c.server('HTTP/1.1 200 Connection Established\r\n\r\n'),
      ...c.client('GET /inside HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\n\r\n'),
    ],
    expected: ['CONNECT example.com:443', '200 <- CONNECT example.com:443'],
    stats: { tunnels: 1, connections: 1 },
  },
  {
    name: 'CONNECT refused: the client side is read again',
    segments: (c) => [
      ...c.client('CONNECT example.com:443 HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n'),
      ...c.client('GET /again HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ],
    expected: ['CONNECT example.com:443', '407 <- CONNECT example.com:443', 'GET /again', '200 <- GET /again'],
  },
  {
    name: 'Upgrade to websocket: nothing after 101 is read, then FIN frees the connection',
    segments: (c) => [
      ...c.client('GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
      ...c.server('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'),
      ...c.client('\x81\x05GET / HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\n\r\n'),
      c.fin(true),
    ],
    expected: ['GET /ws', '101 <- GET /ws'],
    stats: { tunnels: 1, connections: 0 },
  },
  {
    name: 'retransmitted and overlapping segments yield each head once',
    segments: (c) => {
      const request = 'GET /once HTTP/1.1\r\nHost: h\r\n\r\n';
      const [a, b] = c.client(request, [10]);
      const [r] = c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      const whole: SegmentSpec = { ...a!, data: new Uint8Array([...a!.data, ...b!.data]) };
      return [a!, a!, b!, whole, b!, r!, r!, whole];
    },
    expected: ['GET /once', '200 <- GET /once'],
    stats: { gaps: 0 },
  },
  {
    name: 'out-of-order segments are put back in order',
    segments: (c) => {
      const [a, b, d] = c.client('GET /ooo HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n', [8, 25]);
      const [r1, r2] = c.server('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc', [5]);
      return [a!, d!, b!, r2!, r1!];
    },
    expected: ['GET /ooo', '200 <- GET /ooo'],
    stats: { outOfOrderSegments: 2, gaps: 0 },
  },
  {
    name: 'a capture starting mid-connection resyncs at the next message start',
    segments: (c) => {
      // The first request and half of its response were before the capture.
      c.client('GET /before HTTP/1.1\r\n\r\n');
      const response = 'HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789';
      const [, tail] = c.server(response, [response.length - 10]);
      return [
        tail!,
        ...c.client('GET /seen HTTP/1.1\r\n\r\n'),
        ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
      ];
    },
    expected: ['GET /seen', '200 <- GET /seen'],
  },
  {
    name: 'a capture starting between request and response reports the response without its request',
    segments: (c) => {
      c.client('GET /before HTTP/1.1\r\n\r\n');
      return [
        ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
        ...c.client('GET /next HTTP/1.1\r\n\r\n'),
        ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
      ];
    },
    expected: ['200', 'GET /next', '200 <- GET /next'],
  },
  {
    // Python's http.server answers such a request (curl sends it as given); NUL or a bare CR is no HTTP.
    name: 'a header value with an escape sequence or DEL is read; one with NUL is not HTTP',
    segments: (c) => [
      ...c.client('GET /b HTTP/1.1\r\nX-Evil: a\x1b[31mred\x7f\r\n\r\n'),
      ...c.server('HTTP/1.0 404 File not found\r\nContent-Length: 0\r\n\r\n'),
      ...c.client('GET /c HTTP/1.1\r\nX-Nul: a\x00b\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ],
    expected: ['GET /b', '404 <- GET /b', '200'],
    stats: { abandoned: 1 },
  },
  {
    name: 'bytes that stop parsing as HTTP abandon the connection; a later request tracks it again',
    segments: (c) => [
      ...c.client('GET /x HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
      ...c.client('\x16\x03\x01 not http at all\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
      ...c.client('GET /y HTTP/1.1\r\n\r\n'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ],
    // A status line starts tracking too: the response whose request was in the abandoned part is reported alone.
    expected: ['GET /x', '200 <- GET /x', '200', 'GET /y', '200 <- GET /y'],
    stats: { abandoned: 1, tracked: 2 },
  },
  {
    name: 'the answering side skips what precedes its first message start',
    segments: (c) => [
      ...c.client('GET /x HTTP/1.1\r\n\r\n'),
      ...c.server('tail of an earlier body'),
      ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ],
    expected: ['GET /x', '200 <- GET /x'],
    stats: { resyncSkippedBytes: 23 },
  },
  {
    name: 'a head larger than maxHeadBytes abandons the connection',
    options: { maxHeadBytes: 1024 },
    segments: (c) => {
      const request = `GET /big HTTP/1.1\r\nCookie: ${'c'.repeat(2000)}\r\n\r\n`;
      return c.client(request, every(request, 500));
    },
    expected: [],
    stats: { abandoned: 1, headsTooLarge: 1, connections: 0, bufferedBytes: 0 },
  },
  {
    name: 'malformed heads are not reported',
    segments: (c) => [...c.client('GET /x HTTP/2.0\r\n\r\n')],
    expected: [],
    stats: { abandoned: 1, requests: 0 },
  },
  {
    name: 'RST frees the connection',
    segments: (c) => [...c.client('GET /r HTTP/1.1\r\n\r\n'), c.rst(false)],
    expected: ['GET /r'],
    stats: { connections: 0, closed: 1 },
  },
  {
    name: 'FIN from the client while a response is awaited keeps the connection until the response',
    segments: (c) => [
      ...c.client('GET /half HTTP/1.0\r\n\r\n'),
      c.fin(true),
      ...c.server('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    ],
    expected: ['GET /half', '200 <- GET /half'],
    stats: { connections: 0, closed: 1 },
  },
  {
    name: 'sequence numbers wrapping past 2^32',
    segments: (c) => {
      const request = 'POST /wrap HTTP/1.1\r\nContent-Length: 40\r\n\r\n' + 'b'.repeat(40);
      const [a, b, d] = c.client(request, [30, 60]);
      return [a!, d!, b!, ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')];
    },
    expected: ['POST /wrap', '200 <- POST /wrap'],
  },
  {
    name: 'a port allow-list ignores connections on other ports',
    options: { ports: [8080] },
    segments: (c) => [...c.client('GET /x HTTP/1.1\r\n\r\n')],
    expected: [],
    stats: { tracked: 0 },
  },
  {
    name: 'a lost segment inside a content-length body is skipped without losing track',
    options: { maxOutOfOrderBytesPerConnection: 100 },
    segments: (c) => {
      const requests = c.client('GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n');
      const head = 'HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n';
      const cuts = [0, 22, 60, 100, 140, 180, 220, 260].map((n) => head.length + n);
      const [first, , ...rest] = c.server(head + 'x'.repeat(300), cuts);
      return [...requests, first!, ...rest, ...c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')];
    },
    expected: ['GET /a', 'GET /b', '200 <- GET /a', '200 <- GET /b'],
    stats: { gaps: 1, gapBytes: 22 },
  },
  {
    name: 'a lost request the server acknowledged is given up 10 ms later: the next request is read before the connection ends',
    segments: (c) => {
      const first = c.client('GET /a HTTP/1.1\r\n\r\n');
      const answer = c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      c.client('GET /b HTTP/1.1\r\n\r\n'); // sent, never captured
      const third = c.client('GET /c HTTP/1.1\r\n\r\n');
      // The server acknowledges all three requests: /b was received, so no retransmission will come; /c waits until
      // a capture's reordering could no longer bring /b (a later segment, 10 ms on).
      const toB = c.server('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
      const soon = c.server('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n');
      const later = c.server('HTTP/1.1 203 Later\r\nContent-Length: 0\r\n\r\n');
      later[0]!.pauseNs = 10_000_000;
      return [...first, ...answer, ...third, ...toB, ...soon, ...later];
    },
    expected: ['GET /a', '200 <- GET /a', '201', '202', 'GET /c', '203'],
    stats: { gaps: 1, outOfOrderSegments: 1, bufferedBytes: 0 },
  },
  {
    name: 'a lost segment across heads resyncs and stops pairing',
    options: { maxOutOfOrderBytesPerConnection: 30 },
    segments: (c) => {
      const requests = c.client('GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n');
      const a = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
      const b = 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n';
      const d = 'HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n';
      const [first, , third] = c.server(a + b + d, [a.length - 5, a.length + b.length]);
      return [...requests, first!, third!, c.fin(true), c.fin(false)];
    },
    expected: ['GET /a', 'GET /b', 'GET /c', '202'],
    stats: { gaps: 1, connections: 0 },
  },
];

describe('HttpConnections', () => {
  for (const c of cases) {
    it(c.name, () => {
      const wrap = c.name.includes('wrapping');
      const conversation = wrap ? new Conversation(undefined, 2 ** 32 - 45, 2 ** 32 - 3) : new Conversation();
      const http = new HttpConnections(c.options);
      const heads = conversation.feed(http, c.segments(conversation));
      expect(heads.map(summary)).toEqual(c.expected);
      if (c.stats) expect(http.stats).toMatchObject(c.stats);
      expect(http.stats.internalErrors).toBe(0);
    });
  }

  it('reports heads with their fields, the time of the segment completing them, and their direction', () => {
    const c = new Conversation();
    const http = new HttpConnections();
    const specs = [
      ...c.client('GET /path?q=1 HTTP/1.1\r\nHost:  example.com \r\nX-Folded: a\r\n  b\r\nAccept: */*\r\n\r\n', [20]),
      ...c.server('HTTP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n'),
    ];
    const times: number[] = [];
    const heads: HttpMessageHead[] = [];
    const s = c.toSegment(specs[0]!);
    for (const spec of specs) {
      c.toSegment(spec, s);
      times.push(s.timeNs);
      heads.push(...readerFor(http).read(http.segment(s)));
    }
    const [request, response] = heads;
    expect(request).toEqual({
      kind: 'request',
      method: 'GET',
      target: '/path?q=1',
      protocol: 'HTTP/1.1',
      headers: [
        { name: 'Host', value: 'example.com' },
        { name: 'X-Folded', value: 'a b' },
        { name: 'Accept', value: '*/*' },
      ],
      host: 'example.com',
      timeNs: times[1],
      fromFirst: true,
    });
    expect(response).toEqual({
      kind: 'response',
      code: 503,
      protocol: 'HTTP/1.0',
      headers: [
        { name: 'Retry-After', value: '5' },
        { name: 'Content-Length', value: '0' },
      ],
      request,
      timeNs: times[2],
      fromFirst: false,
    });
  });

  it('skips a 1 GB declared body by counting and reads the request after it', () => {
    const c = new Conversation();
    const http = new HttpConnections();
    const GB = 2 ** 30;
    const heads = c.feed(http, c.client(`PUT /huge HTTP/1.1\r\nContent-Length: ${GB}\r\n\r\n`));
    const headLength = c.sent(true);
    // 16,384 segments of 64 KiB, all one buffer: the body is never held.
    const chunk = new Uint8Array(65536).fill(0x47);
    const s = c.toSegment({ fromClient: true, offset: headLength, data: chunk, flags: TcpFlag.ACK, acknowledges: 0 });
    for (let sent = 0; sent < GB; sent += chunk.length) {
      s.sequence = (c.clientIsn + headLength + sent) >>> 0;
      s.bytes = chunk;
      s.payloadStart = 0;
      s.payloadEnd = chunk.length;
      heads.push(...readerFor(http).read(http.segment(s)));
    }
    // Nothing of the body is held: only the request's head, kept for its response.
    expect(http.stats.bufferedBytes).toBeLessThanOrEqual(256);
    const after = c.toSegment({
      fromClient: true,
      offset: headLength + GB,
      data: encode('GET /after HTTP/1.1\r\n\r\n'),
      flags: TcpFlag.ACK,
      acknowledges: 0,
    });
    heads.push(...readerFor(http).read(http.segment(after)));
    expect(heads.map(summary)).toEqual(['PUT /huge', 'GET /after']);
    expect(http.stats.bodyBytes).toBe(GB);
  });

  it('evicts the least recently used connection at maxConnections', () => {
    const http = new HttpConnections({ maxConnections: 2 });
    const a = new Conversation('a');
    const b = new Conversation('b');
    const d = new Conversation('d');
    a.feed(http, a.client('GET /a HTTP/1.1\r\n\r\n'));
    b.feed(http, b.client('GET /b HTTP/1.1\r\n\r\n'));
    expect(summaries(a.feed(http, a.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')))).toEqual([
      '200 <- GET /a',
    ]);
    d.feed(http, d.client('GET /d HTTP/1.1\r\n\r\n')); // b is the least recently used
    expect(http.stats).toMatchObject({ connections: 2, evicted: 1 });
    expect(summaries(b.feed(http, b.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')))).toEqual(['200']);
  });

  it('ignores segments that do not start like HTTP on untracked connections', () => {
    const http = new HttpConnections();
    const c = new Conversation();
    const heads = c.feed(http, [
      ...c.client('T / HTTP/1.1\r\n\r\n'),
      ...c.client('\x16\x03\x01\x02\x00'),
      ...c.client('GX'),
      { ...c.client('GET / HTTP/1.1\r\n\r\n')[0]!, flags: TcpFlag.RST },
    ]);
    expect(heads).toEqual([]);
    expect(http.stats.tracked).toBe(0);
  });

  it('a connection whose first bytes only begin a request line is tracked tentatively', () => {
    const http = new HttpConnections();
    // Written a few bytes at a time from the connection's first byte: the request and its answer, as tshark reads them.
    const a = new Conversation('10.0.0.1:40001 10.0.0.2:80');
    const request = 'GET /a/split?q=1 HTTP/1.1\r\nHost: s\r\n\r\n';
    expect(
      summaries(
        a.feed(http, [...a.client(request, [2, 17]), ...a.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')]),
      ),
    ).toEqual(['GET /a/split?q=1', '200 <- GET /a/split?q=1']);
    const b = new Conversation('10.0.0.1:40002 10.0.0.2:80');
    expect(summaries(b.feed(http, b.client('POST /p HTTP/1.1\r\nContent-Length: 0\r\n\r\n', [1, 2, 3, 4])))).toEqual([
      'POST /p',
    ]);
    // Bytes that begin like a method and then are not HTTP: nothing reported, the start given up.
    const c = new Conversation('10.0.0.1:40003 10.0.0.2:80');
    expect(c.feed(http, [...c.client('G'), ...c.client('ARBAGE\r\n\r\nGARBAGE\r\n\r\n')])).toEqual([]);
    expect(http.stats).toMatchObject({ tracked: 3, requests: 2, responses: 1, internalErrors: 0 });
  });
});

function summaries(heads: HttpMessageHead[]): string[] {
  return heads.map(summary);
}

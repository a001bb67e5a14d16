// HttpConnections against input meant to hurt it: a million connections, random segments on few connections (random
// flags, sequence numbers, payloads that start like HTTP and then are garbage), and its memory afterwards.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpConnections, HTTP_CONNECTIONS_DEFAULTS } from '../../../../src/observer/parser/seven/httpConnections.js';
import { TcpFlag } from '../../../../src/packet/protocols.js';
import { emptySegment, encode } from './conversation.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** JavaScript heap and ArrayBuffer memory (the head buffers live outside the heap) after a full collection. */
function memoryAfterGc(): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

describe('HttpConnections under hostile input', () => {
  it('keeps at most maxConnections and a bounded heap through a million connections', () => {
    const http = new HttpConnections();
    const s = emptySegment();
    // Each connection's request is a head split over two segments, so each one holds a head buffer until evicted.
    const first = encode('GET /flood HTTP/1.1\r\nHost: victim\r\n');
    s.flags = TcpFlag.ACK | TcpFlag.PSH;
    s.bytes = first;
    s.payloadStart = 0;
    s.payloadEnd = first.length;
    s.destinationPort = 80;
    s.sourcePort = 40000;
    s.fromFirst = true;
    const before = memoryAfterGc();
    let peak = 0;
    for (let i = 0; i < 1_000_000; i++) {
      s.connectionKey = `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}:40000 10.0.0.2:80`;
      s.sequence = i;
      s.timeNs = i;
      http.segment(s);
      if (http.stats.connections > peak) peak = http.stats.connections;
      if (i === 100_000) {
        // once full, the table stays the size it has
        expect(http.stats.connections).toBe(HTTP_CONNECTIONS_DEFAULTS.maxConnections);
      }
    }
    const grown = memoryAfterGc() - before;
    console.log(
      `1,000,000 connections: ${http.stats.connections} tracked at the end, ${http.stats.evicted} evicted, ` +
        `heap and buffers +${(grown / 2 ** 20).toFixed(1)} MiB, of which ${(http.stats.bufferedBytes / 2 ** 20).toFixed(1)} MiB head buffers`,
    );
    expect(peak).toBeLessThanOrEqual(HTTP_CONNECTIONS_DEFAULTS.maxConnections);
    expect(http.stats.evicted).toBe(1_000_000 - HTTP_CONNECTIONS_DEFAULTS.maxConnections);
    expect(http.stats.bufferedBytes).toBe(HTTP_CONNECTIONS_DEFAULTS.maxConnections * 1024);
    // 16,384 connections with a 1 KiB head buffer each, their keys and state: tens of MiB, not hundreds.
    expect(grown).toBeLessThan(64 * 2 ** 20);
  });

  it('holds at most maxBufferedBytes of out-of-order data over all connections, giving up holes to stay there', () => {
    const http = new HttpConnections({ maxBufferedBytes: 10_000 });
    // Ten segments each beyond a hole: each connection would hold 10,000 bytes on its own.
    uploadsWithHoles(http, 100, new Uint8Array(1000), 10, 1000, () =>
      expect(http.stats.bufferedBytes).toBeLessThanOrEqual(10_000),
    );
    expect(http.stats.gaps).toBeGreaterThan(0);
    expect(http.stats).toMatchObject({ connections: 100, abandoned: 0, internalErrors: 0 });
  });

  it('counts what each held segment costs, so a flood of one-byte segments beyond holes stays bounded in memory', () => {
    const http = new HttpConnections();
    const before = memoryAfterGc();
    // 4,096 connections, each holding 256 one-byte segments, one byte apart: a million segments of one byte each.
    uploadsWithHoles(http, 4096, Uint8Array.of(0x78), 256, 2);
    const grown = memoryAfterGc() - before;
    console.log(
      `1,048,576 one-byte segments beyond holes: ${(http.stats.bufferedBytes / 2 ** 20).toFixed(1)} MiB counted, ` +
        `heap and buffers +${(grown / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(http.stats.bufferedBytes).toBeLessThanOrEqual(HTTP_CONNECTIONS_DEFAULTS.maxBufferedBytes);
    // What is counted is what is held: within the 64 MiB bound and the connections' own state, not 4 × more.
    expect(grown).toBeLessThan(HTTP_CONNECTIONS_DEFAULTS.maxBufferedBytes + 32 * 2 ** 20);
    expect(http.stats.internalErrors).toBe(0);
  });

  it('never throws, and keeps its counts consistent, on random segments', () => {
    const starts = [
      'GET ',
      'POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n',
      'HTTP/1.1 200 OK\r\n',
      'HTTP/1.0 ',
      'CONNECT ',
    ];
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .tuple(fc.constantFrom(...starts), fc.uint8Array({ maxLength: 200 }))
        .map(([text, rest]) => new Uint8Array([...encode(text), ...rest])),
      fc
        .array(
          fc.constantFrom(
            '\r\n',
            '0\r\n',
            'a;b\r\n',
            'Transfer-Encoding: chunked\r\n',
            'Content-Length: 99999999999\r\n',
            'x',
          ),
          {
            maxLength: 20,
          },
        )
        .map((parts) => encode(parts.join(''))),
    );
    const segment = fc.record({
      key: fc.integer({ min: 0, max: 3 }),
      fromFirst: fc.boolean(),
      sequence: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2000 })),
      acknowledgement: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      flags: fc.integer({ min: 0, max: 0x1ff }),
      payload: payload,
      // offsets as a broken caller might pass them
      startShift: fc.constantFrom(0, 0, 0, -5, 3, 1000),
      endShift: fc.constantFrom(0, 0, 0, 7, -2, -1000),
    });
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 60 }), fc.constantFrom(64, 1024), (segments, limit) => {
        const http = new HttpConnections({
          maxConnections: 2,
          maxHeadBytes: limit,
          maxOutOfOrderBytesPerConnection: limit,
        });
        const s = emptySegment();
        for (const g of segments) {
          s.connectionKey = `k${g.key}`;
          s.fromFirst = g.fromFirst;
          s.sequence = g.sequence;
          s.acknowledgement = g.acknowledgement;
          s.flags = g.flags;
          s.bytes = g.payload;
          s.payloadStart = g.startShift;
          s.payloadEnd = g.payload.length + g.endShift;
          s.destinationPort = 80;
          s.sourcePort = 1234;
          const heads = http.segment(s);
          for (const h of heads) expect(h.kind === 'request' || h.kind === 'response').toBe(true);
          expect(http.stats.connections).toBeLessThanOrEqual(2);
          expect(http.stats.bufferedBytes).toBeGreaterThanOrEqual(0);
          expect(http.stats.bufferedBytes).toBeLessThanOrEqual(2 * (2 * limit + 300) + 2 * Math.max(limit, 1024));
        }
        expect(http.stats.internalErrors).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });
});

/**
 * Opens `connections` connections to port 80, each with a POST declaring a 100,000-byte body, then sends on each
 * `count` copies of `piece`, `spacing` bytes apart (more than the piece: each lies beyond a hole), calling `after`
 * after every one.
 */
function uploadsWithHoles(
  http: HttpConnections,
  connections: number,
  piece: Uint8Array,
  count: number,
  spacing: number,
  after: () => void = () => undefined,
): void {
  const s = emptySegment();
  const request = encode('POST /x HTTP/1.1\r\nContent-Length: 100000\r\n\r\n');
  s.flags = TcpFlag.ACK;
  s.destinationPort = 80;
  s.fromFirst = true;
  for (let i = 0; i < connections; i++) {
    s.connectionKey = `c${i}`;
    s.sequence = 0;
    s.bytes = request;
    s.payloadStart = 0;
    s.payloadEnd = request.length;
    http.segment(s);
    s.bytes = piece;
    s.payloadEnd = piece.length;
    for (let k = 1; k <= count; k++) {
      s.sequence = request.length + k * spacing;
      http.segment(s);
      after();
    }
  }
}

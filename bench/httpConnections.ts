// HttpConnections per segment, in the situations that matter: segments of connections that are not HTTP (the common
// case: one Map lookup and a few byte compares), a keep-alive connection carrying pipelined requests and responses
// (reassembly, head parsing, body skipping), keep-alive connections taking turns with one head per segment (what a
// load generator's traffic is), and a flood of new connections (tracking and LRU eviction).
//
// Usage: node --import tsx bench/httpConnections.ts [SEGMENTS]   (prints human lines; best of three runs each)
import { HttpConnections } from '../src/observer/parser/seven/httpConnections.js';
import type { TcpSegment } from '../src/observer/parser/seven/tcpReassembly.js';
import { TcpFlag } from '../src/packet/protocols.js';

const SEGMENTS = Number(process.argv[2] ?? 2_000_000);
const log = (line: string) => process.stdout.write(line + '\n');
const encode = (text: string) => Uint8Array.from(Buffer.from(text, 'latin1'));

function segment(): TcpSegment {
  return {
    connectionKey: '',
    fromFirst: true,
    sequence: 0,
    acknowledgement: 0,
    flags: TcpFlag.ACK | TcpFlag.PSH,
    bytes: new Uint8Array(),
    payloadStart: 0,
    payloadEnd: 0,
    timeNs: 0,
    destinationPort: 80,
    sourcePort: 40000,
  };
}

/** Best of three runs of `count` segments (after a warm-up): the machine's other load only ever adds time. */
function measure(name: string, count: number, run: (n: number) => void): void {
  run(Math.min(count, 100_000));
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = process.hrtime.bigint();
    run(count);
    best = Math.min(best, Number(process.hrtime.bigint() - start));
  }
  log(`${name}: ${(best / count).toFixed(0)} ns per segment (best of 3 x ${count.toLocaleString('en')} segments)`);
}

// Untracked: TLS-looking payloads on 1,000 connections.
{
  const http = new HttpConnections();
  const s = segment();
  const frame = new Uint8Array(1500);
  frame.set([0x17, 0x03, 0x03], 66);
  s.bytes = frame;
  s.payloadStart = 66;
  s.payloadEnd = frame.length;
  const keys = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}:443 10.1.0.1:50000`);
  measure('untracked segment', SEGMENTS, (n) => {
    for (let i = 0; i < n; i++) {
      s.connectionKey = keys[i % 1000]!;
      http.segment(s);
    }
  });
}

// Keep-alive, pipelined: each client segment holds 4 requests, each server segment 4 responses with small bodies.
{
  const requests = encode(
    'GET /api/v1/items?page=2 HTTP/1.1\r\nHost: service.local\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n'.repeat(4),
  );
  const body = 'x'.repeat(200);
  const responses = encode(
    `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`.repeat(4),
  );
  const http = new HttpConnections();
  const s = segment();
  s.connectionKey = '10.0.0.1:40000 10.0.0.2:80';
  let clientSeq = 1000;
  let serverSeq = 5000;
  let heads = 0;
  measure('keep-alive pipelined segment (4 heads each)', SEGMENTS, (n) => {
    for (let i = 0; i < n; i++) {
      const client = (i & 1) === 0;
      s.fromFirst = client;
      s.bytes = client ? requests : responses;
      s.payloadStart = 0;
      s.payloadEnd = s.bytes.length;
      s.sequence = client ? clientSeq : serverSeq;
      s.acknowledgement = client ? serverSeq : clientSeq;
      if (client) clientSeq = (clientSeq + requests.length) >>> 0;
      else serverSeq = (serverSeq + responses.length) >>> 0;
      heads += http.segment(s).length;
    }
  });
  if (http.stats.abandoned !== 0 || http.stats.gaps !== 0)
    throw new Error(`bench stream misread: ${JSON.stringify(http.stats)}`);
  log(`  (${heads.toLocaleString('en')} heads over all runs)`);
}

// Keep-alive, one head per segment, as wrk drives a server (the benchmark's load capture): 200 connections in turn,
// each a request segment then a response segment with its small body.
{
  const request = encode('GET /api/items HTTP/1.1\r\nHost: 127.0.0.1:39903\r\n\r\n');
  const body = 'x'.repeat(52);
  const response = encode(
    'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 52\r\n' +
      `Date: Sun, 06 Dec 2026 18:16:27 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\n${body}`,
  );
  const connections = 200;
  const http = new HttpConnections();
  const s = segment();
  const keys = Array.from({ length: connections }, (_, i) => `127.0.0.1 ${40000 + i} 127.0.0.1 39903`);
  const clientSeq = new Uint32Array(connections).fill(1000);
  const serverSeq = new Uint32Array(connections).fill(5000);
  let heads = 0;
  measure('keep-alive segment (1 head each, 200 connections)', SEGMENTS, (n) => {
    for (let i = 0; i < n; i++) {
      const c = (i >> 1) % connections;
      const client = (i & 1) === 0;
      s.connectionKey = keys[c]!;
      s.fromFirst = client;
      s.bytes = client ? request : response;
      s.payloadStart = 0;
      s.payloadEnd = s.bytes.length;
      s.sequence = client ? clientSeq[c]! : serverSeq[c]!;
      s.acknowledgement = client ? serverSeq[c]! : clientSeq[c]!;
      if (client) clientSeq[c] = clientSeq[c]! + request.length;
      else serverSeq[c] = serverSeq[c]! + response.length;
      heads += http.segment(s).length;
    }
  });
  if (http.stats.abandoned !== 0 || http.stats.gaps !== 0)
    throw new Error(`bench stream misread: ${JSON.stringify(http.stats)}`);
  log(`  (${heads.toLocaleString('en')} heads over all runs)`);
}

// A flood of new connections, each one request segment; the table is full after 16,384 and evicts from then on.
{
  const http = new HttpConnections();
  const s = segment();
  const request = encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  s.bytes = request;
  s.payloadEnd = request.length;
  const keys = Array.from(
    { length: 1 << 20 },
    (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:40000 10.0.0.2:80`,
  );
  let next = 0;
  measure('new connection (tracked, then evicted)', Math.min(SEGMENTS, 1_000_000), (n) => {
    for (let i = 0; i < n; i++) {
      s.connectionKey = keys[next++ & ((1 << 20) - 1)]!;
      http.segment(s);
    }
  });
}

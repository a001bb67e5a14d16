// Real HTTP/1.1 traffic: a Node http server on loopback, curl making keep-alive requests (content-length, chunked,
// HEAD, a POST body, a large body over many segments), captured by tcpdump; the heads HttpConnections reads from the
// capture are the ones tshark reads from the same file, in the same order, each response with its request.
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HttpConnections, type HttpMessageHead } from '../../../../src/observer/parser/seven/httpConnections.js';
import { decodeFrame, Layer, LinkType, PacketHeaders } from '../../../../src/packet/frame.js';
import { formatIPv4 } from '../../../../src/packet/ipAddress.js';
import { captureWhile } from '../../../harness/capture.js';
import { readPcap } from '../../../harness/pcapFiles.js';
import { tsharkFields } from '../../../harness/tshark.js';
import { emptySegment, readerFor } from './conversation.js';

const run = promisify(execFile);

describe('HttpConnections on a real capture', () => {
  it('reads the heads tshark reads from curl talking to a Node server over keep-alive connections', async () => {
    const big = 'b'.repeat(300_000);
    const server = createServer((req, res) => {
      let received = 0;
      req.on('data', (d: Buffer) => (received += d.length));
      req.on('end', () => {
        if (req.url === '/chunked') {
          res.write('first part ');
          setTimeout(() => res.end('second part'), 5);
        } else if (req.url === '/big') {
          res.setHeader('Content-Length', big.length);
          res.end(big);
        } else if (req.url === '/missing') {
          res.statusCode = 404;
          res.end('no');
        } else {
          res.setHeader('Content-Length', 5 + String(received).length);
          res.end(`hello${received}`);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const url = (path: string) => `http://127.0.0.1:${port}${path}`;
    let path: string;
    try {
      path = await captureWhile(`tcp port ${port}`, async () => {
        // One connection, reused for every URL (curl's keep-alive); -o per URL discards the bodies.
        const urls = ['/a', '/chunked', '/big', '/missing', '/b?q=1'];
        await run('curl', ['-s', '--http1.1', ...urls.flatMap((u) => ['-o', '/dev/null', url(u)])]);
        await run('curl', ['-s', '--http1.1', '-o', '/dev/null', '-d', 'x'.repeat(5000), url('/post')]);
        await run('curl', ['-s', '--http1.1', '-I', '-o', '/dev/null', url('/head')]);
      });
    } finally {
      await new Promise((r) => server.close(r));
    }

    const capture = readPcap(path);
    expect(capture.linkType).toBe(1);
    const http = new HttpConnections({ ports: [port] });
    const headers = new PacketHeaders();
    const s = emptySegment();
    const ours: { frame: number; message: string }[] = [];
    const heads: HttpMessageHead[] = [];
    capture.records.forEach((r, i) => {
      decodeFrame(headers, r.data, LinkType.ETHERNET);
      if ((headers.layers & Layer.TCP) === 0 || headers.ipVersion !== 4) return;
      const source = `${formatIPv4(r.data, headers.sourceAddressOffset)}:${headers.sourcePort}`;
      const destination = `${formatIPv4(r.data, headers.destinationAddressOffset)}:${headers.destinationPort}`;
      const view = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
      s.fromFirst = source < destination;
      s.connectionKey = s.fromFirst ? `${source} ${destination}` : `${destination} ${source}`;
      s.sequence = view.getUint32(headers.transportOffset + 4);
      s.acknowledgement = view.getUint32(headers.transportOffset + 8);
      s.flags = headers.tcpFlags;
      s.bytes = r.data;
      s.payloadStart = headers.payloadOffset;
      s.payloadEnd = headers.payloadEnd;
      s.timeNs = r.seconds * 1e9 + r.fraction * (capture.nanosecond ? 1 : 1000);
      s.sourcePort = headers.sourcePort;
      s.destinationPort = headers.destinationPort;
      for (const h of readerFor(http).read(http.segment(s))) {
        heads.push(h);
        ours.push({ frame: i + 1, message: h.kind === 'request' ? `${h.method} ${h.target}` : `${h.code}` });
      }
    });

    // tshark reports each message in the frame that completes it, body included; we report it when its head is
    // complete: the same messages in the same order, each of ours no later than tshark's.
    const rows = await tsharkFields(path, [
      'frame.number',
      'http.request.method',
      'http.request.uri',
      'http.response.code',
      'http.response_for.uri',
    ]);
    const theirs = rows
      .filter(([, method, , code]) => method !== '' || code !== '')
      .map(([frame, method, uri, code]) => ({
        frame: Number(frame),
        message: method !== '' ? `${method} ${uri}` : code!,
      }));
    expect(theirs.length).toBe(14);
    expect(ours.map((o) => o.message)).toEqual(theirs.map((t) => t.message));
    ours.forEach((o, i) => expect(o.frame).toBeLessThanOrEqual(theirs[i]!.frame));
    // Messages without a body, or whose body came in the frame of their head, are reported in the same frame.
    expect(ours.filter((o, i) => o.frame === theirs[i]!.frame).length).toBeGreaterThanOrEqual(10);

    // Each response names the request tshark pairs it with.
    const responseFor = rows
      .filter(([, , , code]) => code !== '')
      .map((r) => new URL(r[4]!).pathname + new URL(r[4]!).search);
    const pairedWith = heads.flatMap((h) => (h.kind === 'response' ? [h.request?.target] : []));
    expect(pairedWith).toEqual(responseFor);
    expect(http.stats).toMatchObject({ gaps: 0, abandoned: 0, internalErrors: 0, connections: 0, bufferedBytes: 0 });
    expect(http.stats.bodyBytes).toBeGreaterThanOrEqual(300_000 + 5000);
  });
});

// Ingest checks HTTP heads with scanHead (bytes only, no strings) and readers decode them later with parseHead: the
// two must agree on every head, or a flow could be counted at ingest and vanish (or change framing) when read.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BodyFraming,
  HEAD_INCOMPLETE,
  HeadFacts,
  MethodKind,
  parseHead,
  scanHead,
  scanHeadIn,
} from '../../../../src/observer/parser/seven/httpHead.js';

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

function both(kind: 'request' | 'response', head: Uint8Array) {
  const parsedFraming = new BodyFraming();
  const parsed = parseHead(kind, head, 0, head.length, 0, false, parsedFraming);
  const scannedFraming = new BodyFraming();
  const facts = new HeadFacts();
  const scanned = scanHead(kind, head, 0, head.length, scannedFraming, facts);
  return { parsed, parsedFraming, scanned, scannedFraming, facts };
}

function expectAgreement(kind: 'request' | 'response', head: Uint8Array): void {
  const { parsed, parsedFraming, scanned, scannedFraming, facts } = both(kind, head);
  expect(scanned).toBe(parsed !== undefined);
  if (parsed === undefined) return;
  expect({ ...scannedFraming }).toEqual({ ...parsedFraming });
  if (parsed.kind === 'request') {
    const method =
      parsed.method === 'HEAD' ? MethodKind.HEAD : parsed.method === 'CONNECT' ? MethodKind.CONNECT : MethodKind.OTHER;
    expect(facts.method).toBe(method);
  } else {
    expect(facts.code).toBe(parsed.code);
  }
}

const requests = [
  'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
  'HEAD /x HTTP/1.0\r\n\r\n',
  'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n',
  'POST /f HTTP/1.1\r\nContent-Length: 12\r\n\r\n',
  'POST /f HTTP/1.1\r\ncontent-length: 5, 5\r\n\r\n',
  'POST /f HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n',
  'POST /f HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n',
  'POST /f HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
  'POST /f HTTP/1.1\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n',
  'GET / HTTP/1.1\nX: a\n folded\n\n',
  'GET / HTTP/1.1\r\n folded-first\r\n\r\n',
  'GET  / HTTP/1.1\r\n\r\n',
  'GET / HTTP/2.0\r\n\r\n',
  'GET / HTTP/1.1\r\nBad Header: x\r\n\r\n',
];
const responses = [
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n',
  'HTTP/1.1 204\r\n\r\n',
  'HTTP/1.0 404 Not Found\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
  'HTTP/1.1 099 Low\r\n\r\n',
  'HTTP/1.1 2x0 OK\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 2\r\n\r\n',
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
];

describe('scanHead agrees with parseHead', () => {
  it.each(requests)('request %j', (text) => expectAgreement('request', bytes(text)));
  it.each(responses)('response %j', (text) => expectAgreement('response', bytes(text)));

  it('on heads with random damage (fast-check)', () => {
    const alphabet = fc.constantFrom(
      ...'\r\n :,\t\x00\x7f\xa0GETPOSTHEADCONNECTHTP/1.0chunkedContent-LengthTransfer-Encoding0123456789abc',
    );
    fc.assert(
      fc.property(
        fc.constantFrom(
          ...requests.map((t) => ['request', t] as const),
          ...responses.map((t) => ['response', t] as const),
        ),
        fc.array(fc.tuple(fc.nat(), alphabet, fc.boolean()), { maxLength: 6 }),
        ([kind, text], edits) => {
          let s = text.slice(0, -2);
          for (const [at, ch, insert] of edits) {
            const i = at % (s.length + 1);
            s = insert ? s.slice(0, i) + ch + s.slice(i) : s.slice(0, i) + ch + s.slice(i + 1);
          }
          expectAgreement(kind, bytes(`${s}\r\n`));
          expectAgreement(kind, bytes(`${s}\r\n\r\n`));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('finds where a head ends in a stream as a line walk does, and judges it as scanHead does (fast-check)', () => {
    // Where a head ends: just past the first empty (or lone CR) line after the start line.
    const walkedEnd = (b: Uint8Array, limit: number): number => {
      let lineStart = 0;
      for (let line = 0; ; line++) {
        const lf = b.indexOf(0x0a, lineStart);
        if (lf < 0 || lf >= limit) return HEAD_INCOMPLETE;
        if (line > 0 && (lf === lineStart || (lf === lineStart + 1 && b[lineStart] === 0x0d))) return lf + 1;
        lineStart = lf + 1;
      }
    };
    const alphabet = fc.constantFrom(...'\r\n :,\t\x00\x7fGETHTP/1.chunkedContent-LengthTransfer-Encoding05');
    fc.assert(
      fc.property(
        fc.constantFrom(
          ...requests.map((t) => ['request', t] as const),
          ...responses.map((t) => ['response', t] as const),
        ),
        fc.array(fc.tuple(fc.nat(), alphabet, fc.boolean()), { maxLength: 6 }),
        fc.nat(),
        ([kind, text], edits, cut) => {
          let s = text;
          for (const [at, ch, insert] of edits) {
            const i = at % (s.length + 1);
            s = insert ? s.slice(0, i) + ch + s.slice(i) : s.slice(0, i) + ch + s.slice(i + 1);
          }
          const stream = bytes(`${s}${text}`); // another message may follow the head
          const limit = cut % (stream.length + 1);
          const facts = new HeadFacts();
          const framing = new BodyFraming();
          const end = scanHeadIn(kind, stream, 0, limit, framing, facts);
          expect(end).toBe(walkedEnd(stream, limit));
          if (end === HEAD_INCOMPLETE) return;
          const { scanned, scannedFraming, facts: scannedFacts } = both(kind, stream.subarray(0, end));
          expect(facts.wellFormed).toBe(scanned);
          if (!scanned) return;
          expect({ ...framing }).toEqual({ ...scannedFraming });
          expect({ ...facts }).toEqual({ ...scannedFacts });
        },
      ),
      { numRuns: 20_000 },
    );
  });
});

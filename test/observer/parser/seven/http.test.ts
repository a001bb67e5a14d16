// HTTP heads as Hubble's l7.http records: Go's canonical header keys, the URL forms, and Hubble's redaction.
import { describe, expect, it } from 'vitest';
import { canonicalHeaderKey, httpRecord } from '../../../../src/observer/parser/seven/http.js';
import { BodyFraming, parseHead, type HttpRequestHead } from '../../../../src/observer/parser/seven/httpHead.js';

const head = (text: string, kind: 'request' | 'response' = 'request') => {
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  return parseHead(kind, bytes, 0, bytes.length, 0, true, new BodyFraming())!;
};

describe('HTTP L7 records', () => {
  it.each([
    ['content-type', 'Content-Type'],
    ['X-REQUEST-ID', 'X-Request-Id'],
    ['www-authenticate', 'Www-Authenticate'],
    ['host', 'Host'],
    ['x_y', 'X_y'],
    ['bad key', 'bad key'],
  ])('canonical key of %s is %s (as Go writes it)', (key, canonical) =>
    expect(canonicalHeaderKey(key)).toBe(canonical),
  );

  it.each([
    ['GET /a?b=1 HTTP/1.1\r\nHost: shop.test:8080\r\n\r\n', 'http://shop.test:8080/a?b=1'],
    ['GET /a HTTP/1.0\r\n\r\n', 'http://10.0.0.2:80/a'],
    [
      'GET http://user:pw@proxy.test/x HTTP/1.1\r\nHost: proxy.test\r\n\r\n',
      'http://user:HUBBLE_REDACTED@proxy.test/x',
    ],
    ['OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n', 'http://h/'],
  ])('the URL of %j is %s', (text, url) => {
    expect(httpRecord(head(text), undefined, 0, '10.0.0.2:80', { keepSecrets: false }).http.url).toBe(url);
  });

  it('redacts credentials unless asked to keep them, and lists headers sorted by canonical key', () => {
    const request = head(
      'GET / HTTP/1.1\r\nhost: h\r\nCookie: a=1\r\nauthorization: Basic eA==\r\nAccept: */*\r\n\r\n',
    );
    const redacted = httpRecord(request, undefined, 0, '', { keepSecrets: false }).http.headers;
    expect(redacted).toEqual([
      { key: 'Accept', value: '*/*' },
      { key: 'Authorization', value: 'HUBBLE_REDACTED' },
      { key: 'Cookie', value: 'HUBBLE_REDACTED' },
      { key: 'Host', value: 'h' },
    ]);
    const kept = httpRecord(request, undefined, 0, '', { keepSecrets: true }).http.headers;
    expect(kept.find((h) => h.key === 'Authorization')?.value).toBe('Basic eA==');
  });

  it("gives a response its request's method and URL and Hubble's summary with the latency", () => {
    const request = head('POST /orders HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n\r\n') as HttpRequestHead;
    const response = head('HTTP/1.1 201 Created\r\nSet-Cookie: s=1\r\n\r\n', 'response');
    const record = httpRecord(response, request, 12_345_678, '', { keepSecrets: false });
    expect(record.http).toMatchObject({
      code: 201,
      method: 'POST',
      url: 'http://api.test/orders',
      protocol: 'HTTP/1.1',
    });
    expect(record.http.headers).toEqual([{ key: 'Set-Cookie', value: 'HUBBLE_REDACTED' }]);
    expect(record.summary).toBe('HTTP/1.1 201 12ms (POST http://api.test/orders)');
  });
});

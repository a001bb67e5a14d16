// HTTP/1.x message heads as the l7.http records Hubble's proxy gives: method, URL, protocol, status code and headers
// (keys in Go's canonical form, sorted, values of secret-bearing headers redacted unless asked to keep them), and
// Hubble's summary line.
import { L7FlowType, type HTTP, type HTTPHeader } from '../../../api/flow/flow.js';
import type { HttpHeader, HttpMessageHead, HttpRequestHead } from './httpHead.js';

/** What Hubble writes in place of a redacted value. */
export const REDACTED = 'HUBBLE_REDACTED';
/** Headers whose values are credentials, by lowercase name. */
const SECRET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'set-cookie', 'proxy-authorization']);

/** One HTTP message head as an L7 record, with its summary. */
export interface HttpL7 {
  type: L7FlowType;
  http: HTTP;
  summary: string;
}

export interface HttpRecordOptions {
  /** Keep Authorization, Cookie, Set-Cookie and Proxy-Authorization values (redacted by default). */
  keepSecrets: boolean;
}

/**
 * The L7 record of a message head; a response's method and URL are its request's (`request`, when it was seen), and
 * its summary gives `latencyNs`. `authority` names the server for a request without a Host header (its address and
 * port), as the URL needs one.
 */
export function httpRecord(
  head: HttpMessageHead,
  request: HttpRequestHead | undefined,
  latencyNs: number,
  authority: string,
  options: HttpRecordOptions,
): HttpL7 {
  if (head.kind === 'request') {
    const url = requestUrl(head, authority, options);
    return {
      type: L7FlowType.REQUEST,
      http: { code: 0, method: head.method, url, protocol: head.protocol, headers: flowHeaders(head.headers, options) },
      summary: `${head.protocol} ${head.method} ${url}`,
    };
  }
  const method = request?.method ?? '';
  const url = request !== undefined ? requestUrl(request, authority, options) : '';
  return {
    type: L7FlowType.RESPONSE,
    http: { code: head.code, method, url, protocol: head.protocol, headers: flowHeaders(head.headers, options) },
    summary: `${head.protocol} ${head.code} ${Math.floor(latencyNs / 1e6)}ms (${method} ${url})`,
  };
}

/**
 * The request's URL as Hubble shows it: scheme, authority and path. An absolute-form target is used as sent (with a
 * password in it redacted); an origin-form one gets "http://" and the Host header (or the server's address).
 */
function requestUrl(request: HttpRequestHead, authority: string, options: HttpRecordOptions): string {
  const target = request.target;
  if (/^https?:\/\//i.test(target)) return options.keepSecrets ? target : redactPassword(target);
  if (request.method === 'CONNECT') return `//${target}`;
  const host = request.host !== '' ? request.host : authority;
  return `http://${host}${target.startsWith('/') ? target : `/${target === '*' ? '' : target}`}`;
}

/** user:password@ in an absolute URL becomes user:HUBBLE_REDACTED@, as Hubble redacts user info. */
function redactPassword(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^/@:]*):[^/@]*@/i, `$1:${REDACTED}@`);
}

/** Headers as Hubble lists them: canonical keys, sorted by key (values of one key in the order sent). */
function flowHeaders(headers: readonly HttpHeader[], options: HttpRecordOptions): HTTPHeader[] {
  const out: HTTPHeader[] = headers.map(({ name, value }) => ({
    key: canonicalHeaderKey(name),
    value: !options.keepSecrets && SECRET_HEADERS.has(name.toLowerCase()) ? REDACTED : value,
  }));
  // Array.prototype.sort is stable, so one key's values keep their order.
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Go's canonical MIME header key: the first letter and each letter after a hyphen upper case, the rest lower case
 * ("content-type" → "Content-Type"). A key with a character that is not a token character is left as it is.
 */
export function canonicalHeaderKey(key: string): string {
  let upper = true;
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (!isTokenChar(c)) return key;
    let ch = key[i]!;
    if (upper && c >= 0x61 && c <= 0x7a) ch = String.fromCharCode(c - 0x20);
    else if (!upper && c >= 0x41 && c <= 0x5a) ch = String.fromCharCode(c + 0x20);
    out += ch;
    upper = c === 0x2d;
  }
  return out;
}

/** RFC 7230 tchar: letters, digits and !#$%&'*+-.^_`|~ (a space in a key means Go leaves it alone). */
function isTokenChar(c: number): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  return "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}

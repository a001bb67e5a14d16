// The path of an HTTP request URL as Go's url.ParseRequestURI yields it, which upstream's
// http_path filter matches against: absolute URL or absolute path, no fragment splitting,
// percent-escapes decoded, and undefined wherever Go reports an error.

function isAsciiLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexValue(c: number): number {
  return isDigit(c) ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

/** Length of a leading "scheme:" (without the colon), 0 if there is none, -1 for Go's "missing protocol scheme". */
function schemeLength(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isAsciiLetter(c)) continue;
    if (isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e) {
      if (i === 0) return 0;
      continue;
    }
    if (c === 0x3a) return i === 0 ? -1 : i;
    return 0;
  }
  return 0;
}

/** Valid percent-escapes in s[start, end)? (`hostOnly`: only %25 or non-ASCII bytes may be escaped.) */
function validEscapes(s: string, start: number, end: number, hostOnly: boolean): boolean {
  for (let i = start; i < end; i++) {
    if (s.charCodeAt(i) !== 0x25) continue;
    if (i + 2 >= end) return false;
    const a = s.charCodeAt(i + 1);
    const b = s.charCodeAt(i + 2);
    if (!isHex(a) || !isHex(b)) return false;
    if (hostOnly && hexValue(a) < 8 && !(a === 0x32 && b === 0x35)) return false;
    i += 2;
  }
  return true;
}

/** Characters Go accepts unescaped in a host ("sub-delims", ':' for the port, '[' ']' for IPv6). */
const HOST_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%\u0080-\uffff]*$/;
const USERINFO_CHARS = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

function validOptionalPort(port: string): boolean {
  return port === '' || /^:[0-9]*$/.test(port);
}

function validHost(host: string): boolean {
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0 || !validOptionalPort(host.slice(close + 1))) return false;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1 && !validOptionalPort(host.slice(colon))) return false;
  }
  return HOST_CHARS.test(host) && validEscapes(host, 0, host.length, true);
}

function validAuthority(authority: string): boolean {
  const at = authority.lastIndexOf('@');
  if (!validHost(at < 0 ? authority : authority.slice(at + 1))) return false;
  if (at < 0) return true;
  const userinfo = authority.slice(0, at);
  return USERINFO_CHARS.test(userinfo) && validEscapes(userinfo, 0, userinfo.length, false);
}

function decodePath(s: string, start: number, end: number): string {
  const raw = s.slice(start, end);
  if (!raw.includes('%')) return raw;
  // Go keeps the decoded bytes as they are; read them as UTF-8 like a Go string printed or matched.
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      bytes.push(hexValue(raw.charCodeAt(i + 1)) * 16 + hexValue(raw.charCodeAt(i + 2)));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      const cp = raw.codePointAt(i)!;
      if (cp > 0xffff) i++;
      bytes.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The decoded path of a request URI, or undefined where url.ParseRequestURI fails. */
export function requestUriPath(rawUrl: string): string | undefined {
  if (rawUrl === '') return undefined;
  for (let i = 0; i < rawUrl.length; i++) {
    const c = rawUrl.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return undefined;
  }
  if (rawUrl === '*') return '*';
  const scheme = schemeLength(rawUrl);
  if (scheme < 0) return undefined;
  let start = scheme === 0 ? 0 : scheme + 1;
  let end = rawUrl.length;
  // A lone trailing '?' is a forced empty query; otherwise the query starts at the first '?'.
  const question = rawUrl.indexOf('?', start);
  if (question !== -1) end = question;
  if (rawUrl.charCodeAt(start) !== 0x2f || start >= end) {
    // Rootless after a scheme is opaque (no path); without a scheme it is no request URI.
    return scheme > 0 ? '' : undefined;
  }
  if (scheme > 0 && rawUrl.startsWith('//', start)) {
    const slash = rawUrl.indexOf('/', start + 2);
    const authorityEnd = slash === -1 || slash > end ? end : slash;
    if (!validAuthority(rawUrl.slice(start + 2, authorityEnd))) return undefined;
    start = authorityEnd;
  }
  if (!validEscapes(rawUrl, start, end, false)) return undefined;
  return decodePath(rawUrl, start, end);
}

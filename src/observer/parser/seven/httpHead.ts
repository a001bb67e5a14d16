// The head of one HTTP/1.0 or 1.1 message (request line or status line, then header fields) parsed from bytes that
// end with its blank line, plus what the head says about the body's length. Strict where leniency would let garbage
// pass for HTTP (a head that does not parse is not a message, and the connection is given up), lenient where real
// peers differ (bare LF line ends, obsolete line folding, a status line without a reason phrase).

export interface HttpHeader {
  /** As sent on the wire. */
  name: string;
  /** Without leading or trailing spaces and tabs; folded lines joined by one space. */
  value: string;
}

export interface HttpRequestHead {
  kind: 'request';
  method: string;
  target: string;
  /** "HTTP/1.0" or "HTTP/1.1". */
  protocol: string;
  headers: HttpHeader[];
  /** The first Host header's value, or "". */
  host: string;
  /** Capture time of the segment that completed the head, nanoseconds since the epoch. */
  timeNs: number;
  fromFirst: boolean;
}

export interface HttpResponseHead {
  kind: 'response';
  code: number;
  protocol: string;
  headers: HttpHeader[];
  /** The request this answers (first unanswered one of the connection), undefined when it was not seen. */
  request: HttpRequestHead | undefined;
  timeNs: number;
  fromFirst: boolean;
}

export type HttpMessageHead = HttpRequestHead | HttpResponseHead;

/** What the first bytes of a TCP payload look like. */
export const MessageStart = {
  NONE: 0,
  /** A method HTTP/1.x clients commonly send, then a space. */
  REQUEST: 1,
  /** "HTTP/1.0 " or "HTTP/1.1 ". */
  RESPONSE: 2,
} as const;
export type MessageStart = (typeof MessageStart)[keyof typeof MessageStart];

const ascii = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
const GET = ascii('GET ');
const POST = ascii('POST ');
const PUT = ascii('PUT ');
const PATCH = ascii('PATCH ');
const DELETE = ascii('DELETE ');
const HEAD = ascii('HEAD ');
const OPTIONS = ascii('OPTIONS ');
const CONNECT = ascii('CONNECT ');
const TRACE = ascii('TRACE ');
const HTTP_1 = ascii('HTTP/1.');

function startsWith(b: Uint8Array, at: number, end: number, word: Uint8Array): boolean {
  if (end - at < word.length) return false;
  for (let i = 0; i < word.length; i++) if (b[at + i] !== word[i]) return false;
  return true;
}

/**
 * Whether b[at, end) starts like a request line of a common method or like a status line. A few byte compares and no
 * allocation: every untracked TCP segment with a payload goes through here.
 */
export function messageStart(b: Uint8Array, at: number, end: number): MessageStart {
  if (end - at < 4) return MessageStart.NONE;
  switch (b[at]) {
    case 0x47: // G
      return startsWith(b, at, end, GET) ? MessageStart.REQUEST : MessageStart.NONE;
    case 0x50: // P
      return startsWith(b, at, end, POST) || startsWith(b, at, end, PUT) || startsWith(b, at, end, PATCH)
        ? MessageStart.REQUEST
        : MessageStart.NONE;
    case 0x44: // D
      return startsWith(b, at, end, DELETE) ? MessageStart.REQUEST : MessageStart.NONE;
    case 0x48: // H
      if (startsWith(b, at, end, HEAD)) return MessageStart.REQUEST;
      return end - at >= 9 &&
        startsWith(b, at, end, HTTP_1) &&
        (b[at + 7] === 0x30 || b[at + 7] === 0x31) &&
        b[at + 8] === 0x20
        ? MessageStart.RESPONSE
        : MessageStart.NONE;
    case 0x4f: // O
      return startsWith(b, at, end, OPTIONS) ? MessageStart.REQUEST : MessageStart.NONE;
    case 0x43: // C
      return startsWith(b, at, end, CONNECT) ? MessageStart.REQUEST : MessageStart.NONE;
    case 0x54: // T
      return startsWith(b, at, end, TRACE) ? MessageStart.REQUEST : MessageStart.NONE;
    default:
      return MessageStart.NONE;
  }
}

const STARTS: readonly (readonly [Uint8Array, MessageStart])[] = [
  ...[GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, CONNECT, TRACE].map((w) => [w, MessageStart.REQUEST] as const),
  [ascii('HTTP/1.0 '), MessageStart.RESPONSE],
  [ascii('HTTP/1.1 '), MessageStart.RESPONSE],
];

/**
 * Whether b[at, end) starts like a message of the `wanted` kind, for a stream looking for its next message: a payload
 * too short to tell (segments of a few bytes happen) counts when it agrees with the beginning of such a start.
 */
export function startsLike(wanted: MessageStart, b: Uint8Array, at: number, end: number): boolean {
  const found = messageStart(b, at, end);
  if (found !== MessageStart.NONE || end - at >= 9 || end <= at) return found === wanted;
  for (const [word, kind] of STARTS) {
    if (kind !== wanted) continue;
    const n = Math.min(word.length, end - at);
    let i = 0;
    while (i < n && b[at + i] === word[i]) i++;
    if (i === n) return true;
  }
  return false;
}

/** RFC 9110 tchar: the bytes of methods and header names. */
const TOKEN = new Uint8Array(256);
for (const ch of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
  TOKEN[ch.charCodeAt(0)] = 1;

export function isTokenByte(byte: number): boolean {
  return TOKEN[byte] === 1;
}

/** How the message's body is delimited, as its head says. Filled by parseHead; one instance is reused. */
export class BodyFraming {
  /** Content-Length, or -1 when absent. */
  contentLength = -1;
  /** Transfer-Encoding whose final coding is chunked. */
  chunked = false;
  /** Transfer-Encoding present with a final coding other than chunked (the body then runs to the connection's end). */
  otherCoding = false;

  reset(): void {
    this.contentLength = -1;
    this.chunked = false;
    this.otherCoding = false;
  }
}

const CR = 0x0d;
const LF = 0x0a;

/** Lines this long or shorter are searched byte by byte; a longer one with indexOf(), from there on. */
const SHORT_LINE = 64;

/**
 * The offset of the first line feed in b[from, limit), -1 if none. Header lines are short: a loop finds their end
 * sooner than a call into indexOf() (which, not told the limit, would search on to the end of the buffer: a packet
 * ring or a capture chunk).
 */
export function lineFeedIn(b: Uint8Array, from: number, limit: number): number {
  const short = Math.min(limit, from + SHORT_LINE);
  for (let i = from; i < short; i++) if (b[i] === LF) return i;
  if (short === limit) return -1;
  const lf = b.indexOf(LF, short);
  return lf < limit ? lf : -1;
}
const SP = 0x20;
const HTAB = 0x09;

/** Lines end at LF; a CR before it is not part of the line. */
function lineEnd(b: Uint8Array, lineStart: number, lf: number): number {
  return lf > lineStart && b[lf - 1] === CR ? lf - 1 : lf;
}

function protocolAt(b: Uint8Array, at: number, end: number): string | undefined {
  if (end - at < 8 || !startsWith(b, at, end, HTTP_1)) return undefined;
  const minor = b[at + 7];
  return minor === 0x31 ? 'HTTP/1.1' : minor === 0x30 ? 'HTTP/1.0' : undefined;
}

/**
 * Parses the head in b[start, end) (end just past its blank line) as a request or a response, filling `framing`.
 * Undefined when the bytes are not a well-formed head of that kind.
 */
export function parseHead(
  kind: 'request' | 'response',
  b: Uint8Array,
  start: number,
  end: number,
  timeNs: number,
  fromFirst: boolean,
  framing: BodyFraming,
): HttpMessageHead | undefined {
  framing.reset();
  // The whole head decoded once; fields are substrings of it (one call into the runtime per head, not one per field).
  const text = new HeadText(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1', start, end), start);
  const firstLf = lineFeedIn(b, start, end);
  if (firstLf < 0) return undefined;
  const firstEnd = lineEnd(b, start, firstLf);
  let head: HttpMessageHead;
  if (kind === 'request') {
    let i = start;
    while (i < firstEnd && TOKEN[b[i]!] === 1) i++;
    if (i === start || i - start > 32 || b[i] !== SP) return undefined;
    const method = text.slice(start, i);
    const targetStart = ++i;
    while (i < firstEnd && b[i]! > SP && b[i] !== 0x7f) i++;
    if (i === targetStart || b[i] !== SP) return undefined;
    const target = text.slice(targetStart, i);
    const protocol = protocolAt(b, i + 1, firstEnd);
    if (protocol === undefined || i + 9 !== firstEnd) return undefined;
    head = { kind: 'request', method, target, protocol, headers: [], host: '', timeNs, fromFirst };
  } else {
    const protocol = protocolAt(b, start, firstEnd);
    if (protocol === undefined || b[start + 8] !== SP || firstEnd - start < 12) return undefined;
    let code = 0;
    for (let i = start + 9; i < start + 12; i++) {
      const digit = b[i]! - 0x30;
      if (digit < 0 || digit > 9) return undefined;
      code = code * 10 + digit;
    }
    if (code < 100) return undefined;
    if (firstEnd > start + 12) {
      if (b[start + 12] !== SP) return undefined;
      if (!printable(b, start + 13, firstEnd)) return undefined;
    }
    head = { kind: 'response', code, protocol, headers: [], request: undefined, timeNs, fromFirst };
  }
  if (!parseFields(b, text, firstLf + 1, end, head.headers)) return undefined;
  return applyFields(head, framing) ? head : undefined;
}

/** A head's text (latin1: one character per byte) addressed by the byte offsets of the buffer it came from. */
class HeadText {
  constructor(
    private readonly text: string,
    private readonly offset: number,
  ) {}

  slice(from: number, to: number): string {
    return this.text.substring(from - this.offset, to - this.offset);
  }
}

function parseFields(b: Uint8Array, text: HeadText, from: number, end: number, headers: HttpHeader[]): boolean {
  let lineStart = from;
  while (lineStart < end) {
    const lf = lineFeedIn(b, lineStart, end);
    if (lf < 0) return false;
    const e = lineEnd(b, lineStart, lf);
    if (e === lineStart) return lf + 1 === end; // the blank line ends the head, and nothing may follow it
    const c0 = b[lineStart]!;
    if (c0 === SP || c0 === HTAB) {
      // obs-fold: a continuation of the previous field's value
      const previous = headers[headers.length - 1];
      if (previous === undefined) return false;
      const more = trimmed(b, text, lineStart, e);
      if (more === undefined) return false;
      if (more !== '') previous.value = previous.value === '' ? more : `${previous.value} ${more}`;
    } else {
      let i = lineStart;
      while (i < e && TOKEN[b[i]!] === 1) i++;
      if (i === lineStart || b[i] !== 0x3a) return false;
      const value = trimmed(b, text, i + 1, e);
      if (value === undefined) return false;
      headers.push({ name: text.slice(lineStart, i), value });
    }
    lineStart = lf + 1;
  }
  return false;
}

/** The field value in b[from, to) without surrounding spaces and tabs; undefined when it holds NUL or a bare CR. */
function trimmed(b: Uint8Array, text: HeadText, from: number, to: number): string | undefined {
  while (from < to && (b[from] === SP || b[from] === HTAB)) from++;
  while (to > from && (b[to - 1] === SP || b[to - 1] === HTAB)) to--;
  return printable(b, from, to) ? text.slice(from, to) : undefined;
}

/** Host, Content-Length and Transfer-Encoding; false when they contradict themselves. */
function applyFields(head: HttpMessageHead, framing: BodyFraming): boolean {
  let transferEncoding = false;
  let lastCoding = '';
  for (const h of head.headers) {
    const n = h.name.length;
    if (n === 4 && head.kind === 'request' && head.host === '' && h.name.toLowerCase() === 'host') head.host = h.value;
    else if (n === 14 && h.name.toLowerCase() === 'content-length') {
      const single = decimal(h.value);
      if (single >= 0) {
        if (framing.contentLength >= 0 && framing.contentLength !== single) return false;
        framing.contentLength = single;
        continue;
      }
      for (const part of h.value.split(',')) {
        const length = decimal(part.trim());
        if (length < 0) return false;
        if (framing.contentLength >= 0 && framing.contentLength !== length) return false;
        framing.contentLength = length;
      }
    } else if (n === 17 && h.name.toLowerCase() === 'transfer-encoding') {
      transferEncoding = true;
      const codings = h.value.split(',');
      for (let i = codings.length - 1; i >= 0; i--) {
        const coding = codings[i]!.trim();
        if (coding !== '') {
          lastCoding = coding.toLowerCase();
          break;
        }
      }
    }
  }
  if (transferEncoding) {
    // Transfer-Encoding overrides Content-Length (RFC 9112 section 6.3).
    framing.contentLength = -1;
    if (lastCoding === 'chunked') framing.chunked = true;
    else if (head.kind === 'request')
      return false; // a request body must be length-delimited or chunked
    else framing.otherCoding = true;
  }
  return true;
}

/** A non-negative decimal integer no larger than 2^53 - 1, or -1. */
function decimal(s: string): number {
  if (s.length === 0 || s.length > 16) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return Number.isSafeInteger(n) ? n : -1;
}

/** What ingest needs from a request's method: whether it changes how the response (or the stream) goes on. */
export const MethodKind = { OTHER: 0, HEAD: 1, CONNECT: 2 } as const;
export type MethodKind = (typeof MethodKind)[keyof typeof MethodKind];

/** What scanHead found besides the framing; one instance is reused. */
export class HeadFacts {
  /** Whether the head scanned is well-formed (the fields below are read only then). */
  wellFormed = false;
  /** A request's method, as far as framing cares. */
  method: MethodKind = MethodKind.OTHER;
  /** A response's status code. */
  code = 0;
}

const CONTENT_LENGTH = ascii('content-length');
const TRANSFER_ENCODING = ascii('transfer-encoding');
const CHUNKED = ascii('chunked');

/** Whether b[at, at + word.length) equals the lowercase `word`, ignoring ASCII case. */
function equalsLower(b: Uint8Array, at: number, word: Uint8Array): boolean {
  for (let i = 0; i < word.length; i++) {
    const c = b[at + i]!;
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== word[i]) return false;
  }
  return true;
}

/**
 * Whether b[from, to) may be a field value or a reason phrase (within its line): any byte but NUL, CR and LF. Other
 * control bytes are not valid HTTP, but servers (Python's http.server among them) accept them in values, and a request
 * a server answered is shown, its odd bytes escaped when printed, rather than dropped for an escape sequence.
 */
function printable(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c === 0 || c === CR || c === LF) return false;
  }
  return true;
}

/** Index of the first byte of b[from, to) that is not SP or HTAB (to when none). */
function skipBlanks(b: Uint8Array, from: number, to: number): number {
  while (from < to && (b[from] === SP || b[from] === HTAB)) from++;
  return from;
}

/** What String.prototype.trim() removes among the bytes a field value may hold: SP, HTAB and NBSP (0xa0). */
function isTrimmed(c: number): boolean {
  return c === SP || c === HTAB || c === 0xa0;
}

function skipTrimmed(b: Uint8Array, from: number, to: number): number {
  while (from < to && isTrimmed(b[from]!)) from++;
  return from;
}

function trimEndTrimmed(b: Uint8Array, from: number, to: number): number {
  while (to > from && isTrimmed(b[to - 1]!)) to--;
  return to;
}

/**
 * Checks the head in b[start, end) as parseHead() does and fills `framing` and `facts` the same way, building no
 * strings: what ingest needs to find the next message. A head it accepts is one parseHead() decodes when the flow
 * is read. False when the bytes are not a well-formed head of that kind.
 */
export function scanHead(
  kind: 'request' | 'response',
  b: Uint8Array,
  start: number,
  end: number,
  framing: BodyFraming,
  facts: HeadFacts,
): boolean {
  return scanHeadIn(kind, b, start, end, framing, facts) === end && facts.wellFormed;
}

/** What scanHeadIn() returns when b[start, limit) holds no blank line ending a head. */
export const HEAD_INCOMPLETE = -1;

/**
 * Finds the end of the head starting at b[start] within b[start, limit) (just past the first blank line after the
 * start line) and checks it as scanHead() does, in the same pass: returns that end, with facts.wellFormed telling
 * whether the head is well-formed (and framing and facts filled), or HEAD_INCOMPLETE when no blank line follows the
 * start line before limit (whether or not what is there is well-formed).
 */
export function scanHeadIn(
  kind: 'request' | 'response',
  b: Uint8Array,
  start: number,
  limit: number,
  framing: BodyFraming,
  facts: HeadFacts,
): number {
  framing.reset();
  facts.wellFormed = false;
  facts.method = MethodKind.OTHER;
  facts.code = 0;
  const firstLf = lineFeedIn(b, start, limit);
  if (firstLf < 0) return HEAD_INCOMPLETE;
  const firstEnd = lineEnd(b, start, firstLf);
  if (kind === 'request') {
    let i = start;
    while (i < firstEnd && TOKEN[b[i]!] === 1) i++;
    if (i === start || i - start > 32 || b[i] !== SP) return malformedHeadEnd(facts, b, firstLf + 1, limit);
    if (i - start === 4 && startsWith(b, start, limit, HEAD)) facts.method = MethodKind.HEAD;
    else if (i - start === 7 && startsWith(b, start, limit, CONNECT)) facts.method = MethodKind.CONNECT;
    const targetStart = ++i;
    while (i < firstEnd && b[i]! > SP && b[i] !== 0x7f) i++;
    if (i === targetStart || b[i] !== SP) return malformedHeadEnd(facts, b, firstLf + 1, limit);
    if (protocolAt(b, i + 1, firstEnd) === undefined || i + 9 !== firstEnd)
      return malformedHeadEnd(facts, b, firstLf + 1, limit);
  } else {
    if (protocolAt(b, start, firstEnd) === undefined || b[start + 8] !== SP || firstEnd - start < 12) {
      return malformedHeadEnd(facts, b, firstLf + 1, limit);
    }
    let code = 0;
    for (let i = start + 9; i < start + 12; i++) {
      const digit = b[i]! - 0x30;
      if (digit < 0 || digit > 9) return malformedHeadEnd(facts, b, firstLf + 1, limit);
      code = code * 10 + digit;
    }
    if (code < 100) return malformedHeadEnd(facts, b, firstLf + 1, limit);
    if (firstEnd > start + 12 && (b[start + 12] !== SP || !printable(b, start + 13, firstEnd))) {
      return malformedHeadEnd(facts, b, firstLf + 1, limit);
    }
    facts.code = code;
  }
  // Fields: the framing ones read as parseHead's applyFields reads their values, each once its last (folded) line is
  // seen. A folded framing field is rare, and only then is its joined value built as text.
  const field = pendingField;
  field.reset();
  let transferEncoding = false;
  let chunkedLast = false;
  // Each line is walked once, byte by byte: its value's check for control bytes is also the search for its end.
  let lineStart = firstLf + 1;
  for (;;) {
    if (lineStart >= limit) return HEAD_INCOMPLETE;
    const c0 = b[lineStart]!;
    let blankEnd = -1;
    if (c0 === LF) blankEnd = lineStart + 1;
    else if (c0 === CR) {
      if (lineStart + 1 >= limit) return HEAD_INCOMPLETE;
      if (b[lineStart + 1] === LF) blankEnd = lineStart + 2;
    } else if (c0 === SP || c0 === HTAB) {
      const lf = valueLineEnd(b, lineStart, limit);
      if (lf === HEAD_INCOMPLETE) return HEAD_INCOMPLETE;
      if (lf === LINE_MALFORMED || field.kind === FieldKind.NONE) return malformedHeadEnd(facts, b, lineStart, limit);
      field.fold(b, lineStart, lineEnd(b, lineStart, lf));
      lineStart = lf + 1;
      continue;
    }
    // A new field or the blank line: the previous field is whole.
    if (field.kind === FieldKind.CONTENT_LENGTH && !field.contentLengthInto(b, framing)) {
      return blankEnd >= 0 ? malformed(facts, blankEnd) : malformedHeadEnd(facts, b, lineStart, limit);
    }
    if (field.kind === FieldKind.TRANSFER_ENCODING) {
      transferEncoding = true;
      const last = field.lastCoding(b);
      if (last >= 0) chunkedLast = last === 1;
    }
    if (blankEnd >= 0) {
      lineStart = blankEnd;
      break;
    }
    let i = lineStart;
    while (i < limit && TOKEN[b[i]!] === 1) i++;
    if (i === limit) return HEAD_INCOMPLETE;
    if (i === lineStart || b[i] !== 0x3a) return malformedHeadEnd(facts, b, lineStart, limit);
    const lf = valueLineEnd(b, i + 1, limit);
    if (lf === HEAD_INCOMPLETE) return HEAD_INCOMPLETE;
    if (lf === LINE_MALFORMED) return malformedHeadEnd(facts, b, lineStart, limit);
    const n = i - lineStart;
    field.start(
      n === 14 && equalsLower(b, lineStart, CONTENT_LENGTH)
        ? FieldKind.CONTENT_LENGTH
        : n === 17 && equalsLower(b, lineStart, TRANSFER_ENCODING)
          ? FieldKind.TRANSFER_ENCODING
          : FieldKind.OTHER,
      i + 1,
      lineEnd(b, i + 1, lf),
    );
    lineStart = lf + 1;
  }
  if (transferEncoding) {
    // Transfer-Encoding overrides Content-Length (RFC 9112 section 6.3).
    framing.contentLength = -1;
    if (chunkedLast) framing.chunked = true;
    else if (kind === 'request') return malformed(facts, lineStart);
    else framing.otherCoding = true;
  }
  facts.wellFormed = true;
  return lineStart;
}

const LINE_MALFORMED = -2;

/**
 * The LF ending the line whose bytes from `from` on are a field value (or a folded line), checking them on the way as
 * printable() does: HEAD_INCOMPLETE when limit comes first, LINE_MALFORMED at NUL or at a CR not right before the LF.
 */
function valueLineEnd(b: Uint8Array, from: number, limit: number): number {
  for (let i = from; i < limit; i++) {
    const c = b[i]!;
    if (c > CR) continue;
    if (c === LF) return i;
    if (c === CR) {
      if (i + 1 >= limit) return HEAD_INCOMPLETE;
      return b[i + 1] === LF ? i + 1 : LINE_MALFORMED;
    }
    if (c === 0) return LINE_MALFORMED;
  }
  return HEAD_INCOMPLETE;
}

/**
 * For a head found not to be well-formed at a line before the one starting at lineStart, or at that line (which is not
 * blank): its end, just past the first blank line (empty, or a lone CR) from lineStart on, or HEAD_INCOMPLETE when there
 * is none before limit.
 */
function malformedHeadEnd(facts: HeadFacts, b: Uint8Array, lineStart: number, limit: number): number {
  for (;;) {
    const lf = lineFeedIn(b, lineStart, limit);
    if (lf < 0) return HEAD_INCOMPLETE;
    if (lf === lineStart || (lf === lineStart + 1 && b[lineStart] === CR)) return malformed(facts, lf + 1);
    lineStart = lf + 1;
  }
}

function malformed(facts: HeadFacts, end: number): number {
  facts.wellFormed = false;
  return end;
}

const FieldKind = { NONE: 0, OTHER: 1, CONTENT_LENGTH: 2, TRANSFER_ENCODING: 3 } as const;
type FieldKind = (typeof FieldKind)[keyof typeof FieldKind];

/** The header field scanHead is reading: its kind and value, as a byte range until a folded line makes it text. */
class PendingField {
  kind: FieldKind = FieldKind.NONE;
  private from = 0;
  private to = 0;
  private joined: string | undefined;

  reset(): void {
    this.kind = FieldKind.NONE;
    this.joined = undefined;
  }

  start(kind: FieldKind, from: number, to: number): void {
    this.kind = kind;
    this.from = from;
    this.to = to;
    this.joined = undefined;
  }

  /** A continuation line (obs-fold): joined to the value with one space, as parseHead joins it. */
  fold(b: Uint8Array, from: number, to: number): void {
    if (this.kind !== FieldKind.CONTENT_LENGTH && this.kind !== FieldKind.TRANSFER_ENCODING) return;
    const more = latin1(b, skipBlanks(b, from, to), trimEnd(b, from, to));
    if (more === '') return;
    const value = this.joined ?? latin1(b, skipBlanks(b, this.from, this.to), trimEnd(b, this.from, this.to));
    this.joined = value === '' ? more : `${value} ${more}`;
  }

  contentLengthInto(b: Uint8Array, framing: BodyFraming): boolean {
    if (this.joined === undefined) return contentLengthInto(b, this.from, this.to, framing);
    const text = Uint8Array.from(this.joined, (c) => c.charCodeAt(0));
    return contentLengthInto(text, 0, text.length, framing);
  }

  lastCoding(b: Uint8Array): number {
    if (this.joined === undefined) return lastCoding(b, this.from, this.to);
    const text = Uint8Array.from(this.joined, (c) => c.charCodeAt(0));
    return lastCoding(text, 0, text.length);
  }
}

/** A Content-Length value (a comma-separated list of one repeated length) into framing; false when invalid. */
function contentLengthInto(b: Uint8Array, from: number, to: number, framing: BodyFraming): boolean {
  let i = from;
  for (;;) {
    i = skipTrimmed(b, i, to);
    let n = 0;
    let digits = 0;
    while (i < to && b[i]! >= 0x30 && b[i]! <= 0x39) {
      n = n * 10 + (b[i]! - 0x30);
      digits++;
      i++;
    }
    i = skipTrimmed(b, i, to);
    if (digits === 0 || digits > 16 || !Number.isSafeInteger(n)) return false;
    if (framing.contentLength >= 0 && framing.contentLength !== n) return false;
    framing.contentLength = n;
    if (i === to) return true;
    if (b[i] !== 0x2c) return false;
    i++;
  }
}

/** Whether the last non-empty coding of a Transfer-Encoding value is chunked (1), another one (0), or none (-1). */
function lastCoding(b: Uint8Array, from: number, to: number): number {
  let end = to;
  for (;;) {
    end = trimEndTrimmed(b, from, end);
    let begin = end;
    while (begin > from && b[begin - 1] !== 0x2c) begin--;
    const codingStart = skipTrimmed(b, begin, end);
    if (codingStart < end) return end - codingStart === 7 && equalsLower(b, codingStart, CHUNKED) ? 1 : 0;
    if (begin <= from) return -1;
    end = begin - 1;
  }
}

function trimEnd(b: Uint8Array, from: number, to: number): number {
  while (to > from && (b[to - 1] === SP || b[to - 1] === HTAB)) to--;
  return to;
}

function latin1(b: Uint8Array, from: number, to: number): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1', from, to);
}

/** The one field scanHead reads at a time (reused: heads are scanned one after another). */
const pendingField = new PendingField();

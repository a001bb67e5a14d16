// TCP conversations for the HTTP connection tests: each side's byte stream with its own sequence numbers, cut into
// segments as the test says, so a test reads as "the client sends this, the server answers that".
import { TcpFlag } from '../../../../src/packet/protocols.js';
import { BodyFraming, parseHead, type HttpRequestHead } from '../../../../src/observer/parser/seven/httpHead.js';
import type {
  HttpConnections,
  HttpMessageHead,
  HttpMessageSpan,
} from '../../../../src/observer/parser/seven/httpConnections.js';
import type { TcpSegment } from '../../../../src/observer/parser/seven/tcpReassembly.js';

export const encode = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));

export interface SegmentSpec {
  fromClient: boolean;
  /** Offset of the first byte in that side's stream. */
  offset: number;
  data: Uint8Array;
  flags: number;
  /** Offset in the other side's stream this segment acknowledges (what that side had sent when it was cut). */
  acknowledges: number;
  /** Nanoseconds of capture time before this segment beyond the usual microsecond. */
  pauseNs?: number;
}

/** One connection: the client sorts first in the key. */
export class Conversation {
  private clientSent = 0;
  private serverSent = 0;
  private time = 1_700_000_000_000_000_000;

  constructor(
    readonly key = '10.0.0.1:40000 10.0.0.2:80',
    readonly clientIsn = 1000,
    readonly serverIsn = 5000,
    readonly clientPort = 40000,
    readonly serverPort = 80,
  ) {}

  /** The client's next bytes, as one segment per piece (the text cut at `cuts`, offsets into it). */
  client(text: string | Uint8Array, cuts: number[] = [], flags = TcpFlag.ACK | TcpFlag.PSH): SegmentSpec[] {
    return this.pieces(true, typeof text === 'string' ? encode(text) : text, cuts, flags);
  }

  server(text: string | Uint8Array, cuts: number[] = [], flags = TcpFlag.ACK | TcpFlag.PSH): SegmentSpec[] {
    return this.pieces(false, typeof text === 'string' ? encode(text) : text, cuts, flags);
  }

  /** A FIN (no data) from one side. */
  fin(fromClient: boolean): SegmentSpec {
    const offset = fromClient ? this.clientSent : this.serverSent;
    return {
      fromClient,
      offset,
      data: new Uint8Array(),
      flags: TcpFlag.FIN | TcpFlag.ACK,
      acknowledges: this.sent(!fromClient),
    };
  }

  rst(fromClient: boolean): SegmentSpec {
    const offset = fromClient ? this.clientSent : this.serverSent;
    return { fromClient, offset, data: new Uint8Array(), flags: TcpFlag.RST, acknowledges: 0 };
  }

  /** Bytes one side has sent so far. */
  sent(client: boolean): number {
    return client ? this.clientSent : this.serverSent;
  }

  private pieces(fromClient: boolean, data: Uint8Array, cuts: number[], flags: number): SegmentSpec[] {
    const bounds = [0, ...cuts.filter((c) => c > 0 && c < data.length).sort((a, b) => a - b), data.length];
    const base = fromClient ? this.clientSent : this.serverSent;
    const out: SegmentSpec[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      if (bounds[i] === bounds[i + 1]) continue;
      out.push({
        fromClient,
        offset: base + bounds[i]!,
        data: data.subarray(bounds[i], bounds[i + 1]),
        flags,
        acknowledges: this.sent(!fromClient),
      });
    }
    if (fromClient) this.clientSent += data.length;
    else this.serverSent += data.length;
    return out;
  }

  /** The segment as the caller of HttpConnections fills it (payload placed after 54 bytes of frame headers). */
  toSegment(spec: SegmentSpec, into: TcpSegment = emptySegment()): TcpSegment {
    const bytes = new Uint8Array(54 + spec.data.length);
    bytes.set(spec.data, 54);
    into.connectionKey = this.key;
    into.fromFirst = spec.fromClient;
    into.sequence = ((spec.fromClient ? this.clientIsn : this.serverIsn) + spec.offset) >>> 0;
    into.acknowledgement = ((spec.fromClient ? this.serverIsn : this.clientIsn) + spec.acknowledges) >>> 0;
    into.flags = spec.flags;
    into.bytes = bytes;
    into.payloadStart = 54;
    into.payloadEnd = bytes.length;
    into.timeNs = this.time += 1000 + (spec.pauseNs ?? 0);
    into.sourcePort = spec.fromClient ? this.clientPort : this.serverPort;
    into.destinationPort = spec.fromClient ? this.serverPort : this.clientPort;
    return into;
  }

  /** Feeds every segment and collects the heads, decoded from the spans as a reader of the flows would. */
  feed(http: HttpConnections, specs: readonly SegmentSpec[], reader = readerFor(http)): HttpMessageHead[] {
    const heads: HttpMessageHead[] = [];
    const s = emptySegment();
    for (const spec of specs) heads.push(...reader.read(http.segment(this.toSegment(spec, s))));
    return heads;
  }
}

/**
 * Decodes the spans HttpConnections reports into heads (parseHead), as a reader of the flows does. A response's
 * `request` is the very object its request's span decoded to (matched by exchange number), and the request head the
 * response span carries must decode to the same request: a mismatch throws.
 */
export class SpanReader {
  private readonly requests = new Map<number, HttpRequestHead>();

  read(spans: readonly HttpMessageSpan[]): HttpMessageHead[] {
    return spans.map((span) => {
      const head = parseHead(
        span.kind,
        span.bytes,
        span.start,
        span.end,
        span.timeNs,
        span.fromFirst,
        new BodyFraming(),
      );
      if (head === undefined) throw new Error(`a ${span.kind} span does not decode`);
      if (head.kind === 'request') {
        this.requests.set(span.exchange, head);
        return head;
      }
      if (span.exchange < 0) {
        if (span.requestEnd !== span.requestStart) throw new Error('a response carries request bytes but no exchange');
        return head;
      }
      const request = this.requests.get(span.exchange);
      const carried = parseHead(
        'request',
        span.requestBytes,
        span.requestStart,
        span.requestEnd,
        0,
        true,
        new BodyFraming(),
      );
      if (request === undefined || carried?.kind !== 'request')
        throw new Error('a response names a request never seen');
      // An interim response (1xx but 101) names its request without being timed from it.
      const untimed = Number.isNaN(span.requestTimeNs) && head.code < 200 && head.code !== 101;
      if (
        carried.method !== request.method ||
        carried.target !== request.target ||
        (span.requestTimeNs !== request.timeNs && !untimed)
      ) {
        throw new Error(`a response carries another request's head (${carried.method} ${carried.target})`);
      }
      if (untimed) untimedHeads.add(head);
      head.request = request;
      return head;
    });
  }
}

const readers = new WeakMap<HttpConnections, SpanReader>();

/** The one SpanReader of a tracker (a response's request may have come in an earlier call). */
export function readerFor(http: HttpConnections): SpanReader {
  let reader = readers.get(http);
  if (reader === undefined) readers.set(http, (reader = new SpanReader()));
  return reader;
}

export function emptySegment(): TcpSegment {
  return {
    connectionKey: '',
    fromFirst: true,
    sequence: 0,
    acknowledgement: 0,
    flags: 0,
    bytes: new Uint8Array(),
    payloadStart: 0,
    payloadEnd: 0,
    timeNs: 0,
    destinationPort: 0,
    sourcePort: 0,
  };
}

/** A head reduced to what a test compares: "GET /x" or "200 <- GET /x". */
/** Responses whose span names their request but carries no request time (interim ones). */
const untimedHeads = new WeakSet<HttpMessageHead>();

/** "GET /a" for a request; "200 <- GET /a" for a response and its request, "(untimed)" after it if it has no latency. */
export function summary(h: HttpMessageHead): string {
  if (h.kind === 'request') return `${h.method} ${h.target}`;
  if (h.request === undefined) return `${h.code}`;
  return `${h.code} <- ${h.request.method} ${h.request.target}${untimedHeads.has(h) ? ' (untimed)' : ''}`;
}

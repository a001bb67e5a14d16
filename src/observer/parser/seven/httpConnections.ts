// HTTP/1.0 and 1.1 message heads from captured TCP segments: each connection's two byte streams are put back in order
// (tcpReassembly.ts), then read as a sequence of messages — heads checked and their framing read (httpHead.ts
// scanHead, no strings), bodies skipped by their declared length or chunk sizes without being buffered — so that each
// request and each response is reported once, when the segment holding the end of its head is taken (with the capture
// time of the segment that held those bytes), as the span of bytes its head occupies, with the head of the request a
// response answers. Decoding a head into fields (parseHead) is left to whoever reads the flow.
//
// A connection is tracked only once a segment's payload starts like a request or status line (on an allowed port),
// so the untracked majority of TCP segments costs one Map lookup and a few byte compares. What is kept is bounded:
// connections (least recently used evicted), head bytes per message, out-of-order bytes per connection and buffered
// bytes in total. Giving up is always possible and always counted: a connection whose bytes stop parsing as HTTP is
// dropped (abandoned), a hole the capture never fills is skipped (a gap), a tunnel (CONNECT, 101 Switching
// Protocols) is no longer read.
//
// What that costs, knowingly:
// - Tracking starts at the segment holding a message start ("GET ", or fewer bytes that begin a request line, taken
//   tentatively): segments of the connection seen before it are not kept, so a request whose second segment the
//   capture saw before its first is lost.
// - After a gap, a stream resynchronises at the next segment that starts like a message, never in the middle of one
//   (a body may hold text that reads like a message). A gap inside a body of known length only shortens what is left
//   to skip; any other gap, and a response that finds no request while the server has acknowledged client bytes not
//   read here, end response-to-request pairing for the rest of the connection (responses then come without request).
// - The answering side starts at the peer's acknowledgement number and skips to its first message start, so a capture
//   starting mid-connection does not read the tail of an earlier body as a message.

import { TcpFlag } from '../../../packet/protocols.js';
import {
  BodyFraming,
  HeadFacts,
  isTokenByte,
  lineFeedIn,
  MessageStart,
  messageStart,
  HEAD_INCOMPLETE,
  MethodKind,
  scanHead,
  scanHeadIn,
  startsLike,
} from './httpHead.js';
import {
  Accepted,
  ByteStream,
  sequenceDistance,
  type BufferBudget,
  type StreamReceiver,
  type TcpSegment,
} from './tcpReassembly.js';

export type { HttpHeader, HttpMessageHead, HttpRequestHead, HttpResponseHead } from './httpHead.js';

/** One message head found in a stream: where its bytes are, and for a response those of the request it answers. */
export interface HttpMessageSpan {
  kind: 'request' | 'response';
  /** The head, start line through the blank line: bytes[start, end), valid until the next segment() call. */
  bytes: Uint8Array;
  start: number;
  end: number;
  /** A response's request head in requestBytes[requestStart, requestEnd); empty (start = end) when not known. */
  requestBytes: Uint8Array;
  requestStart: number;
  requestEnd: number;
  /** Capture time of the segment that carried the end of the head, nanoseconds since the epoch. */
  timeNs: number;
  /** The same for the request a response answers; NaN when not known. */
  requestTimeNs: number;
  /** Numbers the requests this tracker saw, from 0: a request's own, a response's request's; -1 when not known. */
  exchange: number;
  fromFirst: boolean;
}

/** A request waiting for its response: a copy of its head (the segment it came in is gone by then). */
class PendingRequest {
  head: Uint8Array = EMPTY;
  length = 0;
  timeNs = 0;
  method: MethodKind = MethodKind.OTHER;
  exchange = 0;
  /** Sequence number just past the head in the client's stream: a response can answer it only once that is acked. */
  endSequence = 0;
}

const EMPTY = new Uint8Array(0);
/** Pending requests kept for reuse once answered, and the largest head buffer worth keeping with one. */
const POOLED_REQUESTS = 256;
const POOLED_HEAD_BYTES = 4096;

export interface HttpConnectionsOptions {
  /** Track only connections with one of these ports at either end; empty or undefined: any port. */
  ports?: readonly number[];
  /** Connections tracked at once; the least recently used one is evicted to make room. */
  maxConnections?: number;
  /** Largest message head (and chunked trailer section); a larger one abandons its connection. */
  maxHeadBytes?: number;
  /** Out-of-order bytes held per connection (both directions) before the earliest hole is given up. */
  maxOutOfOrderBytesPerConnection?: number;
  /** Bytes held over all connections (out-of-order segments and unfinished heads). */
  maxBufferedBytes?: number;
}

/**
 * 16,384 connections of a busy node's HTTP; a 64 KiB head is larger than common servers accept (Node's default is
 * 16 KiB, nginx's 8-32 KiB); 256 KiB out of order covers a loopback window's worth of reordering; 64 MiB in total
 * bounds the worst case of every connection holding out-of-order data.
 */
export const HTTP_CONNECTIONS_DEFAULTS = {
  maxConnections: 16384,
  maxHeadBytes: 65536,
  maxOutOfOrderBytesPerConnection: 262144,
  maxBufferedBytes: 64 * 1024 * 1024,
} as const;

/** A payload this long shows whether it starts a message ("OPTIONS " is 8 bytes; a status line's start is 9). */
const SHORTEST_CERTAIN_START = 9;
/** Requests remembered per connection while their responses are awaited (pipelining depth). */
const MAX_UNANSWERED = 64;
/** Out-of-order segments held per direction; bounds the cost of inserting one (1-byte segments are legal). */
const MAX_HELD_SEGMENTS = 1024;
/** A chunk-size line's extensions longer than this are not HTTP a server would accept. */
const MAX_CHUNK_LINE = 4096;

export interface HttpConnectionStats {
  /** Connections tracked now. */
  connections: number;
  /** Connections that started being tracked. */
  tracked: number;
  /** Dropped to make room for a new one (least recently used). */
  evicted: number;
  /** Freed after FIN or RST. */
  closed: number;
  /** Dropped because their bytes stopped parsing as HTTP (including heads over maxHeadBytes). */
  abandoned: number;
  /** Of the abandoned, those whose head or trailers outgrew maxHeadBytes. */
  headsTooLarge: number;
  /** Connections that became tunnels (CONNECT answered 2xx, 101 Switching Protocols) and are no longer read. */
  tunnels: number;
  /** Holes in a byte stream given up on (capture lost the segment, or it did not arrive within the bounds). */
  gaps: number;
  /** Bytes those holes spanned. */
  gapBytes: number;
  /** Bytes seen more than once (retransmissions, overlaps) and dropped. */
  duplicateBytes: number;
  /** Segments that arrived ahead of a hole and were held. */
  outOfOrderSegments: number;
  /** Bytes held now (out-of-order segments, unfinished heads). */
  bufferedBytes: number;
  /** Bytes skipped while resynchronising (after a gap, or a capture that started mid-connection). */
  resyncSkippedBytes: number;
  requests: number;
  responses: number;
  /** Body bytes skipped (counted, never buffered). */
  bodyBytes: number;
  /** Unexpected exceptions caught (the connection is dropped); a bug if ever non-zero. */
  internalErrors: number;
}

/** What a stream expects next. */
const Mode = {
  /** Waiting for a segment that starts like a message (after a gap, or for the answering side at first). */
  RESYNC: 0,
  HEAD: 1,
  /** A body of known length; `remaining` bytes to go. */
  BODY: 2,
  CHUNK_SIZE: 3,
  /** Chunk extensions, up to the end of the chunk-size line. */
  CHUNK_EXTENSION: 4,
  CHUNK_SIZE_LF: 5,
  CHUNK_DATA: 6,
  CHUNK_DATA_CR: 7,
  CHUNK_DATA_LF: 8,
  TRAILER: 9,
  /** A response body that ends with the connection. */
  UNTIL_CLOSE: 10,
  /** The client side after CONNECT, until the response says whether a tunnel follows. */
  TUNNEL_WAIT: 11,
  /** A tunnel: nothing more is read. */
  STOPPED: 12,
} as const;
type Mode = (typeof Mode)[keyof typeof Mode];

const CR = 0x0d;
const LF = 0x0a;

class HttpStream extends ByteStream {
  /** Whether this side sends requests or responses. */
  carries: MessageStart = MessageStart.NONE;
  /**
   * The hole before the held segments, once the peer has acknowledged past it: `next` then, and the capture time the
   * acknowledgement was seen (NaN while there is none).
   */
  acknowledgedHoleAt = 0;
  acknowledgedHoleSinceNs = NaN;
  mode: Mode = Mode.RESYNC;
  /** Body or chunk bytes still to skip; the chunk size while it is read. */
  remaining = 0;
  /** Significant hex digits of the chunk size read so far. */
  digits = 0;
  /** Whether the chunk size has any digit yet. */
  sawDigit = false;
  /** HEAD: whether the head's first byte has been seen. */
  headStarted = false;
  /** HEAD after resynchronising on a segment too short to show a whole message start: not yet confirmed. */
  tentative = false;
  /** Lines of the head (or trailer section) completed so far. */
  lines = 0;
  /** Bytes of the current line so far (CR included), carried from one segment to the next. */
  lineLength = 0;
  /** The byte before the current position when it lies in an earlier segment. */
  lastByte = 0;
  /** Trailer bytes so far. */
  trailerBytes = 0;
  /** End offset of the bytes being delivered (receive's `to`): the byte at offset x has sequence next - (to - x). */
  deliveredTo = 0;
  /** Head bytes from earlier segments (only when a head spans segments). */
  head: Uint8Array | undefined;
  headLength = 0;

  constructor(
    budget: BufferBudget,
    readonly connection: Connection,
  ) {
    super(budget);
  }
}

class Connection {
  readonly first: HttpStream;
  readonly second: HttpStream;
  /** Requests awaiting responses, oldest first. */
  readonly unanswered: PendingRequest[] = [];
  /** After a gap, responses can no longer be matched to requests: they are reported without one. */
  pairingLost = false;
  tunnel = false;
  /** Freed: whatever is still being delivered is ignored. */
  dead = false;
  /** Neighbours in the least-recently-used list (older, newer). */
  older: Connection | undefined;
  newer: Connection | undefined;

  constructor(
    readonly key: string,
    budget: BufferBudget,
  ) {
    this.first = new HttpStream(budget, this);
    this.second = new HttpStream(budget, this);
  }

  other(s: HttpStream): HttpStream {
    return s === this.first ? this.second : this.first;
  }
}

/**
 * How long a hole the receiver has acknowledged past is waited for before it is given up: a capture may show a
 * segment after the acknowledgement of it (captured on several queues, merged), by far less than this.
 */
const CAPTURE_REORDER_NS = 10_000_000;

/**
 * Notes that stream `s`'s receiver acknowledged up to `acknowledgement` at `timeNs`: if that is past the hole before
 * its first held segment, the hole is known to be lost from the capture once CAPTURE_REORDER_NS have passed.
 */
function noteAcknowledgedHole(s: HttpStream, acknowledgement: number, timeNs: number): void {
  if (!Number.isNaN(s.acknowledgedHoleSinceNs) && s.acknowledgedHoleAt === s.next) return;
  const first = s.firstHeldSequence;
  if (!s.initialized || first === undefined || sequenceDistance(acknowledgement, first) < 0) return;
  s.acknowledgedHoleAt = s.next;
  s.acknowledgedHoleSinceNs = timeNs;
}

/** Counters at zero: a tracker's before its first segment. */
export function emptyHttpConnectionStats(): HttpConnectionStats {
  return {
    connections: 0,
    tracked: 0,
    evicted: 0,
    closed: 0,
    abandoned: 0,
    headsTooLarge: 0,
    tunnels: 0,
    gaps: 0,
    gapBytes: 0,
    duplicateBytes: 0,
    outOfOrderSegments: 0,
    bufferedBytes: 0,
    resyncSkippedBytes: 0,
    requests: 0,
    responses: 0,
    bodyBytes: 0,
    internalErrors: 0,
  };
}

export class HttpConnections implements StreamReceiver<HttpStream> {
  readonly stats: HttpConnectionStats = emptyHttpConnectionStats();
  private readonly connections = new Map<string, Connection>();
  /** Least and most recently used connections: a list threaded through them, so a touch is O(1) and allocates nothing. */
  private oldest: Connection | undefined;
  private newest: Connection | undefined;
  /** 1 at each allowed port, or undefined for any port. */
  private readonly allowedPorts: Uint8Array | undefined;
  private readonly maxConnections: number;
  private readonly maxHeadBytes: number;
  private readonly maxOutOfOrderBytes: number;
  private readonly maxBufferedBytes: number;
  /** The spans found by the current segment() call: the first `found` of `spans` (reused objects). */
  private readonly spans: HttpMessageSpan[] = [];
  private found = 0;
  /**
   * spans[0, n) at index n, built once each: what segment() returns, so that no array is emptied and refilled per
   * segment (V8 drops an array's storage when its length is set to 0, and the next push allocates it again).
   */
  private readonly prefixes: (readonly HttpMessageSpan[])[] = [[]];
  private readonly framing = new BodyFraming();
  private readonly facts = new HeadFacts();
  /**
   * Answered requests, reusable from the next segment() call on (their heads may be in this call's spans): the first
   * `answeredCount` (the array is never emptied, for the reason given at `prefixes`).
   */
  private readonly answered: (PendingRequest | undefined)[] = [];
  private answeredCount = 0;
  private readonly pool: PendingRequest[] = [];
  private exchanges = 0;
  /** The acknowledgement of the segment being taken, or -1 without ACK, and the stream whose bytes it acknowledges. */
  private acknowledgement = -1;
  private acknowledged: HttpStream | undefined;

  constructor(options: HttpConnectionsOptions = {}) {
    const d = HTTP_CONNECTIONS_DEFAULTS;
    this.maxConnections = Math.max(1, options.maxConnections ?? d.maxConnections);
    this.maxHeadBytes = Math.max(64, options.maxHeadBytes ?? d.maxHeadBytes);
    this.maxOutOfOrderBytes = Math.max(0, options.maxOutOfOrderBytesPerConnection ?? d.maxOutOfOrderBytesPerConnection);
    this.maxBufferedBytes = Math.max(0, options.maxBufferedBytes ?? d.maxBufferedBytes);
    if (options.ports !== undefined && options.ports.length > 0) {
      this.allowedPorts = new Uint8Array(65536);
      for (const p of options.ports) if (Number.isInteger(p) && p >= 0 && p < 65536) this.allowedPorts[p] = 1;
    }
  }

  /**
   * Feeds one segment; returns the message heads it completed, as spans (a reused array of reused objects, valid
   * until the next call; empty for nearly every segment). Never throws.
   */
  segment(s: TcpSegment): readonly HttpMessageSpan[] {
    this.found = 0;
    if (this.answeredCount !== 0) this.recycle();
    try {
      this.take(s);
    } catch {
      this.stats.internalErrors++;
      try {
        const c = this.connections.get(s.connectionKey);
        if (c !== undefined) this.free(c);
      } catch {
        // nothing more to undo
      }
    }
    return this.prefix(this.found);
  }

  private prefix(n: number): readonly HttpMessageSpan[] {
    const prefixes = this.prefixes;
    while (prefixes.length <= n) prefixes.push(this.spans.slice(0, prefixes.length));
    return prefixes[n]!;
  }

  private take(s: TcpSegment): void {
    const bytes = s.bytes;
    let from = s.payloadStart;
    let to = s.payloadEnd;
    if (!(to <= bytes.length)) to = bytes.length;
    if (!(from >= 0)) from = 0;
    if (!(to >= from)) to = from;
    const flags = s.flags;
    this.acknowledgement = -1;
    this.acknowledged = undefined;
    let c = this.connections.get(s.connectionKey);
    if (c === undefined) {
      if (to === from || (flags & TcpFlag.RST) !== 0) return;
      let start = messageStart(bytes, from, to);
      // A client that writes its request a few bytes at a time: a segment too short to show a whole method and
      // space, whose bytes begin one, starts tracking as a tentative request (confirmed once the head shows more).
      const tentative =
        start === MessageStart.NONE &&
        to - from < SHORTEST_CERTAIN_START &&
        startsLike(MessageStart.REQUEST, bytes, from, to);
      if (tentative) start = MessageStart.REQUEST;
      else if (start === MessageStart.NONE) return;
      const ports = this.allowedPorts;
      if (ports !== undefined && ports[s.destinationPort] !== 1 && ports[s.sourcePort] !== 1) return;
      c = this.track(s, start, tentative);
    } else if (c !== this.newest) {
      this.unlink(c);
      this.append(c);
    }

    if (c.tunnel) {
      if ((flags & (TcpFlag.FIN | TcpFlag.RST)) !== 0) this.close(c);
      return;
    }
    let sequence = s.sequence >>> 0;
    const d = s.fromFirst ? c.first : c.second;
    if ((flags & TcpFlag.ACK) !== 0) {
      this.acknowledgement = s.acknowledgement >>> 0;
      this.acknowledged = c.other(d);
      noteAcknowledgedHole(this.acknowledged, this.acknowledgement, s.timeNs);
    }
    this.skipLostHole(c, c.first, s.timeNs);
    this.skipLostHole(c, c.second, s.timeNs);
    if (c.dead || c.tunnel) return;
    if ((flags & TcpFlag.SYN) !== 0) {
      if ((flags & TcpFlag.ACK) === 0) {
        // A new connection on the same addresses and ports: the tracked one is over.
        this.close(c);
        return;
      }
      sequence = (sequence + 1) >>> 0;
      if (!d.initialized) {
        d.start(sequence);
        d.mode = Mode.RESYNC;
      }
    }
    if (!d.initialized && to > from && startsLike(d.carries, bytes, from, to)) {
      d.start(sequence);
      d.mode = Mode.RESYNC;
    }
    if ((flags & TcpFlag.FIN) !== 0) {
      const finSequence = (sequence + (to - from)) >>> 0;
      if (!d.initialized) d.start(finSequence);
      d.fin(finSequence);
    }
    if (d.initialized && to > from) {
      const accepted = d.accept(bytes, from, to, sequence, s.timeNs, this);
      this.stats.duplicateBytes += d.duplicateBytes;
      d.duplicateBytes = 0;
      if (accepted === Accepted.HELD) {
        this.stats.outOfOrderSegments++;
        this.enforceBounds(c, d);
      }
      if (c.dead || c.tunnel) return;
    }
    if ((flags & TcpFlag.RST) !== 0) {
      this.forceDrain(c, d);
      this.forceDrain(c, c.other(d));
      if (!c.dead) this.close(c);
      return;
    }
    if (c.first.finSeen || c.second.finSeen) this.closeIfDone(c);
  }

  private track(s: TcpSegment, start: MessageStart, tentative: boolean): Connection {
    while (this.connections.size >= this.maxConnections && this.oldest !== undefined) {
      this.stats.evicted++;
      this.free(this.oldest);
    }
    const c = new Connection(s.connectionKey, this.stats);
    const d = s.fromFirst ? c.first : c.second;
    const o = c.other(d);
    d.carries = start;
    o.carries = start === MessageStart.REQUEST ? MessageStart.RESPONSE : MessageStart.REQUEST;
    const sequence = (s.sequence + ((s.flags & TcpFlag.SYN) !== 0 ? 1 : 0)) >>> 0;
    d.start(sequence);
    // A tentative start is read as after a gap: receive() takes it as a head to be confirmed.
    d.mode = tentative ? Mode.RESYNC : Mode.HEAD;
    // The peer's next byte is where this segment acknowledges up to; it may still be the tail of an earlier message
    // (a capture that starts mid-connection), so the peer's side starts by looking for a message start.
    if ((s.flags & TcpFlag.ACK) !== 0) o.start(s.acknowledgement);
    this.connections.set(c.key, c);
    this.append(c);
    this.stats.tracked++;
    this.stats.connections = this.connections.size;
    return c;
  }

  /** Frees the connection once a FIN ended a stream and nothing more is expected from the other side. */
  private closeIfDone(c: Connection): void {
    const { first, second } = c;
    for (const s of [first, second]) if (s.ended && s.mode === Mode.UNTIL_CLOSE) this.messageDone(s);
    if ((first.ended && (second.ended || this.idle(c, second))) || (second.ended && this.idle(c, first))) {
      this.close(c);
    } else if (first.finSeen && second.finSeen) {
      // Both sides are done sending and a hole remains that nothing will fill.
      this.forceDrain(c, first);
      this.forceDrain(c, second);
      if (!c.dead) this.close(c);
    }
  }

  private idle(c: Connection, s: HttpStream): boolean {
    if (!s.initialized) return true;
    if (s.heldBytes > 0) return false;
    if (s.carries === MessageStart.RESPONSE && c.unanswered.length > 0) return false;
    return s.mode === Mode.RESYNC || (s.mode === Mode.HEAD && !s.headStarted);
  }

  private close(c: Connection): void {
    this.stats.closed++;
    this.free(c);
  }

  private abandon(c: Connection): void {
    this.stats.abandoned++;
    this.free(c);
  }

  private free(c: Connection): void {
    if (c.dead) return;
    c.dead = true;
    c.first.release();
    c.second.release();
    this.releaseHead(c.first);
    this.releaseHead(c.second);
    this.dropUnanswered(c);
    this.connections.delete(c.key);
    this.unlink(c);
    this.stats.connections = this.connections.size;
  }

  private append(c: Connection): void {
    c.older = this.newest;
    c.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = c;
    else this.oldest = c;
    this.newest = c;
  }

  private unlink(c: Connection): void {
    if (c.older !== undefined) c.older.newer = c.newer;
    else if (this.oldest === c) this.oldest = c.newer;
    if (c.newer !== undefined) c.newer.older = c.older;
    else if (this.newest === c) this.newest = c.older;
    c.older = undefined;
    c.newer = undefined;
  }

  private enforceBounds(c: Connection, d: HttpStream): void {
    const o = c.other(d);
    while (
      !c.dead &&
      !c.tunnel &&
      (d.heldBytes + o.heldBytes > this.maxOutOfOrderBytes ||
        this.stats.bufferedBytes > this.maxBufferedBytes ||
        d.heldSegments > MAX_HELD_SEGMENTS)
    ) {
      const s = d.heldBytes > 0 ? d : o;
      if (s.heldBytes === 0) return;
      this.skipGap(c, s);
      if (!s.drain(this)) return;
    }
  }

  /**
   * Gives up the hole of stream `s` its receiver acknowledged past at least CAPTURE_REORDER_NS ago (see
   * noteAcknowledgedHole): the receiver has those bytes, so the capture lost them and no retransmission will fill the
   * hole. What is held after it is read now (with the time and, in its flow, the sides of the packet being taken),
   * not when the connection ends or the bounds are reached.
   */
  private skipLostHole(c: Connection, s: HttpStream, timeNs: number): void {
    if (Number.isNaN(s.acknowledgedHoleSinceNs) || timeNs - s.acknowledgedHoleSinceNs < CAPTURE_REORDER_NS) return;
    s.acknowledgedHoleSinceNs = NaN;
    if (c.dead || c.tunnel || s.heldBytes === 0 || s.next !== s.acknowledgedHoleAt) return;
    this.skipGap(c, s);
    s.drain(this);
  }

  /** Gives up every hole of the stream, delivering what is held after them. */
  private forceDrain(c: Connection, s: HttpStream): void {
    while (!c.dead && !c.tunnel && s.heldBytes > 0) {
      this.skipGap(c, s);
      if (!s.drain(this)) return;
    }
  }

  private skipGap(c: Connection, s: HttpStream): void {
    const skipped = s.skipToHeld();
    if (skipped <= 0) return;
    this.stats.gaps++;
    this.stats.gapBytes += skipped;
    // A hole inside a body of known length changes nothing but the count left to skip.
    if ((s.mode === Mode.BODY || s.mode === Mode.CHUNK_DATA) && skipped <= s.remaining) {
      s.remaining -= skipped;
      if (s.remaining === 0) {
        if (s.mode === Mode.BODY) this.messageDone(s);
        else s.mode = Mode.CHUNK_DATA_CR;
      }
      return;
    }
    if (s.mode === Mode.UNTIL_CLOSE || s.mode === Mode.TUNNEL_WAIT) return;
    // Whole messages may have been lost: read on from the next segment that starts like one, and stop pairing
    // responses with requests (which request a response answers is no longer known).
    this.releaseHead(s);
    s.headStarted = false;
    s.tentative = false;
    s.mode = Mode.RESYNC;
    c.pairingLost = true;
    this.dropUnanswered(c);
  }

  /** In-order bytes of one stream (StreamReceiver). False when the connection was freed or became a tunnel. */
  receive(d: HttpStream, b: Uint8Array, from: number, to: number, timeNs: number): boolean {
    const c = d.connection;
    if (c.dead || c.tunnel) return false;
    d.deliveredTo = to;
    let i = from;
    if (d.mode === Mode.RESYNC) {
      if (!startsLike(d.carries, b, i, to)) {
        this.stats.resyncSkippedBytes += to - i;
        return true;
      }
      d.mode = Mode.HEAD;
      // Too short to tell: confirmed once the head holds enough bytes, or dropped for the next segment's start.
      d.tentative = messageStart(b, i, to) !== d.carries;
    }
    const stats = this.stats;
    while (i < to && !c.dead && !c.tunnel) {
      switch (d.mode) {
        case Mode.HEAD:
          i = this.readHead(c, d, b, i, to, timeNs);
          break;
        case Mode.BODY: {
          const n = Math.min(d.remaining, to - i);
          d.remaining -= n;
          i += n;
          stats.bodyBytes += n;
          if (d.remaining === 0) this.messageDone(d);
          break;
        }
        case Mode.CHUNK_SIZE: {
          const x = b[i]!;
          const v = hexValue(x);
          if (v >= 0) {
            d.sawDigit = true;
            if ((d.remaining !== 0 || v !== 0) && ++d.digits > 13) return this.abandoned(c);
            d.remaining = d.remaining * 16 + v;
            i++;
          } else i = this.chunkSizeEnd(c, d, x, i);
          break;
        }
        case Mode.CHUNK_EXTENSION: {
          const lf = lineFeedIn(b, i, to);
          if (lf < 0) {
            d.lineLength += to - i;
            i = to;
            if (d.lineLength > MAX_CHUNK_LINE) return this.abandoned(c);
          } else {
            d.lineLength += lf - i;
            i = lf + 1;
            if (d.lineLength > MAX_CHUNK_LINE) return this.abandoned(c);
            this.chunkSizeDone(d);
          }
          break;
        }
        case Mode.CHUNK_SIZE_LF:
          if (b[i] !== LF) return this.abandoned(c);
          i++;
          this.chunkSizeDone(d);
          break;
        case Mode.CHUNK_DATA: {
          const n = Math.min(d.remaining, to - i);
          d.remaining -= n;
          i += n;
          stats.bodyBytes += n;
          if (d.remaining === 0) d.mode = Mode.CHUNK_DATA_CR;
          break;
        }
        case Mode.CHUNK_DATA_CR:
          if (b[i] === CR) d.mode = Mode.CHUNK_DATA_LF;
          else if (b[i] === LF) this.chunkSizeStart(d);
          else return this.abandoned(c);
          i++;
          break;
        case Mode.CHUNK_DATA_LF:
          if (b[i] !== LF) return this.abandoned(c);
          i++;
          this.chunkSizeStart(d);
          break;
        case Mode.TRAILER:
          i = this.readTrailer(c, d, b, i, to);
          break;
        case Mode.UNTIL_CLOSE:
        case Mode.TUNNEL_WAIT:
          stats.bodyBytes += to - i;
          i = to;
          break;
        default:
          i = to;
      }
    }
    return !c.dead && !c.tunnel;
  }

  private abandoned(c: Connection): false {
    this.abandon(c);
    return false;
  }

  /** Reads toward the blank line that ends a head; completes the head when it is found. */
  private readHead(c: Connection, d: HttpStream, b: Uint8Array, i: number, to: number, timeNs: number): number {
    if (!d.headStarted) {
      // Empty lines before a message are allowed (RFC 9112 section 2.2), e.g. a CRLF some clients send after a body.
      while (i < to && (b[i] === CR || b[i] === LF)) i++;
      if (i === to) return to;
      const first = b[i]!;
      if (d.carries === MessageStart.REQUEST ? !isTokenByte(first) : first !== 0x48) {
        this.abandon(c);
        return to;
      }
      d.headStarted = true;
      d.lines = 0;
      d.lineLength = 0;
      d.lastByte = 0;
      // The common case, a head that starts and ends in this segment: found and checked in one pass over its lines.
      if (!d.tentative) {
        const end = scanHeadIn(this.kindOf(d), b, i, to, this.framing, this.facts);
        if (end !== HEAD_INCOMPLETE) return this.headIn(c, d, b, i, end, timeNs);
      }
    }
    const start = i;
    let lineStart = i;
    for (;;) {
      const lf = lineFeedIn(b, lineStart, to);
      if (lf < 0) break;
      const length = d.lineLength + (lf - lineStart);
      const last = lf > lineStart ? b[lf - 1] : d.lastByte;
      d.lineLength = 0;
      if (d.lines > 0 && (length === 0 || (length === 1 && last === CR))) {
        return this.completeHead(c, d, b, start, lf + 1, timeNs);
      }
      d.lines++;
      lineStart = lf + 1;
    }
    if (lineStart < to) {
      d.lineLength += to - lineStart;
      d.lastByte = b[to - 1]!;
    }
    if (d.headLength + (to - start) > this.maxHeadBytes) {
      this.stats.headsTooLarge++;
      this.abandon(c);
      return to;
    }
    if (this.appendHead(c, d, b, start, to) && d.tentative && d.headLength >= 9) {
      if (messageStart(d.head!, 0, d.headLength) === d.carries) d.tentative = false;
      else this.resync(d, d.headLength);
    }
    return to;
  }

  private kindOf(d: HttpStream): 'request' | 'response' {
    return d.carries === MessageStart.REQUEST ? 'request' : 'response';
  }

  /** A head that started and ended in this segment, b[start, end), already scanned: as completeHead() takes one. */
  private headIn(c: Connection, d: HttpStream, b: Uint8Array, start: number, end: number, timeNs: number): number {
    if (end - start > this.maxHeadBytes) {
      this.stats.headsTooLarge++;
      this.abandon(c);
      return end;
    }
    if (!this.facts.wellFormed) {
      this.abandon(c);
      return end;
    }
    d.headStarted = false;
    const kind = this.kindOf(d);
    const span = this.nextSpan(kind, b, start, end, timeNs, d === c.first);
    if (kind === 'request') this.onRequest(c, d, span, end);
    else this.onResponse(c, d, span);
    return end;
  }

  /** A tentative message start that turned out not to be one: look for the next. */
  private resync(d: HttpStream, skipped: number): void {
    this.stats.resyncSkippedBytes += skipped;
    this.releaseHead(d);
    d.headStarted = false;
    d.tentative = false;
    d.mode = Mode.RESYNC;
  }

  private completeHead(
    c: Connection,
    d: HttpStream,
    b: Uint8Array,
    start: number,
    end: number,
    timeNs: number,
  ): number {
    if (d.headLength + (end - start) > this.maxHeadBytes) {
      this.stats.headsTooLarge++;
      this.abandon(c);
      return end;
    }
    const kind = d.carries === MessageStart.REQUEST ? 'request' : 'response';
    let headBytes = b;
    let headStart = start;
    let headEnd = end;
    if (d.headLength === 0) {
      if (d.tentative && messageStart(b, start, end) !== d.carries) {
        this.resync(d, end - start);
        return end;
      }
    } else {
      if (!this.appendHead(c, d, b, start, end)) return end;
      if (d.tentative && messageStart(d.head!, 0, d.headLength) !== d.carries) {
        this.resync(d, d.headLength);
        return end;
      }
      // The span keeps the buffer: it is released here, not reused (a new one is made for the next long head).
      headBytes = d.head!;
      headStart = 0;
      headEnd = d.headLength;
      this.releaseHead(d);
    }
    d.headStarted = false;
    d.tentative = false;
    if (!scanHead(kind, headBytes, headStart, headEnd, this.framing, this.facts)) {
      this.abandon(c);
      return end;
    }
    const span = this.nextSpan(kind, headBytes, headStart, headEnd, timeNs, d === c.first);
    if (kind === 'request') this.onRequest(c, d, span, end);
    else this.onResponse(c, d, span);
    return end;
  }

  private nextSpan(
    kind: 'request' | 'response',
    bytes: Uint8Array,
    start: number,
    end: number,
    timeNs: number,
    fromFirst: boolean,
  ): HttpMessageSpan {
    let span = this.spans[this.found];
    if (span === undefined) {
      span = {
        kind,
        bytes,
        start,
        end,
        requestBytes: EMPTY,
        requestStart: 0,
        requestEnd: 0,
        timeNs,
        requestTimeNs: NaN,
        exchange: -1,
        fromFirst,
      };
      this.spans.push(span);
    } else {
      span.kind = kind;
      span.bytes = bytes;
      span.start = start;
      span.end = end;
      span.requestBytes = EMPTY;
      span.requestStart = 0;
      span.requestEnd = 0;
      span.timeNs = timeNs;
      span.requestTimeNs = NaN;
      span.exchange = -1;
      span.fromFirst = fromFirst;
    }
    this.found++;
    return span;
  }

  /** A response's span names the request it answers. */
  private answer(span: HttpMessageSpan, request: PendingRequest | undefined): void {
    if (request === undefined) return;
    span.requestBytes = request.head;
    span.requestStart = 0;
    span.requestEnd = request.length;
    span.requestTimeNs = request.timeNs;
    span.exchange = request.exchange;
  }

  /** Copies a request's head to await its response; its buffer counts against maxBufferedBytes. */
  private pend(c: Connection, span: HttpMessageSpan, endSequence: number): void {
    const length = span.end - span.start;
    let pending = this.pool.pop();
    if (pending === undefined) pending = new PendingRequest();
    const size = pending.head.length >= length ? pending.head.length : Math.max(length, 256);
    if (this.stats.bufferedBytes + size > this.maxBufferedBytes) {
      // No room to remember it: its response will come without it.
      this.pool.push(pending);
      c.pairingLost = true;
      this.dropUnanswered(c);
      return;
    }
    if (pending.head.length < length) pending.head = new Uint8Array(size);
    pending.head.set(span.bytes.subarray(span.start, span.end));
    pending.length = length;
    pending.timeNs = span.timeNs;
    pending.method = this.facts.method;
    pending.exchange = span.exchange;
    pending.endSequence = endSequence;
    this.stats.bufferedBytes += pending.head.length;
    c.unanswered.push(pending);
  }

  /** A request that was answered (or will never be): reusable once the current segment() call's spans are read. */
  private retire(pending: PendingRequest): void {
    this.stats.bufferedBytes -= pending.head.length;
    const answered = this.answered;
    if (this.answeredCount < answered.length) answered[this.answeredCount] = pending;
    else answered.push(pending);
    this.answeredCount++;
  }

  private dropUnanswered(c: Connection): void {
    for (const pending of c.unanswered) this.retire(pending);
    c.unanswered.length = 0;
  }

  private recycle(): void {
    const answered = this.answered;
    for (let i = 0; i < this.answeredCount; i++) {
      const pending = answered[i]!;
      answered[i] = undefined; // not kept alive (with its head buffer) past its reuse
      if (this.pool.length < POOLED_REQUESTS && pending.head.length <= POOLED_HEAD_BYTES) this.pool.push(pending);
    }
    this.answeredCount = 0;
  }

  /** Copies head bytes spanning segments; false (connection abandoned) when the total budget is spent. */
  private appendHead(c: Connection, d: HttpStream, b: Uint8Array, from: number, to: number): boolean {
    const need = d.headLength + (to - from);
    let buffer = d.head;
    if (buffer === undefined || buffer.length < need) {
      const had = buffer?.length ?? 0;
      const size = Math.min(this.maxHeadBytes, Math.max(need, 2 * had, 1024));
      if (this.stats.bufferedBytes + size - had > this.maxBufferedBytes) {
        this.abandon(c);
        return false;
      }
      const grown = new Uint8Array(size);
      if (buffer !== undefined) grown.set(buffer.subarray(0, d.headLength));
      this.stats.bufferedBytes += size - had;
      d.head = buffer = grown;
    }
    buffer.set(b.subarray(from, to), d.headLength);
    d.headLength = need;
    return true;
  }

  private releaseHead(d: HttpStream): void {
    if (d.head !== undefined) {
      this.stats.bufferedBytes -= d.head.length;
      d.head = undefined;
    }
    d.headLength = 0;
  }

  /** A request whose head ends at offset `end` of the bytes being delivered. */
  private onRequest(c: Connection, d: HttpStream, span: HttpMessageSpan, end: number): void {
    this.stats.requests++;
    span.exchange = this.exchanges++;
    const method = this.facts.method;
    if (!c.pairingLost) {
      if (c.unanswered.length >= MAX_UNANSWERED) this.retire(c.unanswered.shift()!);
      this.pend(c, span, (d.next - (d.deliveredTo - end)) >>> 0);
    }
    if (method === MethodKind.CONNECT) {
      d.mode = Mode.TUNNEL_WAIT;
      return;
    }
    const framing = this.framing;
    if (framing.chunked) this.chunkSizeStart(d);
    else this.bodyOf(d, framing.contentLength);
  }

  private onResponse(c: Connection, d: HttpStream, span: HttpMessageSpan): void {
    this.stats.responses++;
    const code = this.facts.code;
    const client = c.other(d);
    // The first request waiting, unless the server had not yet received it when it sent this response (its segment's
    // acknowledgement is short of the request's end): then this answers a request sent before tracking began.
    const first = c.unanswered[0];
    const waiting = first !== undefined && !this.receivedBefore(first, client) ? undefined : first;
    if (code < 200) {
      this.answer(span, waiting);
      if (code === 101) {
        this.becomeTunnel(c);
        return;
      }
      // Interim (100 Continue, 102, 103): it names its request, but the final response that follows is the one that
      // answers it, timed from it; tshark gives an interim response no time either (and Hubble's proxy logs none).
      span.requestTimeNs = NaN;
      this.messageDone(d);
      return;
    }
    const request = waiting !== undefined ? c.unanswered.shift() : undefined;
    this.answer(span, request);
    if (request !== undefined) this.retire(request);
    if (request === undefined && !c.pairingLost && this.answersUnread(client)) {
      // The server has client bytes not read here yet (a hole, or a request still in flight in the capture): the
      // request this answers may be among them, so later responses could no longer be matched by counting.
      c.pairingLost = true;
    }
    const connect = request !== undefined ? request.method === MethodKind.CONNECT : client.mode === Mode.TUNNEL_WAIT;
    if (connect) {
      if (code < 300) {
        this.becomeTunnel(c);
        return;
      }
      if (client.mode === Mode.TUNNEL_WAIT) client.mode = Mode.RESYNC;
    }
    const framing = this.framing;
    if (request?.method === MethodKind.HEAD || code === 204 || code === 304) this.messageDone(d);
    else if (framing.chunked) this.chunkSizeStart(d);
    else if (framing.contentLength >= 0) this.bodyOf(d, framing.contentLength);
    else d.mode = Mode.UNTIL_CLOSE;
  }

  /**
   * False when the segment being taken is the server's and acknowledges less of the client's stream than the end of
   * `request`: the server could not have been answering it. True otherwise (no acknowledgement to go by).
   */
  private receivedBefore(request: PendingRequest, client: HttpStream): boolean {
    if (this.acknowledgement < 0 || this.acknowledged !== client) return true;
    return sequenceDistance(this.acknowledgement, request.endSequence) >= 0;
  }

  /** Whether the server acknowledged client bytes this side has not delivered (the segment's ACK is ahead of them). */
  private answersUnread(client: HttpStream): boolean {
    if (client.heldBytes > 0 || client.headStarted) return true;
    return (
      this.acknowledgement >= 0 &&
      this.acknowledged === client &&
      client.initialized &&
      sequenceDistance(this.acknowledgement, client.next) > 0
    );
  }

  private becomeTunnel(c: Connection): void {
    this.stats.tunnels++;
    c.tunnel = true;
    for (const s of [c.first, c.second]) {
      s.release();
      this.releaseHead(s);
      s.mode = Mode.STOPPED;
    }
    this.dropUnanswered(c);
  }

  private bodyOf(d: HttpStream, length: number): void {
    if (length > 0) {
      d.mode = Mode.BODY;
      d.remaining = length;
    } else this.messageDone(d);
  }

  private messageDone(d: HttpStream): void {
    d.mode = Mode.HEAD;
    d.headStarted = false;
    d.remaining = 0;
  }

  private chunkSizeStart(d: HttpStream): void {
    d.mode = Mode.CHUNK_SIZE;
    d.remaining = 0;
    d.digits = 0;
    d.sawDigit = false;
  }

  /** The byte x at i ends the chunk size's digits. */
  private chunkSizeEnd(c: Connection, d: HttpStream, x: number, i: number): number {
    if (!d.sawDigit) {
      this.abandon(c);
      return i + 1;
    }
    if (x === CR) d.mode = Mode.CHUNK_SIZE_LF;
    else if (x === LF) this.chunkSizeDone(d);
    else if (x === 0x3b || x === 0x20 || x === 0x09) {
      d.mode = Mode.CHUNK_EXTENSION;
      d.lineLength = 0;
    } else this.abandon(c);
    return i + 1;
  }

  private chunkSizeDone(d: HttpStream): void {
    if (d.remaining === 0) {
      d.mode = Mode.TRAILER;
      d.lineLength = 0;
      d.lastByte = 0;
      d.trailerBytes = 0;
    } else d.mode = Mode.CHUNK_DATA;
  }

  /** Trailer fields after the last chunk, up to the blank line that ends the message. */
  private readTrailer(c: Connection, d: HttpStream, b: Uint8Array, i: number, to: number): number {
    while (i < to) {
      const lf = lineFeedIn(b, i, to);
      if (lf < 0) {
        d.lineLength += to - i;
        d.trailerBytes += to - i;
        d.lastByte = b[to - 1]!;
        if (d.trailerBytes > this.maxHeadBytes) {
          this.stats.headsTooLarge++;
          this.abandon(c);
        }
        return to;
      }
      const length = d.lineLength + (lf - i);
      const last = lf > i ? b[lf - 1] : d.lastByte;
      d.trailerBytes += lf + 1 - i;
      d.lineLength = 0;
      i = lf + 1;
      if (length === 0 || (length === 1 && last === CR)) {
        this.messageDone(d);
        return i;
      }
      if (d.trailerBytes > this.maxHeadBytes) {
        this.stats.headsTooLarge++;
        this.abandon(c);
        return to;
      }
    }
    return i;
  }
}

function hexValue(x: number): number {
  if (x >= 0x30 && x <= 0x39) return x - 0x30;
  const lower = x | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

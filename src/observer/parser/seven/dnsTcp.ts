// DNS over TCP from captured segments: each connection's two byte streams put back in order (tcpReassembly.ts) and
// read as a sequence of length-prefixed messages (RFC 1035 section 4.2.2), so that a message split over segments (a
// large answer, a server writing the length apart from the message) is read once it is whole, and a retransmitted
// segment yields nothing twice. A message within one segment is handed on where it lies; only one that spans segments
// is copied, into a buffer of its declared length.
//
// Connections on port 53 are tracked, from their SYN or from a segment that starts like a message; off port 53 a
// segment is DNS only when it is exactly one well-formed message (isStrictTcpDnsSegment), read on its own. What is
// kept is bounded: connections (least recently used evicted), out-of-order bytes per connection, and bytes buffered in total.
// DNS over TCP has no marker to resynchronise on, so a connection whose stream has a hole, or whose length prefix
// cannot be a message's, is given up (abandoned).
import { isStrictDnsMessage } from '../../../packet/dns.js';
import { TcpFlag } from '../../../packet/protocols.js';
import { ByteStream, Accepted, type StreamReceiver, type TcpSegment } from './tcpReassembly.js';
import { uint16At } from '../../../packet/format.js';

/** One message found in a stream: bytes[start, end), valid until the next segment() call. */
export interface DnsTcpSpan {
  bytes: Uint8Array;
  start: number;
  end: number;
  /** Capture time of the segment that completed the message, as the segment's timeNs. */
  timeNs: number;
}

export interface DnsTcpStats {
  /** Connections tracked now. */
  connections: number;
  /** Connections that started being tracked. */
  tracked: number;
  /** Dropped to make room for a new one (least recently used). */
  evicted: number;
  /** Given up: a hole in a stream, a length prefix no message has, or a message the connection's end cut short. */
  abandoned: number;
  /** Bytes held now (out-of-order segments, messages spanning segments). */
  bufferedBytes: number;
  /** Messages read. */
  messages: number;
}

export function emptyDnsTcpStats(): DnsTcpStats {
  return { connections: 0, tracked: 0, evicted: 0, abandoned: 0, bufferedBytes: 0, messages: 0 };
}

/** Connections tracked at once; the least recently used one is evicted to make room. */
const MAX_CONNECTIONS = 4096;
/** Out-of-order bytes held per connection (both directions) before it is given up. */
const MAX_OUT_OF_ORDER_BYTES = 256 * 1024;
/** Bytes held over all connections. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Out-of-order segments held per direction. */
const MAX_HELD_SEGMENTS = 256;
const DNS_HEADER_LENGTH = 12;

class DnsTcpStream extends ByteStream {
  /** The length prefix's first byte, when the prefix spans segments; -1 otherwise. */
  lengthHigh = -1;
  /** Declared length of the message being read; 0 while its length prefix is awaited. */
  need = 0;
  /** The message being read across segments, and how much of it has arrived. */
  message: Uint8Array | undefined;
  filled = 0;

  constructor(
    budget: DnsTcpStats,
    readonly connection: DnsTcpConnection,
  ) {
    super(budget);
  }
}

class DnsTcpConnection {
  readonly first: DnsTcpStream;
  readonly second: DnsTcpStream;
  dead = false;

  constructor(
    readonly key: string,
    budget: DnsTcpStats,
  ) {
    this.first = new DnsTcpStream(budget, this);
    this.second = new DnsTcpStream(budget, this);
  }
}

export class DnsTcpStreams implements StreamReceiver<DnsTcpStream> {
  readonly stats: DnsTcpStats = emptyDnsTcpStats();
  /** In least recently used order (a touched connection is moved to the end). */
  private readonly connections = new Map<string, DnsTcpConnection>();
  private readonly spans: DnsTcpSpan[] = [];
  private found = 0;

  /** Feeds one segment to or from port 53. Returns the number of messages it completed: spanAt(0 .. n - 1). */
  segment(s: TcpSegment): number {
    this.found = 0;
    const bytes = s.bytes;
    const from = s.payloadStart;
    const to = Math.min(s.payloadEnd, bytes.length);
    const flags = s.flags;
    let c = this.connections.get(s.connectionKey);
    if (c !== undefined && (flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) {
      // A new connection on the same addresses and ports: the tracked one is over.
      this.free(c);
      c = undefined;
    }
    if (c === undefined) {
      if ((flags & TcpFlag.RST) !== 0) return 0;
      if ((flags & TcpFlag.SYN) === 0 && !startsLikeMessage(bytes, from, to)) return 0;
      c = this.track(s.connectionKey);
    } else {
      // Most recently used last.
      this.connections.delete(c.key);
      this.connections.set(c.key, c);
    }
    const d = s.fromFirst ? c.first : c.second;
    let sequence = s.sequence >>> 0;
    if ((flags & TcpFlag.SYN) !== 0) sequence = (sequence + 1) >>> 0;
    if (!d.initialized) d.start(sequence);
    // The peer's next byte is where this segment acknowledges up to.
    const peer = d === c.first ? c.second : c.first;
    if ((flags & TcpFlag.ACK) !== 0 && !peer.initialized) peer.start(s.acknowledgement);
    if (to > from) {
      const accepted = d.accept(bytes, from, to, sequence, s.timeNs, this);
      if (accepted === Accepted.HELD) this.enforceBounds(c, d);
    }
    if (c.dead) return this.found;
    if ((flags & TcpFlag.FIN) !== 0) d.fin((sequence + (to - from)) >>> 0);
    if ((flags & TcpFlag.RST) !== 0 || (c.first.finSeen && c.second.finSeen)) {
      // Bytes still waiting for a hole to fill, or a message cut short, will never be read.
      if (unfinished(c.first) || unfinished(c.second)) this.stats.abandoned++;
      this.free(c);
    }
    return this.found;
  }

  /** The i-th message the last segment() call completed (a reused object). */
  spanAt(i: number): DnsTcpSpan {
    return this.spans[i]!;
  }

  /** In-order bytes of one stream (StreamReceiver): length prefixes and messages. */
  receive(d: DnsTcpStream, b: Uint8Array, from: number, to: number, timeNs: number): boolean {
    const c = d.connection;
    let i = from;
    while (i < to) {
      if (d.need === 0) {
        let length: number;
        if (d.lengthHigh >= 0) {
          length = (d.lengthHigh << 8) | b[i]!;
          d.lengthHigh = -1;
          i++;
        } else if (to - i >= 2) {
          length = uint16At(b, i);
          i += 2;
        } else {
          d.lengthHigh = b[i]!;
          i++;
          continue;
        }
        if (length < DNS_HEADER_LENGTH) return this.abandon(c);
        d.need = length;
        d.filled = 0;
        continue;
      }
      const n = Math.min(d.need - d.filled, to - i);
      if (d.filled === 0 && n === d.need) {
        this.add(b, i, i + n, timeNs);
        i += n;
        d.need = 0;
        continue;
      }
      if (d.message === undefined) {
        if (this.stats.bufferedBytes + d.need > MAX_BUFFERED_BYTES) return this.abandon(c);
        d.message = new Uint8Array(d.need);
        this.stats.bufferedBytes += d.need;
      }
      d.message.set(b.subarray(i, i + n), d.filled);
      d.filled += n;
      i += n;
      if (d.filled === d.need) {
        // The span keeps the buffer until the next call; the stream lets go of it.
        this.add(d.message, 0, d.need, timeNs);
        this.releaseMessage(d);
        d.need = 0;
      }
    }
    return true;
  }

  private add(bytes: Uint8Array, start: number, end: number, timeNs: number): void {
    let span = this.spans[this.found];
    if (span === undefined) {
      span = { bytes, start, end, timeNs };
      this.spans.push(span);
    } else {
      span.bytes = bytes;
      span.start = start;
      span.end = end;
      span.timeNs = timeNs;
    }
    this.found++;
    this.stats.messages++;
  }

  private track(key: string): DnsTcpConnection {
    while (this.connections.size >= MAX_CONNECTIONS) {
      const oldest = this.connections.values().next().value as DnsTcpConnection;
      this.stats.evicted++;
      this.free(oldest);
    }
    const c = new DnsTcpConnection(key, this.stats);
    this.connections.set(key, c);
    this.stats.tracked++;
    this.stats.connections = this.connections.size;
    return c;
  }

  private enforceBounds(c: DnsTcpConnection, d: DnsTcpStream): void {
    if (c.first.heldBytes + c.second.heldBytes > MAX_OUT_OF_ORDER_BYTES) this.abandon(c);
    else if (this.stats.bufferedBytes > MAX_BUFFERED_BYTES || d.heldSegments > MAX_HELD_SEGMENTS) this.abandon(c);
  }

  private abandon(c: DnsTcpConnection): false {
    this.stats.abandoned++;
    this.free(c);
    return false;
  }

  private free(c: DnsTcpConnection): void {
    if (c.dead) return;
    c.dead = true;
    for (const d of [c.first, c.second]) {
      d.release();
      this.releaseMessage(d);
    }
    this.connections.delete(c.key);
    this.stats.connections = this.connections.size;
  }

  private releaseMessage(d: DnsTcpStream): void {
    if (d.message === undefined) return;
    this.stats.bufferedBytes -= d.message.length;
    d.message = undefined;
  }
}

/** Whether a stream holds bytes it could not read yet: segments beyond a hole, or part of a message. */
function unfinished(d: DnsTcpStream): boolean {
  return d.heldSegments > 0 || d.need > 0 || d.lengthHigh >= 0;
}

/**
 * Whether a segment's payload b[from, to) starts with a length prefix and the header of a DNS message: a standard
 * query or response (opcode 0, Z bit clear) with a question, and no more records than its declared length can hold.
 */
function startsLikeMessage(b: Uint8Array, from: number, to: number): boolean {
  if (to - from < 2 + DNS_HEADER_LENGTH) return false;
  const length = uint16At(b, from);
  const h = from + 2;
  if (length < DNS_HEADER_LENGTH || (uint16At(b, h + 2) & 0x7840) !== 0 || uint16At(b, h + 4) === 0) return false;
  return (
    (uint16At(b, h + 4) + uint16At(b, h + 6) + uint16At(b, h + 8) + uint16At(b, h + 10)) * 5 <=
    length - DNS_HEADER_LENGTH
  );
}

/** A TCP segment that is exactly one length-prefixed, well-formed DNS message (as DNS off port 53 must be). */
export function isStrictTcpDnsSegment(b: Uint8Array, from: number, to: number): boolean {
  return to - from > 2 && uint16At(b, from) === to - from - 2 && isStrictDnsMessage(b, from + 2, to);
}

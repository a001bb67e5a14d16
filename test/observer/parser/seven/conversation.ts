// TCP conversations for the HTTP connection tests: each side's byte stream with its own sequence numbers, cut into
// segments as the test says, so a test reads as "the client sends this, the server answers that".
import { TcpFlag } from '../../../../src/packet/protocols.js';
import type {
  HttpConnections,
  HttpMessageHead,
  TcpSegment,
} from '../../../../src/observer/parser/seven/httpConnections.js';

export const encode = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));

export interface SegmentSpec {
  fromClient: boolean;
  /** Offset of the first byte in that side's stream. */
  offset: number;
  data: Uint8Array;
  flags: number;
  /** Offset in the other side's stream this segment acknowledges (what that side had sent when it was cut). */
  acknowledges: number;
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
    into.timeNs = this.time += 1000;
    into.sourcePort = spec.fromClient ? this.clientPort : this.serverPort;
    into.destinationPort = spec.fromClient ? this.serverPort : this.clientPort;
    return into;
  }

  /** Feeds every segment and collects the heads, copying them out of the reused result array. */
  feed(http: HttpConnections, specs: readonly SegmentSpec[]): HttpMessageHead[] {
    const heads: HttpMessageHead[] = [];
    const s = emptySegment();
    for (const spec of specs) heads.push(...http.segment(this.toSegment(spec, s)));
    return heads;
  }
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
export function summary(h: HttpMessageHead): string {
  if (h.kind === 'request') return `${h.method} ${h.target}`;
  return h.request === undefined ? `${h.code}` : `${h.code} <- ${h.request.method} ${h.request.target}`;
}

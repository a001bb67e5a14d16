// The L7 parser: DNS messages and HTTP/1.x message heads read from the packets themselves, each an L7 flow as Hubble
// shows the ones its proxy logs, beside the packet's own L3/L4 flow. At ingest it finds the messages and their
// latency and adds them to the L7 store as records (kind, latency, the message's bytes: no strings or objects per
// message); l7FlowOf() decodes a record into its flow when someone reads it. Most packets carry no message, and cost
// a port check or one lookup. It runs in the Observer's thread or in a worker thread of its own (see offload.ts).
import { hasDnsQuestion, hasStrictDnsHeader, isStrictDnsMessage } from '../../../packet/dns.js';
import { IpProtocol, TcpFlag } from '../../../packet/protocols.js';
import { DnsTransactions, type DnsEnds } from './dns.js';
import { DnsTcpStreams, isStrictTcpDnsSegment, type DnsTcpStats } from './dnsTcp.js';
import { HttpConnections, type HttpConnectionsOptions } from './httpConnections.js';
import type { TcpSegment } from './tcpReassembly.js';
import { L7Kind, type L7Store } from './l7Store.js';
import { uint16At } from '../../../packet/format.js';

/** The L7 protocols read from packets (`--l7`). */
export const L7_PROTOCOLS = ['dns', 'http'] as const;
export type L7Protocol = (typeof L7_PROTOCOLS)[number];

export interface SevenParserOptions {
  /** Protocols to read; both by default. */
  protocols?: readonly L7Protocol[];
  /** Ports HTTP is looked for on (either end); any port when empty or absent. */
  httpPorts?: readonly number[];
  /** Keep credential headers' values instead of redacting them. */
  keepSecrets?: boolean;
  /** Bounds of the HTTP connection tracker. */
  httpLimits?: Omit<HttpConnectionsOptions, 'ports'>;
  /** Parse in a worker thread of its own (see offload.ts) rather than in the Observer's thread. */
  worker?: boolean;
  /** How long that worker may go without a packet before it is stopped (30 s; the next packet starts another). */
  workerIdleStopMs?: number;
}

const DNS_PORT = 53;
const DNS_QR = 0x80;

/**
 * Whether a forwarded packet of `protocol` between `sourcePort` and `destinationPort`, its payload bytes[start, end),
 * TCP flags `tcpFlags`, could carry what the L7 parser reads with DNS and HTTP on or off: a few byte reads, so that
 * nearly no other packet is handed to it (read() tests the rest). Any TCP payload may be HTTP (or continue a message).
 */
export function mayCarryL7(
  dns: boolean,
  http: boolean,
  protocol: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  tcpFlags: number,
  sourcePort: number,
  destinationPort: number,
): boolean {
  const dnsPort = sourcePort === DNS_PORT || destinationPort === DNS_PORT;
  if (protocol === IpProtocol.UDP) {
    return end > start && dns && (dnsPort || hasStrictDnsHeader(bytes, start, end));
  }
  if (protocol !== IpProtocol.TCP) return false;
  // On port 53 the DNS tracker follows connections from their SYN to their FIN or RST.
  if (dns && dnsPort) return end > start || (tcpFlags & (TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST)) !== 0;
  if (http) return end > start || (tcpFlags & (TcpFlag.FIN | TcpFlag.RST)) !== 0;
  return dns && end - start > 2 && hasStrictDnsHeader(bytes, start + 2, end);
}

/** Connection keys remembered (a power of two). */
const KEY_CACHE_SLOTS = 1024;

/**
 * One packet as the L7 parser reads it, filled per packet by whoever runs the parser: from the L3/L4 parser's headers
 * in the same thread, or from a packet ring entry in the L7 worker thread.
 */
export class L7Packet {
  /** IpProtocol.TCP or IpProtocol.UDP. */
  protocol = 0;
  sourceIP = '';
  destinationIP = '';
  sourcePort = 0;
  destinationPort = 0;
  tcpFlags = 0;
  sequence = 0;
  acknowledgement = 0;
  seconds = 0;
  nanos = 0;
  bytes: Uint8Array = new Uint8Array(0);
  payloadStart = 0;
  payloadEnd = 0;
}

export class SevenParser {
  /** The records of the current packet: their kinds and their numbers in the store, the first `read()` of each. */
  readonly kinds: L7Kind[] = [];
  readonly sequences: number[] = [];
  private readonly store: L7Store;
  private readonly dnsOn: boolean;
  private readonly dnsTransactions = new DnsTransactions();
  private readonly http: HttpConnections | undefined;
  /** DNS over TCP on port 53, put back in order (with DNS on). */
  private readonly dnsTcp: DnsTcpStreams | undefined;
  private count = 0;
  private readonly segment: TcpSegment = {
    connectionKey: '',
    fromFirst: false,
    sequence: 0,
    acknowledgement: 0,
    flags: 0,
    bytes: new Uint8Array(0),
    payloadStart: 0,
    payloadEnd: 0,
    timeNs: 0,
    sourcePort: 0,
    destinationPort: 0,
  };
  // Connection keys made recently, direct-mapped by ports: the addresses (the address cache's shared strings) and ports.
  private readonly keySources: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');
  private readonly keyDestinations: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');
  private readonly keyPorts = new Uint32Array(KEY_CACHE_SLOTS);
  private readonly keyFromFirst = new Uint8Array(KEY_CACHE_SLOTS);
  private readonly keys: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');
  private readonly ends: DnsEnds = { sourceIP: '', sourcePort: 0, destinationIP: '', destinationPort: 0, protocol: 0 };
  private timeBaseSeconds = NaN;

  /** A parser adding its records to `store`. */
  constructor(options: SevenParserOptions, store: L7Store) {
    const protocols = options.protocols ?? L7_PROTOCOLS;
    this.store = store;
    this.dnsOn = protocols.includes('dns');
    this.dnsTcp = this.dnsOn ? new DnsTcpStreams() : undefined;
    this.http = protocols.includes('http')
      ? new HttpConnections({ ...options.httpLimits, ports: options.httpPorts })
      : undefined;
  }

  /** The HTTP tracker's counters (connections tracked, evicted, gaps, ...), undefined with HTTP off. */
  get httpStats(): HttpConnections['stats'] | undefined {
    return this.http?.stats;
  }

  /** The DNS-over-TCP tracker's counters (connections on port 53 tracked, evicted, given up), undefined with DNS off. */
  get dnsTcpStats(): DnsTcpStats | undefined {
    return this.dnsTcp?.stats;
  }

  /**
   * Reads the L7 messages in a forwarded packet: DNS messages and the HTTP heads it completes. Each goes into the
   * store; returns how many, their kinds and numbers being the first that many of `kinds` and `sequences`.
   */
  read(p: L7Packet): number {
    this.count = 0;
    const start = p.payloadStart;
    const end = p.payloadEnd;
    const dnsPort = p.sourcePort === DNS_PORT || p.destinationPort === DNS_PORT;
    if (p.protocol === IpProtocol.TCP) {
      if (this.dnsTcp !== undefined && dnsPort) {
        this.readDnsTcp(p, this.tcpSegment(p));
      } else if (this.dnsTcp !== undefined && isStrictTcpDnsSegment(p.bytes, start, end)) {
        this.addDns(p, p.bytes, start + 2, end, this.timeNs(p));
      } else if (this.http !== undefined && (end > start || (p.tcpFlags & (TcpFlag.FIN | TcpFlag.RST)) !== 0)) {
        this.readHttp(this.tcpSegment(p));
      }
    } else if (p.protocol === IpProtocol.UDP && this.dnsOn && end > start) {
      if (dnsPort ? hasDnsQuestion(p.bytes, start, end) : isStrictDnsMessage(p.bytes, start, end)) {
        this.addDns(p, p.bytes, start, end, this.timeNs(p));
      }
    }
    return this.count;
  }

  /**
   * The current packet's time in nanoseconds since the first packet this parser read (to the second): only
   * differences are used (latencies), and nanoseconds since 1970 would need more than a double's 53 bits (they would
   * be rounded to 256 ns).
   */
  private timeNs(p: L7Packet): number {
    if (Number.isNaN(this.timeBaseSeconds)) this.timeBaseSeconds = p.seconds;
    return (p.seconds - this.timeBaseSeconds) * 1e9 + p.nanos;
  }

  private found(kind: L7Kind, sequence: number): void {
    this.kinds[this.count] = kind;
    this.sequences[this.count] = sequence;
    this.count++;
  }

  /** A DNS message in bytes[start, end), carried by packet `p` (its ends), whole at timeNs. */
  private addDns(p: L7Packet, bytes: Uint8Array, start: number, end: number, timeNs: number): void {
    const ends = this.ends;
    ends.sourceIP = p.sourceIP;
    ends.destinationIP = p.destinationIP;
    ends.sourcePort = p.sourcePort;
    ends.destinationPort = p.destinationPort;
    ends.protocol = p.protocol;
    const isResponse = (bytes[start + 2]! & DNS_QR) !== 0;
    const id = uint16At(bytes, start);
    const latencyNs = this.dnsTransactions.latency(id, isResponse, ends, timeNs);
    const sequence = this.store.add(latencyNs, bytes, start, end, bytes, 0, 0);
    this.found(isResponse ? L7Kind.DNS_RESPONSE : L7Kind.DNS_REQUEST, sequence);
  }

  /** The DNS messages a TCP segment completes (in order, each once, whatever the segmentation). */
  private readDnsTcp(p: L7Packet, s: TcpSegment): void {
    const dnsTcp = this.dnsTcp!;
    const n = dnsTcp.segment(s);
    for (let i = 0; i < n; i++) {
      const span = dnsTcp.spanAt(i);
      if (hasDnsQuestion(span.bytes, span.start, span.end))
        this.addDns(p, span.bytes, span.start, span.end, span.timeNs);
    }
  }

  /**
   * The packet as a TCP segment for the connection trackers (a reused object). Both directions of a connection share
   * a key: the two ends in a fixed order. The same key string object is handed out again for the same packet
   * direction, so the trackers' Maps find it by its cached hash instead of hashing a new string per segment.
   */
  private tcpSegment(p: L7Packet): TcpSegment {
    const s = this.segment;
    const sourceIP = p.sourceIP;
    const destinationIP = p.destinationIP;
    const sourcePort = p.sourcePort;
    const destinationPort = p.destinationPort;
    const ports = ((sourcePort << 16) | destinationPort) >>> 0;
    const slot = (Math.imul(ports, 0x9e3779b1) >>> 22) & (KEY_CACHE_SLOTS - 1);
    if (
      this.keyPorts[slot] === ports &&
      this.keySources[slot] === sourceIP &&
      this.keyDestinations[slot] === destinationIP &&
      this.keys[slot] !== ''
    ) {
      s.connectionKey = this.keys[slot]!;
      s.fromFirst = this.keyFromFirst[slot] === 1;
    } else {
      s.fromFirst = sourceIP < destinationIP || (sourceIP === destinationIP && sourcePort <= destinationPort);
      s.connectionKey = s.fromFirst
        ? `${sourceIP} ${sourcePort} ${destinationIP} ${destinationPort}`
        : `${destinationIP} ${destinationPort} ${sourceIP} ${sourcePort}`;
      this.keySources[slot] = sourceIP;
      this.keyDestinations[slot] = destinationIP;
      this.keyPorts[slot] = ports;
      this.keys[slot] = s.connectionKey;
      this.keyFromFirst[slot] = s.fromFirst ? 1 : 0;
    }
    s.sequence = p.sequence;
    s.acknowledgement = p.acknowledgement;
    s.flags = p.tcpFlags;
    s.bytes = p.bytes;
    s.payloadStart = p.payloadStart;
    s.payloadEnd = p.payloadEnd;
    s.timeNs = this.timeNs(p);
    s.sourcePort = sourcePort;
    s.destinationPort = destinationPort;
    return s;
  }

  private readHttp(s: TcpSegment): void {
    const spans = this.http!.segment(s);
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      const isResponse = span.kind === 'response';
      const latencyNs =
        isResponse && span.requestTimeNs <= span.timeNs ? Math.round(span.timeNs - span.requestTimeNs) : 0;
      const sequence = this.store.add(
        latencyNs,
        span.bytes,
        span.start,
        span.end,
        span.requestBytes,
        span.requestStart,
        span.requestEnd,
        span.fromFirst !== s.fromFirst,
      );
      this.found(isResponse ? L7Kind.HTTP_RESPONSE : L7Kind.HTTP_REQUEST, sequence);
    }
  }
}

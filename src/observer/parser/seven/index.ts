// The L7 parser: DNS messages and HTTP/1.x message heads read from the packets themselves, each an L7 flow as Hubble
// shows the ones its proxy logs, beside the packet's own L3/L4 flow. At ingest it finds the messages and their
// latency and hands them on as L7 records (kind, latency, the message's bytes: no strings or objects per message);
// l7FlowOf() decodes a record into its flow when someone reads it. Most packets carry no message, and cost a port
// check or one lookup.
import type { Flow, IP } from '../../../api/flow/flow.js';
import { hasDnsQuestion, isStrictDnsMessage } from '../../../packet/dns.js';
import { Layer, type PacketHeaders } from '../../../packet/frame.js';
import { IpProtocol, TcpFlag } from '../../../packet/protocols.js';
import { randomUuid } from '../flowUuid.js';
import type { L34Record } from '../l34Flow.js';
import { DnsTransactions, eachTcpDnsMessage, type DnsEnds } from './dns.js';
import { HttpConnections, type HttpConnectionsOptions, type TcpSegment } from './httpConnections.js';
import { l7FlowOf, type L7FlowOptions } from './l7Flow.js';
import { L7Kind, L7Record, type StoredL7 } from './l7Record.js';

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
}

const DNS_PORT = 53;
const VERDICT_FORWARDED = 1;
const DNS_QR = 0x80;
/** Connection keys remembered (a power of two). */
const KEY_CACHE_SLOTS = 1024;

export class SevenParser {
  private readonly dnsOn: boolean;
  private readonly dnsTransactions = new DnsTransactions();
  private readonly http: HttpConnections | undefined;
  private readonly flowOptions: L7FlowOptions;
  /** Every record made so far, reused packet after packet; the current packet's are the first `count`. */
  private readonly records: L7Record[] = [];
  private count = 0;
  /**
   * records[0, n) at index n, built once each: what recordsOf() returns, so that no array is emptied and refilled per
   * packet (V8 drops an array's storage when its length is set to 0, and the next push allocates it again).
   */
  private readonly prefixes: (readonly L7Record[])[] = [[]];
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
  // Connection keys made recently, direct-mapped by ports: the IP part (the record's shared IP object) and ports.
  private readonly keyIps: (IP | undefined)[] = new Array<IP | undefined>(KEY_CACHE_SLOTS).fill(undefined);
  private readonly keyPorts = new Uint32Array(KEY_CACHE_SLOTS);
  private readonly keyFromFirst = new Uint8Array(KEY_CACHE_SLOTS);
  private readonly keys: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');
  private readonly ends: DnsEnds = { sourceIP: '', sourcePort: 0, destinationIP: '', destinationPort: 0, protocol: 0 };
  private record!: L34Record;
  private timeBaseSeconds = NaN;

  constructor(options: SevenParserOptions = {}) {
    const protocols = options.protocols ?? L7_PROTOCOLS;
    this.dnsOn = protocols.includes('dns');
    this.http = protocols.includes('http')
      ? new HttpConnections({ ...options.httpLimits, ports: options.httpPorts })
      : undefined;
    this.flowOptions = { keepSecrets: options.keepSecrets ?? false };
  }

  /** The HTTP tracker's counters (connections tracked, evicted, gaps, ...), undefined with HTTP off. */
  get httpStats(): HttpConnections['stats'] | undefined {
    return this.http?.stats;
  }

  /**
   * The L7 messages in the packet `record` was decoded from (its headers `h` index `bytes`): DNS messages and the HTTP
   * heads it completes, as records whose views are valid until the next call. Only forwarded packets are read (a
   * dropped one never reached its peer).
   */
  recordsOf(record: L34Record, h: PacketHeaders, bytes: Uint8Array): readonly L7Record[] {
    this.count = 0;
    const none = this.prefixes[0]!;
    if (record.verdict !== VERDICT_FORWARDED || h.payloadOffset < 0 || record.ip === undefined) return none;
    const layers = h.layers;
    const isTcp = (layers & Layer.TCP) !== 0;
    if (!isTcp && (layers & Layer.UDP) === 0) return none;
    this.record = record;
    const start = h.payloadOffset;
    const end = h.payloadEnd;
    const dnsPort = h.sourcePort === DNS_PORT || h.destinationPort === DNS_PORT;
    if (isTcp) {
      if (this.dnsOn && (dnsPort || isStrictTcpDnsSegment(bytes, start, end))) {
        eachTcpDnsMessage(bytes, start, end, (from, to) => this.addDns(h, bytes, from, to, IpProtocol.TCP));
      } else if (this.http !== undefined && (end > start || (h.tcpFlags & (TcpFlag.FIN | TcpFlag.RST)) !== 0)) {
        this.readHttp(h, bytes);
      }
    } else if (this.dnsOn && end > start) {
      if (dnsPort ? hasDnsQuestion(bytes, start, end) : isStrictDnsMessage(bytes, start, end)) {
        this.addDns(h, bytes, start, end, IpProtocol.UDP);
      }
    }
    return this.prefix(this.count);
  }

  private prefix(n: number): readonly L7Record[] {
    const prefixes = this.prefixes;
    while (prefixes.length <= n) prefixes.push(this.records.slice(0, prefixes.length));
    return prefixes[n]!;
  }

  /** The flow of a stored L7 record, on top of the L3/L4 flow of the packet it was found in. */
  flowOf(packet: Flow, stored: StoredL7): Flow {
    return l7FlowOf(packet, stored, this.flowOptions);
  }

  /**
   * The current packet's time in nanoseconds since the first packet this parser read (to the second): only
   * differences are used (latencies), and nanoseconds since 1970 would need more than a double's 53 bits (they would
   * be rounded to 256 ns).
   */
  private timeNs(): number {
    const time = this.record.time;
    if (Number.isNaN(this.timeBaseSeconds)) this.timeBaseSeconds = time.seconds;
    return (time.seconds - this.timeBaseSeconds) * 1e9 + time.nanos;
  }

  private next(): L7Record {
    let r = this.records[this.count];
    if (r === undefined) this.records.push((r = new L7Record()));
    this.count++;
    randomUuid(r.uuid, 0);
    return r;
  }

  private addDns(h: PacketHeaders, bytes: Uint8Array, start: number, end: number, protocol: number): void {
    const ip = this.record.ip!;
    const ends = this.ends;
    ends.sourceIP = ip.source;
    ends.destinationIP = ip.destination;
    ends.sourcePort = h.sourcePort;
    ends.destinationPort = h.destinationPort;
    ends.protocol = protocol;
    const isResponse = (bytes[start + 2]! & DNS_QR) !== 0;
    const id = (bytes[start]! << 8) | bytes[start + 1]!;
    const r = this.next();
    r.kind = isResponse ? L7Kind.DNS_RESPONSE : L7Kind.DNS_REQUEST;
    r.latencyNs = this.dnsTransactions.latency(id, isResponse, ends, this.timeNs());
    r.bytes = bytes;
    r.start = start;
    r.end = end;
    r.requestBytes = bytes;
    r.requestStart = 0;
    r.requestEnd = 0;
  }

  private readHttp(h: PacketHeaders, bytes: Uint8Array): void {
    const ip = this.record.ip!;
    const s = this.segment;
    const sourcePort = h.sourcePort;
    const destinationPort = h.destinationPort;
    // Both directions of a connection share a key: the two ends in a fixed order. The same key string object is
    // handed out again for the same packet direction (the IP part is shared per address pair), so the tracker's Map
    // finds it by its cached hash instead of hashing a new string per segment.
    const ports = ((sourcePort << 16) | destinationPort) >>> 0;
    const slot = (Math.imul(ports, 0x9e3779b1) >>> 22) & (KEY_CACHE_SLOTS - 1);
    if (this.keyIps[slot] === ip && this.keyPorts[slot] === ports) {
      s.connectionKey = this.keys[slot]!;
      s.fromFirst = this.keyFromFirst[slot] === 1;
    } else {
      s.fromFirst = ip.source < ip.destination || (ip.source === ip.destination && sourcePort <= destinationPort);
      s.connectionKey = s.fromFirst
        ? `${ip.source} ${sourcePort} ${ip.destination} ${destinationPort}`
        : `${ip.destination} ${destinationPort} ${ip.source} ${sourcePort}`;
      this.keyIps[slot] = ip;
      this.keyPorts[slot] = ports;
      this.keys[slot] = s.connectionKey;
      this.keyFromFirst[slot] = s.fromFirst ? 1 : 0;
    }
    const tcp = h.transportOffset;
    s.sequence = word(bytes, tcp + 4);
    s.acknowledgement = word(bytes, tcp + 8);
    s.flags = h.tcpFlags;
    s.bytes = bytes;
    s.payloadStart = h.payloadOffset;
    s.payloadEnd = h.payloadEnd;
    s.timeNs = this.timeNs();
    s.sourcePort = sourcePort;
    s.destinationPort = destinationPort;
    const spans = this.http!.segment(s);
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      const r = this.next();
      const isResponse = span.kind === 'response';
      r.kind = isResponse ? L7Kind.HTTP_RESPONSE : L7Kind.HTTP_REQUEST;
      r.latencyNs = isResponse && span.requestTimeNs <= span.timeNs ? Math.round(span.timeNs - span.requestTimeNs) : 0;
      r.bytes = span.bytes;
      r.start = span.start;
      r.end = span.end;
      r.requestBytes = span.requestBytes;
      r.requestStart = span.requestStart;
      r.requestEnd = span.requestEnd;
    }
  }
}

/** A TCP segment off port 53 that is exactly one length-prefixed, well-formed DNS message. */
function isStrictTcpDnsSegment(bytes: Uint8Array, start: number, end: number): boolean {
  return (
    end - start > 2 &&
    ((bytes[start]! << 8) | bytes[start + 1]!) === end - start - 2 &&
    isStrictDnsMessage(bytes, start + 2, end)
  );
}

function word(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

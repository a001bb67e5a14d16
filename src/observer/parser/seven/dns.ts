// DNS messages seen in packets, as the l7.dns records Hubble's proxy gives: the query and its types for a request;
// answers, TTL, CNAMEs, rcode and record types for a response, with the latency from its query (matched by id and the
// two address/port pairs in a small fixed table, so a flood of unanswered queries costs no memory).
import { L7FlowType, type DNS } from '../../../api/flow/flow.js';
import { decodeDnsMessage, dnsRcodeName, dnsTypeName, type DnsMessage } from '../../../packet/dns.js';

/** Where a DNS record was seen; Hubble's proxy says "proxy", we read packets. */
export const DNS_OBSERVATION_SOURCE = 'packet';
/** Hubble's TTL for a response without CNAME, A or AAAA answers: its minimum starts at 2^32 - 1 and stays there. */
const NO_ANSWER_TTL = 0xffffffff;
/** Queries remembered for latency; a new query takes the slot of an older one that hashes alike. */
const QUERY_SLOTS = 4096;
/** A response later than this after its query gets no latency (the id was likely reused). */
const MAX_LATENCY_NS = 60e9;

/** One DNS message as an L7 record, with its summary and latency. */
export interface DnsL7 {
  type: L7FlowType;
  dns: DNS;
  latencyNs: number;
  summary: string;
}

/** The two ends of the packet carrying a message, for matching responses with queries. */
export interface DnsEnds {
  sourceIP: string;
  sourcePort: number;
  destinationIP: string;
  destinationPort: number;
  /** IP protocol number (UDP or TCP): a query over TCP is not answered over UDP. */
  protocol: number;
}

export class DnsTransactions {
  private readonly keys = new Array<string>(QUERY_SLOTS).fill('');
  private readonly times = new Float64Array(QUERY_SLOTS);

  /** The L7 record of a decoded message seen at timeNs between `ends`; undefined for messages without a question. */
  record(message: DnsMessage, ends: DnsEnds, timeNs: number): DnsL7 | undefined {
    if (message.questionTypes.length === 0) return undefined;
    const query = message.questionName === '' ? '.' : `${message.questionName}.`;
    const qtypes = message.questionTypes.map(dnsTypeName);
    if (!message.isResponse) {
      this.remember(this.keyOf(message.id, ends, false), timeNs);
      return {
        type: L7FlowType.REQUEST,
        dns: { query, ips: [], ttl: 0, cnames: [], observationSource: DNS_OBSERVATION_SOURCE, rcode: 0, qtypes, rrtypes: [] },
        latencyNs: 0,
        summary: `DNS Query ${query} ${qtypes.join(',')}`,
      };
    }
    const ttl = message.cnames.length === 0 && message.ips.length === 0 ? NO_ANSWER_TTL : message.minTtl;
    const dns: DNS = {
      query,
      ips: message.ips,
      ttl,
      cnames: message.cnames.map((name) => `${name}.`),
      observationSource: DNS_OBSERVATION_SOURCE,
      rcode: message.rcode,
      qtypes,
      rrtypes: message.answers.map((answer) => dnsTypeName(answer.type)),
    };
    return {
      type: L7FlowType.RESPONSE,
      dns,
      latencyNs: this.latency(this.keyOf(message.id, ends, true), timeNs),
      summary: answerSummary(dns),
    };
  }

  /** The same key for a query and its response: the response's ends swapped. */
  private keyOf(id: number, ends: DnsEnds, response: boolean): string {
    const client = response ? `${ends.destinationIP} ${ends.destinationPort}` : `${ends.sourceIP} ${ends.sourcePort}`;
    const server = response ? `${ends.sourceIP} ${ends.sourcePort}` : `${ends.destinationIP} ${ends.destinationPort}`;
    return `${ends.protocol} ${id} ${client} ${server}`;
  }

  private remember(key: string, timeNs: number): void {
    const slot = slotOf(key);
    this.keys[slot] = key;
    this.times[slot] = timeNs;
  }

  /** Nanoseconds since the matching query (forgotten once answered), or 0 when there is none. */
  private latency(key: string, timeNs: number): number {
    const slot = slotOf(key);
    if (this.keys[slot] !== key) return 0;
    this.keys[slot] = '';
    const latency = timeNs - this.times[slot]!;
    return latency >= 0 && latency <= MAX_LATENCY_NS ? Math.round(latency) : 0;
  }
}

function slotOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) & (QUERY_SLOTS - 1);
}

/** Hubble's summary of a response: its answers (or rcode), TTL, and the query it answers. */
function answerSummary(dns: DNS): string {
  let answer: string;
  if (dns.rcode !== 0) {
    answer = `RCode: ${dnsRcodeName(dns.rcode)}`;
  } else {
    const parts: string[] = [];
    if (dns.ips.length > 0) parts.push(JSON.stringify(dns.ips.join(',')));
    if (dns.cnames.length > 0) parts.push(`CNAMEs: ${JSON.stringify(dns.cnames.join(','))}`);
    answer = parts.join(' ');
  }
  return `DNS Answer ${answer} TTL: ${dns.ttl} (Query ${dns.query} ${dns.qtypes.join(',')})`;
}

/** The messages in a DNS-over-TCP segment: each is a two-byte length, then the message; calls `each` per whole one. */
export function eachTcpDnsMessage(
  data: Uint8Array,
  start: number,
  end: number,
  each: (message: DnsMessage) => void,
): void {
  let p = start;
  while (p + 2 <= end) {
    const length = (data[p]! << 8) | data[p + 1]!;
    if (length === 0 || p + 2 + length > end) return;
    const message = decodeDnsMessage(data, p + 2, p + 2 + length);
    if (message === undefined) return;
    each(message);
    p += 2 + length;
  }
}

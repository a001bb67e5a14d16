// DNS messages seen in packets, as the l7.dns records Hubble's proxy gives: the query and its types for a request;
// answers, TTL, CNAMEs, rcode and record types for a response. At ingest only the latency is worked out (a response
// matched with its query by id and the two address/port pairs, in a small fixed table, so a flood of unanswered
// queries costs no memory); the record is decoded from the message's bytes when a reader asks for it.
import { L7FlowType, type DNS } from '../../../api/flow/flow.js';
import { dnsRcodeName, dnsTypeName, type DnsMessage } from '../../../packet/dns.js';

/** Where a DNS record was seen; Hubble's proxy says "proxy", we read packets. */
export const DNS_OBSERVATION_SOURCE = 'packet';
/** Hubble's TTL for a response without CNAME, A or AAAA answers: its minimum starts at 2^32 - 1 and stays there. */
const NO_ANSWER_TTL = 0xffffffff;
/** Queries remembered for latency; a new query takes the slot of an older one that hashes alike. */
const QUERY_SLOTS = 4096;
/** A response later than this after its query gets no latency (the id was likely reused). */
const MAX_LATENCY_NS = 60e9;

/** A DNS message as an L7 record, with its summary. */
export interface DnsL7 {
  type: L7FlowType;
  dns: DNS;
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

/** The l7.dns record of a decoded message, as Hubble fills it for a request (query, types) or a response. */
export function dnsL7Of(message: DnsMessage): DnsL7 {
  const query = message.questionName === '' ? '.' : `${message.questionName}.`;
  const qtypes = message.questionTypes.map(dnsTypeName);
  if (!message.isResponse) {
    return {
      type: L7FlowType.REQUEST,
      dns: {
        query,
        ips: [],
        ttl: 0,
        cnames: [],
        observationSource: DNS_OBSERVATION_SOURCE,
        rcode: 0,
        qtypes,
        rrtypes: [],
      },
      summary: `DNS Query ${query} ${qtypes.join(',')}`,
    };
  }
  const dns: DNS = {
    query,
    ips: message.ips,
    ttl: message.cnames.length === 0 && message.ips.length === 0 ? NO_ANSWER_TTL : message.minTtl,
    cnames: message.cnames.map((name) => `${name}.`),
    observationSource: DNS_OBSERVATION_SOURCE,
    rcode: message.rcode,
    qtypes,
    rrtypes: message.answers.map((answer) => dnsTypeName(answer.type)),
  };
  return { type: L7FlowType.RESPONSE, dns, summary: answerSummary(dns) };
}

/** Queries waiting for their responses, for the responses' latency. */
export class DnsTransactions {
  private readonly keys = new Array<string>(QUERY_SLOTS).fill('');
  private readonly times = new Float64Array(QUERY_SLOTS);

  /**
   * A query (remembered; 0) or a response (nanoseconds since its query, which is then forgotten; 0 when there was
   * none) with message id `id`, seen at timeNs between `ends`.
   */
  latency(id: number, isResponse: boolean, ends: DnsEnds, timeNs: number): number {
    const key = keyOf(id, ends, isResponse);
    const slot = slotOf(key);
    if (!isResponse) {
      this.keys[slot] = key;
      this.times[slot] = timeNs;
      return 0;
    }
    if (this.keys[slot] !== key) return 0;
    this.keys[slot] = '';
    const latency = timeNs - this.times[slot]!;
    return latency >= 0 && latency <= MAX_LATENCY_NS ? Math.round(latency) : 0;
  }
}

/** The same key for a query and its response: the response's ends swapped. */
function keyOf(id: number, ends: DnsEnds, response: boolean): string {
  return response
    ? `${ends.protocol} ${id} ${ends.destinationIP} ${ends.destinationPort} ${ends.sourceIP} ${ends.sourcePort}`
    : `${ends.protocol} ${id} ${ends.sourceIP} ${ends.sourcePort} ${ends.destinationIP} ${ends.destinationPort}`;
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

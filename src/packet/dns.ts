// Decodes a DNS message (RFC 1035) far enough to learn names for addresses and to show it as an L7 flow: the questions,
// the answer records, and the A/AAAA addresses the question name resolves to through its CNAME chain. Bounded against
// hostile input — compression loops, counts larger than the message, names longer than DNS allows — and it never
// throws: a message it cannot read yields undefined.

import { formatIPv4, formatIPv6 } from './ipAddress.js';
import { uint16At, uint32At } from './format.js';

export const DnsType = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41 } as const;
export const DnsClass = { IN: 1 } as const;
export const DnsRcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Record types by the names Hubble gives them (gopacket's DNSType names); other types are "Unknown". */
const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [1, 'A'], [2, 'NS'], [3, 'MD'], [4, 'MF'], [5, 'CNAME'], [6, 'SOA'], [7, 'MB'], [8, 'MG'], [9, 'MR'], [10, 'NULL'],
  [11, 'WKS'], [12, 'PTR'], [13, 'HINFO'], [14, 'MINFO'], [15, 'MX'], [16, 'TXT'], [28, 'AAAA'], [33, 'SRV'],
  [35, 'NAPTR'], [41, 'OPT'], [46, 'RRSIG'], [48, 'DNSKEY'], [64, 'SVCB'], [65, 'HTTPS'], [256, 'URI'],
]); // prettier-ignore

/** A record or question type as Hubble names it in qtypes/rrtypes ("A", "AAAA", ..., "Unknown"). */
export function dnsTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? 'Unknown';
}

/** Response codes as Hubble names them (gopacket's DNSResponseCode names, in its dns metric and flow summaries). */
const RCODE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'No Error'], [1, 'Format Error'], [2, 'Server Failure'], [3, 'Non-Existent Domain'], [4, 'Not Implemented'],
  [5, 'Query Refused'], [6, 'Name Exists when it should not'], [7, 'RR Set Exists when it should not'],
  [8, 'RR Set that should exist does not'], [9, 'Not Authorized'], [10, 'Name not contained in zone'],
  [11, 'DSO-TYPE Not Implemented'], [16, 'Bad OPT Version'], [17, 'Key not recognized'],
  [18, 'Signature out of time window'], [19, 'Bad TKEY Mode'], [20, 'Duplicate key name'],
  [21, 'Algorithm not supported'], [22, 'Bad Truncation'], [23, 'Bad/missing Server Cookie'],
]); // prettier-ignore

/** A response code's name, or "" for codes Hubble has no name for. */
export function dnsRcodeName(rcode: number): string {
  return RCODE_NAMES.get(rcode) ?? '';
}

/** The DNS header length; nothing shorter is a DNS message. */
export const DNS_HEADER_LENGTH = 12;

/** Answer records read at most; the rest of a larger answer section is ignored. */
const MAX_ANSWERS = 64;
/** CNAME hops followed from the question name. */
const MAX_CNAME_CHAIN = 16;
/** Compression pointers followed within one name. */
const MAX_POINTERS = 32;
/** RFC 1035: a name is at most 255 bytes on the wire. */
const MAX_NAME_WIRE_LENGTH = 255;

export interface DnsRecord {
  /** Owner name, lowercase, without the trailing dot. */
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** A/AAAA: the address as text; CNAME: the target name; other types: "". */
  data: string;
}

export interface DnsMessage {
  id: number;
  isResponse: boolean;
  opcode: number;
  rcode: number;
  /** TC bit: the answer was cut and the client should retry over TCP. */
  truncated: boolean;
  /** First question's name, lowercase, without the trailing dot ("" for the root); "" when there is no question. */
  questionName: string;
  questionType: number;
  /** Every question's type, in message order. */
  questionTypes: number[];
  /** Answer-section records in message order (at most MAX_ANSWERS). */
  answers: DnsRecord[];
  /** CNAME targets followed from the question name, in chain order. */
  cnames: string[];
  /** A/AAAA addresses whose owner is the question name or a name in its CNAME chain, in message order. */
  ips: string[];
  /** Smallest TTL among the chain's CNAME and A/AAAA records (seconds); 0 when there are none. */
  minTtl: number;
  /**
   * Whether every answer the header counts was read. A message cut short (snap length) or claiming more answers than
   * it holds keeps the records that were whole.
   */
  complete: boolean;
}

/** Reads a (possibly compressed) name at `offset`; `end` tells where its wire form ends in the message. */
interface NameResult {
  name: string;
  end: number;
}

// Names are rebuilt as text once per label; a scratch result avoids an object per name.
const nameResult: NameResult = { name: '', end: 0 };

/**
 * Reads the name at `offset` of the message that starts at `start` and ends at `end`. Compression pointers must point
 * backwards (to an earlier name, as RFC 1035 requires), which rules out loops; their number is capped as well.
 * Returns false when the name is malformed or leaves the message.
 */
function readName(d: Uint8Array, start: number, end: number, offset: number, out: NameResult): boolean {
  let p = offset;
  let wireEnd = -1;
  let wireLength = 0;
  let pointers = 0;
  let name = '';
  for (;;) {
    if (p >= end) return false;
    const length = d[p]!;
    if (length === 0) {
      if (wireEnd < 0) wireEnd = p + 1;
      break;
    }
    const kind = length & 0xc0;
    if (kind === 0xc0) {
      if (p + 1 >= end || ++pointers > MAX_POINTERS) return false;
      const target = start + (((length & 0x3f) << 8) | d[p + 1]!);
      if (target >= p) return false;
      if (wireEnd < 0) wireEnd = p + 2;
      p = target;
      continue;
    }
    if (kind !== 0) return false; // 0x40 and 0x80 label types are obsolete or reserved.
    wireLength += length + 1;
    if (wireLength > MAX_NAME_WIRE_LENGTH || p + 1 + length > end) return false;
    if (name !== '') name += '.';
    name += labelText(d, p + 1, length);
    p += 1 + length;
  }
  out.name = name;
  out.end = wireEnd;
  return true;
}

/** A label as presentation text: lowercase ASCII, and \DDD escapes for dots, backslashes and unprintable bytes. */
function labelText(d: Uint8Array, offset: number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    let c = d[offset + i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c) {
      text += '\\' + String(c).padStart(3, '0');
    } else {
      text += String.fromCharCode(c);
    }
  }
  return text;
}

/**
 * Decodes the DNS message in data[offset, end): the header, the questions (the first one kept) and the answer section.
 * Returns undefined when the header or a question does not fit or is malformed; answers are read until one does not.
 */
export function decodeDnsMessage(data: Uint8Array, offset = 0, end = data.length): DnsMessage | undefined {
  if (end > data.length) end = data.length;
  if (offset < 0 || end - offset < DNS_HEADER_LENGTH) return undefined;
  const start = offset;
  const flags = uint16At(data, start + 2);
  const questionCount = uint16At(data, start + 4);
  const answerCount = uint16At(data, start + 6);
  const message: DnsMessage = {
    id: uint16At(data, start),
    isResponse: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0x0f,
    rcode: flags & 0x0f,
    truncated: (flags & 0x0200) !== 0,
    questionName: '',
    questionType: 0,
    questionTypes: [],
    answers: [],
    cnames: [],
    ips: [],
    minTtl: 0,
    complete: answerCount <= MAX_ANSWERS,
  };
  let p = start + DNS_HEADER_LENGTH;
  // Each question takes at least 5 bytes, so the loop is bounded by the message however large the count claims.
  for (let i = 0; i < questionCount; i++) {
    if (!readName(data, start, end, p, nameResult) || nameResult.end + 4 > end) return undefined;
    if (i === 0) {
      message.questionName = nameResult.name;
      message.questionType = uint16At(data, nameResult.end);
    }
    message.questionTypes.push(uint16At(data, nameResult.end));
    p = nameResult.end + 4;
  }
  const answers = message.answers;
  for (let i = 0; i < answerCount && i < MAX_ANSWERS; i++) {
    if (!readName(data, start, end, p, nameResult) || nameResult.end + 10 > end) {
      message.complete = false;
      break;
    }
    const name = nameResult.name;
    p = nameResult.end;
    const type = uint16At(data, p);
    const klass = uint16At(data, p + 2);
    const ttl = uint32At(data, p + 4);
    const rdLength = uint16At(data, p + 8);
    const rdata = p + 10;
    if (rdata + rdLength > end) {
      message.complete = false;
      break;
    }
    let text = '';
    if (type === DnsType.A && rdLength === 4) {
      text = formatIPv4(data, rdata);
    } else if (type === DnsType.AAAA && rdLength === 16) {
      text = formatIPv6(data, rdata);
    } else if (type === DnsType.CNAME && readName(data, start, rdata + rdLength, rdata, nameResult)) {
      text = nameResult.name;
    }
    answers.push({ name, type, class: klass, ttl, data: text });
    p = rdata + rdLength;
  }
  followChain(message);
  return message;
}

/** Fills cnames, ips and minTtl by following the question name through the answers' CNAME records. */
function followChain(message: DnsMessage): void {
  const answers = message.answers;
  if (answers.length === 0) return;
  let minTtl = Infinity;
  const chain: string[] = [message.questionName];
  let current = message.questionName;
  for (let hop = 0; hop < MAX_CNAME_CHAIN; hop++) {
    let target: string | undefined;
    for (const record of answers) {
      if (record.type === DnsType.CNAME && record.name === current && record.data !== '') {
        target = record.data;
        if (record.ttl < minTtl) minTtl = record.ttl;
        break;
      }
    }
    if (target === undefined || chain.includes(target)) break;
    message.cnames.push(target);
    chain.push(target);
    current = target;
  }
  for (const record of answers) {
    if (
      (record.type === DnsType.A || record.type === DnsType.AAAA) &&
      record.data !== '' &&
      chain.includes(record.name)
    ) {
      message.ips.push(record.data);
      if (record.ttl < minTtl) minTtl = record.ttl;
    }
  }
  message.minTtl = minTtl === Infinity ? 0 : minTtl;
}

/** Whether data[start, end) has a DNS header and a first question that can be read (what an L7 record needs). */
export function hasDnsQuestion(data: Uint8Array, start: number, end: number): boolean {
  if (end > data.length || end - start < DNS_HEADER_LENGTH || uint16At(data, start + 4) === 0) return false;
  return readName(data, start, end, start + DNS_HEADER_LENGTH, nameResult) && nameResult.end + 4 <= end;
}

/**
 * The header checks of isStrictDnsMessage() alone, a few byte reads: opcode QUERY, no reserved bits, one question,
 * and no more records than the bytes could hold. Rejects nearly any payload that is not DNS.
 */
export function hasStrictDnsHeader(data: Uint8Array, start: number, end: number): boolean {
  if (end > data.length || end - start < DNS_HEADER_LENGTH) return false;
  const flags = uint16At(data, start + 2);
  if ((flags & 0x7840) !== 0 || uint16At(data, start + 4) !== 1) return false;
  const records = uint16At(data, start + 6) + uint16At(data, start + 8) + uint16At(data, start + 10);
  return records * 11 <= end - start;
}

/**
 * Whether data[start, end) is exactly one well-formed DNS query or response, as a payload on a port other than 53
 * must be before it is shown as DNS: a standard query (opcode 0, Z bit clear) with one question of class IN (the
 * mDNS unicast-response bit aside), and every record the header counts present, ending where the payload ends.
 * Random payloads fail on the header's first words, so most UDP costs a few comparisons.
 */
export function isStrictDnsMessage(data: Uint8Array, start: number, end: number): boolean {
  if (!hasStrictDnsHeader(data, start, end)) return false;
  const records = uint16At(data, start + 6) + uint16At(data, start + 8) + uint16At(data, start + 10);
  let p = start + DNS_HEADER_LENGTH;
  if (!readName(data, start, end, p, nameResult) || nameResult.end + 4 > end) return false;
  p = nameResult.end;
  if ((uint16At(data, p + 2) & 0x7fff) !== DnsClass.IN) return false;
  p += 4;
  for (let i = 0; i < records; i++) {
    if (!skipName(data, end, p)) return false;
    p = skippedTo;
    if (p + 10 > end) return false;
    p += 10 + uint16At(data, p + 8);
    if (p > end) return false;
  }
  return p === end;
}

let skippedTo = 0;

/** Steps over the name at `offset` without reading it (a pointer ends it); sets skippedTo. */
function skipName(d: Uint8Array, end: number, offset: number): boolean {
  let p = offset;
  for (let labels = 0; labels < 128; labels++) {
    if (p >= end) return false;
    const length = d[p]!;
    if (length === 0) {
      skippedTo = p + 1;
      return true;
    }
    if ((length & 0xc0) === 0xc0) {
      if (p + 2 > end) return false;
      skippedTo = p + 2;
      return true;
    }
    if ((length & 0xc0) !== 0) return false;
    p += 1 + length;
  }
  return false;
}

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodeDnsMessage,
  dnsRcodeName,
  dnsTypeName,
  DnsRcode,
  DnsType,
  isStrictDnsMessage,
  type DnsMessage,
} from '../../src/packet/dns.js';
import { EtherType, IpProtocol } from '../../src/packet/protocols.js';
import { concat, dnsMessage, dnsName, ethernet, hex, ipv4, udp, type DnsInit } from '../harness/frames.js';
import { writePcapWithText2pcap } from '../harness/pcapFiles.js';
import { tsharkLayers, type TsharkLayers } from '../harness/tshark.js';

interface Case {
  name: string;
  message: DnsInit;
  expect: Partial<
    Pick<
      DnsMessage,
      'questionName' | 'questionType' | 'rcode' | 'isResponse' | 'ips' | 'cnames' | 'minTtl' | 'complete'
    >
  >;
}

const cases: Case[] = [
  {
    name: 'an A answer',
    message: {
      question: 'example.com',
      answers: [{ name: 'example.com', type: DnsType.A, ttl: 300, data: '93.184.216.34' }],
    },
    expect: {
      questionName: 'example.com',
      questionType: DnsType.A,
      isResponse: true,
      ips: ['93.184.216.34'],
      cnames: [],
      minTtl: 300,
    },
  },
  {
    name: 'AAAA answers',
    message: {
      question: 'ipv6.example.org',
      qtype: DnsType.AAAA,
      answers: [
        { name: 'ipv6.example.org', type: DnsType.AAAA, ttl: 60, data: '2001:db8::10' },
        { name: 'ipv6.example.org', type: DnsType.AAAA, ttl: 30, data: '2001:db8::11' },
      ],
    },
    expect: { questionType: DnsType.AAAA, ips: ['2001:db8::10', '2001:db8::11'], minTtl: 30 },
  },
  {
    name: 'a CNAME chain followed to its addresses, with compressed names',
    message: {
      question: 'www.shop.example',
      compress: true,
      answers: [
        { name: 'www.shop.example', type: DnsType.CNAME, ttl: 3600, data: 'shop.cdn.example' },
        { name: 'shop.cdn.example', type: DnsType.CNAME, ttl: 120, data: 'edge.cdn.example' },
        { name: 'edge.cdn.example', type: DnsType.A, ttl: 20, data: '198.51.100.7' },
        { name: 'edge.cdn.example', type: DnsType.A, ttl: 40, data: '198.51.100.8' },
      ],
    },
    expect: {
      questionName: 'www.shop.example',
      cnames: ['shop.cdn.example', 'edge.cdn.example'],
      ips: ['198.51.100.7', '198.51.100.8'],
      minTtl: 20,
    },
  },
  {
    name: 'addresses of names outside the chain are not attributed to the question',
    message: {
      question: 'a.example',
      answers: [
        { name: 'a.example', type: DnsType.A, ttl: 10, data: '192.0.2.1' },
        { name: 'unrelated.example', type: DnsType.A, ttl: 1, data: '192.0.2.99' },
      ],
    },
    expect: { ips: ['192.0.2.1'], minTtl: 10 },
  },
  {
    name: 'names in any case are lowercased',
    message: {
      question: 'WWW.Example.COM',
      answers: [{ name: 'www.example.com', type: DnsType.A, ttl: 5, data: '192.0.2.5' }],
    },
    expect: { questionName: 'www.example.com', ips: ['192.0.2.5'] },
  },
  {
    name: 'NXDOMAIN without answers',
    message: { question: 'nope.example', rcode: DnsRcode.NXDOMAIN, answers: [] },
    expect: { rcode: DnsRcode.NXDOMAIN, ips: [], minTtl: 0, complete: true },
  },
  {
    name: 'a query',
    message: { question: 'example.net', response: false },
    expect: { isResponse: false, questionName: 'example.net', ips: [] },
  },
  {
    name: 'an MX answer is read but yields no address',
    message: {
      question: 'mail.example',
      qtype: DnsType.MX,
      answers: [{ name: 'mail.example', type: DnsType.MX, ttl: 9, data: '000a026d78076578616d706c6500' }],
    },
    expect: { ips: [], cnames: [] },
  },
];

function dnsFrame(message: Uint8Array): Uint8Array {
  return ethernet(
    { type: EtherType.IPV4 },
    ipv4({ src: '10.0.0.53', dst: '10.0.0.2', protocol: IpProtocol.UDP }, udp(53, 41000, message)),
  );
}

describe('DNS message decoder, judged by tshark', () => {
  let tshark: TsharkLayers[];
  beforeAll(async () => {
    tshark = await tsharkLayers(await writePcapWithText2pcap(cases.map((c) => dnsFrame(dnsMessage(c.message)))));
  });

  it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
    const c = cases[i]!;
    const message = decodeDnsMessage(dnsMessage(c.message))!;
    expect(message).toBeDefined();
    expect(message).toMatchObject(c.expect);
    const ts = tshark[i]!;
    expect(message.questionName).toBe(ts['dns.qry.name']!.toLowerCase());
    const listed = (field: 'dns.a' | 'dns.aaaa' | 'dns.cname') =>
      ts[field] === undefined ? [] : ts[field]!.split(',');
    const ofType = (type: number) => message.answers.filter((a) => a.type === type).map((a) => a.data);
    expect(ofType(DnsType.A)).toEqual(listed('dns.a'));
    expect(ofType(DnsType.AAAA)).toEqual(listed('dns.aaaa'));
    expect(ofType(DnsType.CNAME)).toEqual(listed('dns.cname').map((n) => n.toLowerCase()));
    expect(message.answers.map((a) => String(a.ttl))).toEqual(
      ts['dns.resp.ttl'] === undefined ? [] : ts['dns.resp.ttl'].split(','),
    );
  });

  it('decodes a message in the middle of a buffer', () => {
    const message = dnsMessage(cases[0]!.message);
    const buffer = concat(hex('ffffffff'), message, hex('eeee'));
    expect(decodeDnsMessage(buffer, 4, 4 + message.length)?.ips).toEqual(['93.184.216.34']);
  });
});

describe('DNS message decoder on hostile input', () => {
  const header = (answers: number) => hex(`1234 8180 0001 ${answers.toString(16).padStart(4, '0')} 0000 0000`);

  it('rejects a name whose compression pointer points at itself or forwards', () => {
    expect(decodeDnsMessage(concat(header(0), hex('c00c 0001 0001')))).toBeUndefined();
    expect(decodeDnsMessage(concat(header(0), hex('c010 0001 0001 00')))).toBeUndefined();
  });

  it('stops a compression loop that keeps jumping back over a label', () => {
    // Offset 12: label "a", then a pointer back to offset 12: a name that never ends.
    const loop = concat(header(0), hex('0161 c00c'), hex('0001 0001'));
    expect(decodeDnsMessage(loop)).toBeUndefined();
  });

  it('rejects names longer than DNS allows', () => {
    const long = concat(
      ...Array.from({ length: 5 }, () => concat(Uint8Array.of(63), new Uint8Array(63).fill(0x61))),
      hex('00'),
    );
    expect(decodeDnsMessage(concat(header(0), long, hex('0001 0001')))).toBeUndefined();
  });

  it('keeps the answers present when the header claims more than the message holds', () => {
    const message = dnsMessage({ ...cases[0]!.message, answerCount: 65535 });
    const decoded = decodeDnsMessage(message)!;
    expect(decoded.ips).toEqual(['93.184.216.34']);
    expect(decoded.complete).toBe(false);
  });

  it('keeps the answers that were whole when the capture cut the message', () => {
    const message = dnsMessage(cases[2]!.message);
    const decoded = decodeDnsMessage(message, 0, message.length - 3)!;
    expect(decoded.complete).toBe(false);
    expect(decoded.ips).toEqual(['198.51.100.7']);
  });

  it('rejects a message shorter than its header or with a question cut short', () => {
    expect(decodeDnsMessage(hex('1234 8180 0001'))).toBeUndefined();
    expect(decodeDnsMessage(concat(header(0), dnsName('example.com')))).toBeUndefined();
  });

  it('escapes dots and unprintable bytes inside labels', () => {
    const message = concat(header(0), hex('03 612e62 02 0a41 00'), hex('0001 0001'));
    expect(decodeDnsMessage(message)?.questionName).toBe('a\\046b.\\010a');
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        decodeDnsMessage(bytes);
      }),
      { numRuns: 5000 },
    );
    const valid = cases.map((c) => dnsMessage(c.message));
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        (message, edits) => {
          const data = message.slice();
          for (const [at, value] of edits) data[at % data.length] = value;
          const decoded = decodeDnsMessage(data);
          if (decoded !== undefined) expect(decoded.answers.length).toBeLessThanOrEqual(64);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('telling DNS from other payloads off port 53 (isStrictDnsMessage)', () => {
  const whole = (m: Uint8Array) => isStrictDnsMessage(m, 0, m.length);

  it('accepts whole queries and responses, and nothing cut or padded', () => {
    for (const c of cases) {
      const message = dnsMessage(c.message);
      expect(whole(message)).toBe(true);
      expect(whole(dnsMessage({ ...c.message, response: false, answers: [] }))).toBe(true);
      expect(isStrictDnsMessage(message, 0, message.length - 1)).toBe(false);
      expect(whole(concat(message, hex('00')))).toBe(false);
    }
  });

  it('refuses other opcodes, several questions, and classes other than IN', () => {
    const query = dnsMessage({ question: 'example.com', response: false, answers: [] });
    const withOpcode = query.slice();
    withOpcode[2] = 0x28; // opcode 5 (UPDATE)
    expect(whole(withOpcode)).toBe(false);
    const twoQuestions = query.slice();
    twoQuestions[5] = 2;
    expect(whole(twoQuestions)).toBe(false);
    const chaos = query.slice();
    chaos[chaos.length - 1] = 3; // class CH
    expect(whole(chaos)).toBe(false);
  });

  it('takes random payloads for DNS almost never, and never throws', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
        if (whole(bytes)) accepted++;
      }),
      { numRuns: 20_000 },
    );
    expect(accepted).toBe(0);
  });
});

describe('DNS names as Hubble prints them', () => {
  it.each([
    [1, 'A'],
    [28, 'AAAA'],
    [5, 'CNAME'],
    [65, 'HTTPS'],
    [64, 'SVCB'],
    [255, 'Unknown'],
  ])('type %i is %s', (type, name) => expect(dnsTypeName(type)).toBe(name));

  it.each([
    [DnsRcode.NOERROR, 'No Error'],
    [DnsRcode.NXDOMAIN, 'Non-Existent Domain'],
    [DnsRcode.REFUSED, 'Query Refused'],
    [12, ''],
  ])('rcode %i is "%s"', (rcode, name) => expect(dnsRcodeName(rcode)).toBe(name));
});

// Hostile requests over the wire against `hubble-ts serve` as a process: GetFlows with random FlowFilters (random text
// in every string field, regexps, label selectors, CEL expressions, enums out of range, uint64s past 2^53), field masks
// and time bounds; GetAgentEvents and GetDebugEvents likewise; and Record streams with random StartRecording requests
// (CIDRs, ports, protocols, prefixes, stop conditions) and out-of-order messages. Every call ends OK or with the right
// status (INVALID_ARGUMENT saying why), never UNKNOWN or INTERNAL, in bounded time; the server stays up, answers its
// health check, and its memory stays bounded.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowFilter, type DeepPartial } from '../../src/api/flow/flow.js';
import { GetAgentEventsRequest, GetDebugEventsRequest, GetFlowsRequest } from '../../src/api/observer/observer.js';
import { dnsMessage, ethernet, icmp, ipv4, ipv6, tcp, udp } from '../harness/frames.js';
import { writePcap } from '../harness/pcapFiles.js';
import { scrapeMetrics, startServe, sumOf, type ServedProcess } from '../soak/processes.js';
import { CaseCounter, fuzzRuns } from './fuzzRuns.js';
import { healthCheck, identity, secondsNanos, serverStream, type CallEnd } from './wire.js';

const counter = new CaseCounter();
const ENDPOINTS = join(import.meta.dirname, '..', 'fixtures', 'endpoints.yaml');

/** A long name, learnt from a DNS answer, that name patterns are matched against. */
const LONG_NAME = `${'a'.repeat(40)}.example.com`;

/** Flows of many kinds, between inventory pods and the world, so every predicate has something to look at. */
function capture(dir: string): string {
  const answer = dnsMessage({
    question: LONG_NAME,
    answers: [{ name: LONG_NAME, type: 1, ttl: 3600, data: '93.184.216.34' }],
  });
  const frames = [
    ethernet({ type: 0x0800 }, ipv4({ src: '1.1.1.1', dst: '10.0.2.7', protocol: 17 }, udp(53, 5353, answer))),
    ethernet(
      { type: 0x0800 },
      ipv4({ src: '10.0.2.7', dst: '93.184.216.34', protocol: 6 }, tcp({ sport: 41000, dport: 443, flags: 0x02 })),
    ),
    ethernet(
      { type: 0x0800 },
      ipv4({ src: '10.0.1.15', dst: '10.0.1.16', protocol: 6 }, tcp({ sport: 40000, dport: 80, flags: 0x02 })),
    ),
    ethernet(
      { type: 0x0800 },
      ipv4({ src: '10.0.1.16', dst: '10.0.1.15', protocol: 6 }, tcp({ sport: 80, dport: 40000, flags: 0x12 })),
    ),
    ethernet(
      { type: 0x0800 },
      ipv4({ src: '10.0.2.7', dst: '1.1.1.1', protocol: 17 }, udp(5353, 53, new Uint8Array(30))),
    ),
    ethernet({ type: 0x0800 }, ipv4({ src: '10.0.1.15', dst: '8.8.8.8', protocol: 1 }, icmp(8, 0, 1, 1))),
    ethernet(
      { type: 0x86dd },
      ipv6({ src: 'fd00::15', dst: 'fd00::99', next: 6 }, tcp({ sport: 1, dport: 443, flags: 0x18 })),
    ),
    ethernet({ type: 0x86dd }, ipv6({ src: 'fd00::15', dst: 'fd00::99', next: 58 }, icmp(128, 0, 1, 1))),
  ];
  const records = Array.from({ length: 60 }, (_, i) => ({
    seconds: 1_700_000_000 + i,
    fraction: i * 1000,
    data: frames[i % frames.length]!,
  }));
  const path = join(dir, 'flows.pcap');
  writeFileSync(path, writePcap(records, { linkType: 1 }));
  return path;
}

// ---- arbitraries ---------------------------------------------------------------------------------------------------

const REGEX_TOKENS = [
  '(',
  ')',
  '(?:',
  '(?i)',
  '(?P<x>',
  '(?<x>',
  '[',
  ']',
  '[^',
  '[[:alpha:]]',
  '[[:nope:]]',
  '\\',
  '\\d',
  '\\pL',
  '\\p{Greek}',
  '\\p{Nope}',
  '\\Q',
  '\\E',
  '\\C',
  '\\1',
  '(?=',
  '*',
  '+',
  '?',
  '*?',
  '{2}',
  '{1,}',
  '{1000}',
  '{1001}',
  '{2,1}',
  '|',
  '^',
  '$',
  '.',
  'a',
  'é',
  '\\x{10FFFF}',
  '\\x{110000}',
  '\\b',
  '\\z',
];
const CEL_ATOMS = [
  '_flow',
  '_flow.verdict',
  '_flow.l4.TCP.destination_port',
  '_flow.IP.source',
  '_flow.source.labels',
  '_flow.node_name',
  'Verdict.DROPPED',
  'flow.Verdict.FORWARDED',
  '1',
  '1u',
  '-1',
  '2.5',
  '"x"',
  'true',
  'null',
  '[1,2]',
  '{"a":1}',
  'b"\\xff"',
  'size(_flow.source.labels)',
  '_flow.node_name.matches("(")',
  '_flow.node_name.matches("a+")',
  '_flow.node_name.startsWith("a")',
  'has(_flow.l4)',
  'has(_flow.nope)',
  '_flow.source.labels.exists(l, l == "x")',
  'int("x")',
  '1/0',
  '1%0',
  'timestamp("x")',
  'duration("1s")',
  '_flow.time',
  'dyn(_flow)',
  '_flow.nope',
  'nope(1)',
  '_flow.time > timestamp("2020-01-01T00:00:00Z")',
  '9223372036854775807 + 1',
  '[1,2,3].all(x, x > 0)',
];
const CEL_OPS = [
  '==',
  '!=',
  '<',
  '>',
  '<=',
  '&&',
  '||',
  '+',
  '-',
  '*',
  '/',
  '%',
  '!',
  '?',
  ':',
  'in',
  '.',
  '(',
  ')',
  '[',
  ']',
  ',',
];
const KNOWN_TEXT = [
  '',
  ' ',
  '10.0.1.15',
  '10.0.0.0/8',
  '10.0.1.15/33',
  'fd00::/8',
  'fd00::15',
  '::1',
  '256.1.1.1',
  '1.2.3',
  'a/b',
  'shop/',
  '/frontend',
  'shop/frontend-',
  'kube-system/',
  'k8s:app=frontend',
  'app=frontend',
  'app in (frontend, cart)',
  'app notin (x)',
  '!app',
  'app',
  'k8s:',
  '=x',
  'reserved:world',
  '*',
  '**',
  '*.example.com',
  'a..b',
  '.',
  'GET',
  'get',
  'FOO',
  '200',
  '2xx',
  '+4xx',
  '600',
  '-1',
  '0',
  '65535',
  '65536',
  '80-90',
  '0x50',
  ' 80',
  'tcp',
  'TCP',
  'udp',
  'icmp',
  'icmpv4',
  'icmpv6',
  'sctp',
  'vrrp',
  'igmp',
  'http',
  'dns',
  'nope',
  '\u0000',
  '\uffff',
  '\ud800',
  'a'.repeat(300),
  'cluster/node',
  'node-*',
  'Deployment',
  'frontend',
];

/** A wildcard pattern a backtracking matcher takes minutes over on a long name that does not match. */
const STARS = `${'*a'.repeat(12)}*b`;

const regexish = fc.array(fc.constantFrom(...REGEX_TOKENS), { maxLength: 10 }).map((t) => t.join(''));
/** Comprehensions nested over literal lists: their cost multiplies, which a server must bound before evaluating. */
const celNested = fc
  .record({
    depth: fc.integer({ min: 1, max: 8 }),
    length: fc.integer({ min: 1, max: 16 }),
    macro: fc.constantFrom('all', 'exists', 'exists_one', 'map', 'filter'),
  })
  .map(({ depth, length, macro }) => {
    const list = `[${Array.from({ length }, (_, i) => i).join(', ')}]`;
    let expr = '_flow.verdict == Verdict.FORWARDED';
    for (let d = 0; d < depth; d++) {
      const inner =
        macro === 'map'
          ? `${list}.map(x${d}, ${expr}).size() > 0`
          : macro === 'filter'
            ? `${list}.filter(x${d}, ${expr}).size() > 0`
            : `${list}.${macro}(x${d}, ${expr})`;
      expr = inner;
    }
    return expr;
  });
const celish = fc.oneof(
  celNested,
  fc
    .array(fc.oneof(fc.constantFrom(...CEL_ATOMS), fc.constantFrom(...CEL_OPS), fc.string({ maxLength: 4 })), {
      maxLength: 9,
    })
    .map((t) => t.join(' ')),
  fc
    .tuple(fc.constantFrom(...CEL_ATOMS), fc.constantFrom(...CEL_OPS), fc.constantFrom(...CEL_ATOMS))
    .map((t) => t.join(' ')),
  fc.string({ maxLength: 30 }),
);
const text = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...KNOWN_TEXT) },
  { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 2, arbitrary: regexish },
);
const texts = fc.array(text, { minLength: 1, maxLength: 2 });
const int32 = fc.oneof(fc.integer({ min: -3, max: 200 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
const uint32 = fc.oneof(fc.nat(70_000), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
const enums = fc.array(
  fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 12 }) }, { weight: 1, arbitrary: int32 }),
  {
    minLength: 1,
    maxLength: 2,
  },
);
const workloads = fc.array(fc.record({ name: text, kind: text }, { requiredKeys: [] }), { maxLength: 2 });

/** One or two values for a field: mostly ones that field takes, else any text. */
function values(...usable: string[]): fc.Arbitrary<string[]> {
  return fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...usable) }, { weight: 1, arbitrary: text }), {
    minLength: 1,
    maxLength: 2,
  });
}

/** A FlowFilter with one to three fields set, each to random values: mostly usable, often not. */
const FILTER_FIELDS: Record<string, fc.Arbitrary<unknown>> = {
  uuid: values('00000000-0000-4000-8000-000000000000', 'x'),
  sourceIp: values('10.0.1.15', '10.0.0.0/8', 'fd00::15', 'fd00::/8', '1.1.1.1'),
  sourceIpXlated: values('10.0.1.15', '10.0.0.0/8'),
  sourcePod: values('shop/', 'shop/frontend-', 'kube-system/', 'shop/cart-5f6d8-qq2wz'),
  sourceFqdn: values('*.example.com', 'one.one.one.one', '*', STARS),
  sourceLabel: values('k8s:app=frontend', 'app=frontend', 'app in (frontend, cart)', '!app', 'reserved:world'),
  sourceService: values('shop/frontend', 'frontend'),
  sourceWorkload: workloads,
  sourceClusterName: values('default', 'other'),
  destinationIp: values('10.0.1.16', '8.8.8.8', 'fd00::99', '0.0.0.0/0'),
  destinationPod: values('shop/', 'shop/cart-', 'default/x'),
  destinationFqdn: values('*.example.com', 'dns.google', STARS, `${STARS}.example.com`),
  destinationLabel: values('k8s:app=cart', 'reserved:world', 'reserved:host'),
  destinationService: values('shop/cart', 'kube-dns'),
  destinationWorkload: workloads,
  destinationClusterName: values('default'),
  trafficDirection: enums,
  verdict: enums,
  dropReasonDesc: enums,
  interface: fc.array(fc.record({ index: uint32, name: text }, { requiredKeys: [] }), { maxLength: 2 }),
  eventType: fc.array(fc.record({ type: int32, matchSubType: fc.boolean(), subType: int32 }, { requiredKeys: [] }), {
    maxLength: 2,
  }),
  httpStatusCode: values('200', '404', '2+', '5+'),
  protocol: values('tcp', 'udp', 'icmp', 'icmpv6', 'TCP', 'dns', 'http'),
  sourcePort: values('80', '40000', '53', '0', '65535'),
  destinationPort: values('80', '443', '53'),
  reply: fc.array(fc.boolean(), { maxLength: 2 }),
  dnsQuery: values('example', '.*\\.com', '^dns'),
  sourceIdentity: fc.array(uint32, { maxLength: 2 }),
  destinationIdentity: fc.array(uint32, { maxLength: 2 }),
  httpMethod: values('GET', 'POST', 'get'),
  httpPath: values('/api/.*', '^/$'),
  httpUrl: values('https?://.*', 'example\\.com'),
  httpHeader: fc.array(fc.record({ key: text, value: text }, { requiredKeys: [] }), { maxLength: 2 }),
  tcpFlags: fc.array(
    fc.record(
      Object.fromEntries(['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'].map((f) => [f, fc.boolean()])),
      { requiredKeys: [] },
    ),
    { maxLength: 2 },
  ),
  nodeName: values('fuzz', 'fu*', 'default/fuzz', '*', `${STARS}/${STARS}`),
  nodeLabels: values('kubernetes.io/hostname=fuzz', 'a in (b)'),
  ipVersion: enums,
  traceId: values('abc', '0123456789abcdef'),
  ipTraceId: fc.array(fc.nat(), { maxLength: 2 }),
  encrypted: fc.array(fc.boolean(), { maxLength: 2 }),
  experimental: fc.record({ celExpression: fc.array(celish, { maxLength: 2 }) }),
};
const flowFilter: fc.Arbitrary<DeepPartial<FlowFilter>> = fc
  .uniqueArray(fc.constantFrom(...Object.keys(FILTER_FIELDS)), { minLength: 1, maxLength: 3 })
  .chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, FILTER_FIELDS[k]!]))))
  .map((f) => f as DeepPartial<FlowFilter>);

/** A timestamp, often outside what protobuf allows (negative nanos, year 10000, seconds past 2^53). */
const timestamp = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.record({
      seconds: fc.integer({ min: 1_699_999_990, max: 1_700_000_070 }).map(BigInt),
      nanos: fc.nat(999_999_999),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      seconds: fc.constantFrom(0n, -1n, -62_135_596_801n, 253_402_300_800n, 2n ** 53n + 1n, 2n ** 62n, -(2n ** 63n)),
      nanos: fc.oneof(fc.nat(999_999_999), fc.constantFrom(-1, 1_000_000_000, 2 ** 31 - 1)),
    }),
  },
);

const fieldPath = fc.oneof(
  {
    weight: 15,
    arbitrary: fc.constantFrom(
      'time',
      'verdict',
      'IP',
      'IP.source',
      'l4',
      'l4.TCP.flags',
      'source.labels',
      'node_name',
      'uuid',
      'Summary',
      'time.seconds',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('nope', 'IP.nope', '', '.', 'source..labels', 'l4.TCP.') },
);

const eventsRequest = fc.record({
  number: fc.oneof(fc.nat(50).map(String), fc.constantFrom('0', '18446744073709551615', '9007199254740993')),
  first: fc.boolean(),
  follow: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  since: timestamp,
  until: timestamp,
});

const getFlows = fc.record({
  common: eventsRequest,
  whitelist: fc.array(flowFilter, { maxLength: 2 }),
  blacklist: fc.array(flowFilter, { maxLength: 1 }),
  fieldMask: fc.option(fc.array(fieldPath, { minLength: 1, maxLength: 3 }), {
    nil: undefined,
    freq: 4,
  }),
  /** IP trace ids past 2^53, which a JavaScript number cannot hold (Hubble's are uint64). */
  bigTraceIds: fc.oneof(
    { weight: 9, arbitrary: fc.constant([] as bigint[]) },
    {
      weight: 1,
      arbitrary: fc.array(fc.bigInt({ min: 2n ** 53n - 2n, max: 2n ** 64n - 1n }), { minLength: 1, maxLength: 2 }),
    },
  ),
});

type Common = typeof eventsRequest extends fc.Arbitrary<infer T> ? T : never;

/** GetFlows/GetAgentEvents/GetDebugEvents bytes, with the timestamps written by hand (any int64 seconds). */
function encodeEvents(base: Uint8Array, c: Common, extra?: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter();
  w.raw(base);
  if (c.since !== undefined) secondsNanos(w, 7, c.since.seconds, c.since.nanos);
  if (c.until !== undefined) secondsNanos(w, 8, c.until.seconds, c.until.nanos);
  extra?.(w);
  return w.finish();
}

// ---- the server and how calls may end ----------------------------------------------------------------------------------

const FOLLOW_MS = 400;
const DEADLINE_MS = 10_000;

/** OK, or INVALID_ARGUMENT that says why; a follow may also run into its deadline. Anything else is a bug. */
function expectWellAnswered(end: CallEnd, follow: boolean, what: () => string): void {
  const allowed = [grpc.status.OK, grpc.status.INVALID_ARGUMENT];
  if (follow) allowed.push(grpc.status.DEADLINE_EXCEEDED);
  expect(allowed, `${grpc.status[end.code]}: ${end.details}\n${what()}`).toContain(end.code);
  if (end.code === grpc.status.INVALID_ARGUMENT) expect(end.details.length, what()).toBeGreaterThan(5);
}

describe('hostile requests over the wire', () => {
  let dir: string;
  let serve: ServedProcess;
  let target: string;
  let observer: grpc.Client;
  let rssBefore = 0;
  const answers: Record<string, Record<string, number>> = {};
  const tally = (name: string, end: CallEnd) => {
    const byCode = (answers[name] ??= {});
    const code = grpc.status[end.code]!;
    // HUBBLE_TS_FUZZ_DEBUG=1 prints every answer, to see what the generators reach.
    if (process.env['HUBBLE_TS_FUZZ_DEBUG']) console.log(name, code, end.details.slice(0, 150));
    byCode[code] = (byCode[code] ?? 0) + 1;
  };
  const detail = (name: string) =>
    Object.entries(answers[name] ?? {})
      .map(([code, n]) => `${n} ${code}`)
      .join(', ');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-fuzz-api-'));
    serve = await startServe({
      name: 'fuzz',
      dir,
      sources: [`pcap:${capture(dir)}`],
      extra: ['--endpoints', ENDPOINTS],
    });
    await serve.waitFor((out) => out.includes('source ended'), 20_000, 'the replay');
    target = `unix://${serve.socket}`;
    observer = new grpc.Client(target, grpc.credentials.createInsecure());
    rssBefore = sumOf(await scrapeMetrics(serve.metricsPort), 'process_resident_memory_bytes');
  });

  afterAll(async () => {
    observer?.close();
    for (const name of ['GetFlows', 'costly filters', 'GetAgentEvents and GetDebugEvents', 'Record'])
      counter.report(name, detail(name));
    await serve?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function expectServerWell(): Promise<void> {
    expect(serve.child.exitCode, serve.stderr()).toBeNull();
    expect(await healthCheck(target)).toBe('SERVING');
    expect(await healthCheck(target, 'hubble.server.Observer')).toBe('SERVING');
  }

  it('GetFlows with random filters, masks, counts and times ends OK or INVALID_ARGUMENT, never UNKNOWN/INTERNAL', async () => {
    await fc.assert(
      fc.asyncProperty(getFlows, async (g) => {
        counter.add('GetFlows');
        const base = GetFlowsRequest.encode(
          GetFlowsRequest.fromPartial({
            number: g.common.number,
            first: g.common.first,
            follow: g.common.follow,
            whitelist: g.whitelist,
            blacklist: g.blacklist,
            fieldMask: g.fieldMask,
          }),
        ).finish();
        const bytes = encodeEvents(base, g.common, (w) => {
          if (g.bigTraceIds.length === 0) return;
          // One more whitelist FlowFilter holding only ip_trace_id (field 39, packed uint64).
          w.uint32((6 << 3) | 2)
            .fork()
            .uint32((39 << 3) | 2)
            .fork();
          for (const id of g.bigTraceIds) w.uint64(id);
          w.join().join();
        });
        const end = await serverStream(
          observer,
          '/observer.Observer/GetFlows',
          bytes,
          g.common.follow ? FOLLOW_MS : DEADLINE_MS,
        );
        tally('GetFlows', end);
        // Any filter, however costly, is answered or refused in bounded time: the event loop serves everyone.
        if (!g.common.follow) expect(end.ms, JSON.stringify(g.whitelist).slice(0, 500)).toBeLessThan(5000);
        expectWellAnswered(end, g.common.follow, () =>
          JSON.stringify(g, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
        );
      }),
      { numRuns: fuzzRuns(250) },
    );
    await expectServerWell();
  }, 180_000);

  it('GetFlows with costly filters (CEL, name patterns, regexps) is answered or refused in bounded time, the server serving others meanwhile', async () => {
    // Runs of stars followed by a tail the name cannot end with are what a backtracking matcher chokes on.
    const wildcard = fc
      .tuple(
        fc.integer({ min: 0, max: 14 }),
        fc.array(fc.constantFrom('*', '*a', 'a', 'b', '.', '-', 'example', 'com', '*.'), { maxLength: 8 }),
      )
      .map(([stars, tail]) => '*a'.repeat(stars) + tail.join(''));
    const costly = fc.oneof(
      celish.map((e) => ({ experimental: { celExpression: [e] } })),
      wildcard.map((p) => ({ destinationFqdn: [p] })),
      wildcard.map((p) => ({ sourceFqdn: [p, 'x'] })),
      fc.tuple(wildcard, wildcard).map(([c, n]) => ({ nodeName: [`${c}/${n}`] })),
      regexish.map((r) => ({ dnsQuery: [r] })),
      regexish.map((r) => ({ httpUrl: [r] })),
    );
    await fc.assert(
      fc.asyncProperty(costly, fc.boolean(), async (filter, deny) => {
        counter.add('costly filters');
        const request = GetFlowsRequest.fromPartial({
          number: '20',
          ...(deny ? { blacklist: [filter] } : { whitelist: [filter] }),
        });
        const health = new Promise<number>((resolve) => {
          // Asked while the filter is compiled and evaluated: the event loop must still turn.
          setTimeout(() => {
            const t0 = performance.now();
            void healthCheck(target, '', 5000).then(() => resolve(performance.now() - t0));
          }, 5);
        });
        const end = await serverStream(
          observer,
          '/observer.Observer/GetFlows',
          GetFlowsRequest.encode(request).finish(),
          DEADLINE_MS,
        );
        tally('costly filters', end);
        const what = () => JSON.stringify(filter);
        expectWellAnswered(end, false, what);
        expect(end.ms, what()).toBeLessThan(5000);
        expect(await health, what()).toBeLessThan(5000);
      }),
      { numRuns: fuzzRuns(100) },
    );
    await expectServerWell();
  }, 240_000);

  it('GetAgentEvents and GetDebugEvents with random counts and times end OK or INVALID_ARGUMENT', async () => {
    await fc.assert(
      fc.asyncProperty(eventsRequest, fc.boolean(), async (c, agent) => {
        counter.add('GetAgentEvents and GetDebugEvents');
        const partial = { number: c.number, first: c.first, follow: c.follow };
        const base = agent
          ? GetAgentEventsRequest.encode(GetAgentEventsRequest.fromPartial(partial)).finish()
          : GetDebugEventsRequest.encode(GetDebugEventsRequest.fromPartial(partial)).finish();
        const end = await serverStream(
          observer,
          agent ? '/observer.Observer/GetAgentEvents' : '/observer.Observer/GetDebugEvents',
          encodeEvents(base, c),
          c.follow ? FOLLOW_MS : DEADLINE_MS,
        );
        tally('GetAgentEvents and GetDebugEvents', end);
        expectWellAnswered(end, c.follow, () => JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
      }),
      { numRuns: fuzzRuns(80) },
    );
    await expectServerWell();
  }, 120_000);

  it('Record with random start requests and message orders ends OK or with a status saying why', async () => {
    const cidr = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('0.0.0.0/0', '10.0.1.0/24', '::/0', 'fd00::/16') },
      fc.constantFrom(
        '0.0.0.0/0',
        '10.0.0.0/8',
        '127.0.0.1/32',
        '::/0',
        'fd00::/8',
        '10.0.0.1',
        '10.0.0.0/33',
        '::/129',
        '1.2.3.4/-1',
        '',
        ' 10.0.0.0/8',
        '10.0.0.0/08',
        'fe80::1%eth0/64',
        '::ffff:1.2.3.4/120',
      ),
      text,
    );
    const port = fc.oneof({ weight: 12, arbitrary: fc.nat(65535) }, { weight: 1, arbitrary: uint32 });
    const protocol = fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(0, 6, 17, 132) },
      { weight: 1, arbitrary: int32 },
    );
    const v4 = fc.constantFrom('0.0.0.0/0', '10.0.0.0/8', '127.0.0.1/32');
    const filter = fc.oneof(
      { weight: 4, arbitrary: fc.record({ src: v4, sport: port, dst: v4, dport: port, protocol }) },
      fc.record({ src: cidr, sport: port, dst: cidr, dport: port, protocol }, { requiredKeys: [] }),
    );
    const start = fc.record(
      {
        prefix: fc.oneof(
          { weight: 30, arbitrary: fc.constantFrom('fuzz', 'a', 'a'.repeat(20), '') },
          fc.constantFrom('a'.repeat(21), 'A', '1a', 'a_b', '../x'),
          text,
        ),
        include: fc.array(filter, { minLength: 1, maxLength: 3 }),
        maxCaptureLength: fc.oneof(fc.nat(2000), uint32),
        stop: fc.record(
          {
            bytes: fc.oneof(fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
            packets: fc.oneof(fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
            seconds: fc.oneof(
              { weight: 5, arbitrary: fc.bigInt({ min: 0n, max: 5n }) },
              fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
            ),
            nanos: fc.oneof(fc.nat(5), int32),
          },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: ['include'] },
    );
    // What the client does after its first message: stop, half-close, start again, send nothing useful, or vanish.
    const then = fc.oneof(
      { weight: 4, arbitrary: fc.constant('stop') },
      { weight: 2, arbitrary: fc.constant('end') },
      { weight: 1, arbitrary: fc.constantFrom('start-again', 'empty', 'cancel') },
    );
    const first = fc.oneof(
      { weight: 10, arbitrary: fc.constant('start') },
      { weight: 1, arbitrary: fc.constantFrom('stop', 'empty') },
    );

    type Start = typeof start extends fc.Arbitrary<infer T> ? T : never;
    const encodeStart = (s: Start): Uint8Array => {
      const w = new BinaryWriter();
      w.uint32(0x0a).fork();
      if (s.prefix !== undefined) w.uint32(0x0a).fork().uint32(0x0a).string(s.prefix).join();
      for (const f of s.include ?? []) {
        w.uint32(0x12).fork();
        if (f.src !== undefined) w.uint32(0x0a).string(f.src);
        if (f.sport !== undefined) w.uint32(0x10).uint32(f.sport);
        if (f.dst !== undefined) w.uint32(0x1a).string(f.dst);
        if (f.dport !== undefined) w.uint32(0x20).uint32(f.dport);
        if (f.protocol !== undefined) w.uint32(0x28).int32(f.protocol);
        w.join();
      }
      if (s.maxCaptureLength !== undefined) w.uint32(0x18).uint32(s.maxCaptureLength);
      if (s.stop !== undefined) {
        w.uint32(0x22).fork();
        if (s.stop.bytes !== undefined) w.uint32(0x08).uint64(s.stop.bytes);
        if (s.stop.packets !== undefined) w.uint32(0x10).uint64(s.stop.packets);
        if (s.stop.seconds !== undefined || s.stop.nanos !== undefined)
          secondsNanos(w, 3, s.stop.seconds ?? 0n, s.stop.nanos ?? 0);
        w.join();
      }
      w.join();
      return w.finish();
    };
    const STOP = Uint8Array.of(0x12, 0x00);
    const EMPTY = new Uint8Array(0);

    await fc.assert(
      fc.asyncProperty(first, start, then, async (opening, s, next) => {
        counter.add('Record');
        const what = () => JSON.stringify({ opening, s, next }, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
        const t0 = performance.now();
        const call = observer.makeBidiStreamRequest(
          '/recorder.Recorder/Record',
          identity,
          identity,
          new grpc.Metadata(),
          {
            deadline: Date.now() + DEADLINE_MS,
          },
        );
        let responses = 0;
        const firstResponse = new Promise<void>((resolve) => call.once('data', () => resolve()));
        call.on('data', () => responses++);
        call.on('error', () => undefined);
        const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
        call.write(Buffer.from(opening === 'start' ? encodeStart(s) : opening === 'stop' ? STOP : EMPTY));
        // Either it answers (running, or stopped at once by a tiny limit), or it ends with a refusal.
        await Promise.race([firstResponse, ended]);
        if (next === 'stop') call.write(Buffer.from(STOP));
        else if (next === 'end') call.end();
        else if (next === 'start-again') call.write(Buffer.from(encodeStart(s)));
        else if (next === 'empty') call.write(Buffer.from(EMPTY));
        else call.cancel();
        if (next !== 'end') setTimeout(() => call.end(), 50);
        const status = await ended;
        const end: CallEnd = {
          code: status.code,
          details: status.details,
          messages: responses,
          ms: performance.now() - t0,
        };
        tally('Record', end);
        const allowed = [grpc.status.OK, grpc.status.INVALID_ARGUMENT];
        if (next === 'cancel') allowed.push(grpc.status.CANCELLED);
        expect(allowed, `${grpc.status[end.code]}: ${end.details}\n${what()}`).toContain(end.code);
        if (end.code === grpc.status.INVALID_ARGUMENT) expect(end.details.length, what()).toBeGreaterThan(5);
      }),
      { numRuns: fuzzRuns(150) },
    );
    await expectServerWell();
    // No recording outlives its stream.
    const e = await scrapeMetrics(serve.metricsPort);
    expect(sumOf(e, 'hubblets_recordings_running')).toBe(0);
  }, 180_000);

  it('stays within bounded memory after all of it', async () => {
    const rss = sumOf(await scrapeMetrics(serve.metricsPort), 'process_resident_memory_bytes');
    expect(rss - rssBefore).toBeLessThan(96 * 1024 * 1024);
    console.log(
      `fuzz: server RSS ${(rssBefore / 1048576).toFixed(0)} -> ${(rss / 1048576).toFixed(0)} MiB over the API fuzzers`,
    );
  });
});

// What a user of `hubble observe --protocol dns` / `--http-status` sees: dig against dnsmasq and curl against an HTTP
// server on loopback, captured by tcpdump, replayed by `hubble-ts serve`, read back with `hubble-ts observe` and the
// dns/http metrics; tshark reads the same capture as the judge of every DNS message and HTTP request and response.
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureWhile } from '../harness/capture.js';
import { CLI_ENTRY, runCli, serveCapture, type CliProcess } from '../harness/cli.js';
import { curl, dig, pipelinedGets, startDnsServer, startHttpServer } from '../harness/l7Traffic.js';
import { tsharkFields } from '../harness/tshark.js';

const run = promisify(execFile);

type Json = Record<string, any>;

function flowsOf(stdout: string): Json[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { flow: Json }).flow);
}

const DNS_TYPES: Record<string, string> = { '1': 'A', '5': 'CNAME', '28': 'AAAA' };

describe('L7 flows from a capture of dig and curl, judged by tshark', () => {
  let pcap: string;
  let serve: CliProcess;
  let socket: string;
  let metricsPort: number;
  let dnsPort: number;
  let httpPort: number;

  const observe = async (...args: string[]): Promise<Json[]> => {
    const r = await runCli(['observe', '--server', `unix://${socket}`, '-o', 'json', '--all', ...args]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return flowsOf(r.stdout);
  };

  beforeAll(async () => {
    const dns = await startDnsServer();
    const http = await startHttpServer();
    dnsPort = dns.port;
    httpPort = http.port;
    const base = `http://127.0.0.1:${httpPort}`;
    try {
      pcap = await captureWhile(`host 127.0.0.1 and (port ${dnsPort} or port ${httpPort})`, async () => {
        await dig(dnsPort, 'web.test', 'A');
        await dig(dnsPort, 'alias.test', 'A');
        await dig(dnsPort, 'nope.test', 'A');
        await dig(dnsPort, 'web.test', 'AAAA');
        await dig(dnsPort, '+tcp', 'web.test', 'A');
        // One keep-alive connection: five requests, credentials in the Authorization and Cookie headers.
        await curl(
          '-H',
          `Host: web.test:${httpPort}`,
          '-u',
          'alice:wonderland',
          '-b',
          'session=abc',
          `${base}/`,
          `${base}/missing`,
          `${base}/chunked`,
          `${base}/empty`,
          `${base}/slow`,
        );
        await curl('-d', 'x=1&y=2', `${base}/form?debug=1`);
        await curl('-I', `${base}/head`);
        await pipelinedGets(httpPort, ['/p1', '/p2']);
      });
    } finally {
      await dns.stop();
      await http.stop();
    }
    const served = await serveCapture(
      pcap,
      ['--metrics-address', '127.0.0.1:0', '--metrics', 'dns:query http'],
      'l7-node',
    );
    serve = served.process;
    socket = served.socket;
    metricsPort = served.metricsPort!;
  }, 60_000);

  afterAll(async () => {
    await serve?.stop();
  });

  it('shows every DNS message as one L7 flow with the fields tshark reads', async () => {
    const messages = await tsharkFields(
      pcap,
      [
        'dns.flags.response',
        'dns.qry.name',
        'dns.qry.type',
        'dns.flags.rcode',
        'dns.a',
        'dns.aaaa',
        'dns.cname',
        'dns.count.answers',
        'dns.resp.type',
        'dns.resp.ttl',
        'dns.time',
        'ip.src',
        'udp.srcport',
        'tcp.srcport',
      ],
      {
        displayFilter: 'dns',
        allOccurrences: true,
        decodeAs: [`udp.port==${dnsPort},dns`, `tcp.port==${dnsPort},dns`],
      },
    );
    expect(messages).toHaveLength(10); // five queries, five answers
    const flows = await observe('--protocol', 'dns');
    expect(flows).toHaveLength(messages.length);
    flows.forEach((flow, i) => {
      const [response, name, qtype, rcode, a, aaaa, cname, answers, types, ttls, time, src, udpSrc, tcpSrc] =
        messages[i]!;
      // The answer section comes first among the records tshark lists (the additional section's OPT after it).
      const answerCount = Number(answers);
      const rrtypes = types!
        .split(',')
        .slice(0, answerCount)
        .map((t) => DNS_TYPES[t]);
      const answerTtls = ttls!.split(',').slice(0, answerCount).map(Number);
      const isResponse = response === '1' || response === 'True';
      expect(flow['Type']).toBe('L7');
      expect(flow['event_type']).toEqual({ type: 129 });
      expect(flow['verdict']).toBe('FORWARDED');
      expect(flow['IP'].source).toBe(src);
      const l4 = flow['l4'].UDP ?? flow['l4'].TCP;
      expect(l4.source_port).toBe(Number(udpSrc || tcpSrc));
      expect(flow['l7'].type).toBe(isResponse ? 'RESPONSE' : 'REQUEST');
      expect(flow['is_reply']).toBe(isResponse);
      const dns = flow['l7'].dns;
      expect(dns.query).toBe(`${name}.`);
      expect(dns.qtypes).toEqual([DNS_TYPES[qtype!]]);
      expect(dns.observation_source).toBe('packet');
      if (!isResponse) {
        expect(dns.ips ?? []).toEqual([]);
        expect(flow['Summary']).toBe(`DNS Query ${name}. ${DNS_TYPES[qtype!]}`);
        return;
      }
      expect(dns.rcode ?? 0).toBe(Number(rcode));
      expect(dns.ips ?? []).toEqual([...a!.split(','), ...aaaa!.split(',')].filter((x) => x !== ''));
      expect(dns.cnames ?? []).toEqual(
        cname!
          .split(',')
          .filter((x) => x !== '')
          .map((c) => `${c}.`),
      );
      expect(dns.rrtypes ?? []).toEqual(rrtypes);
      // Hubble's TTL: the smallest of the chain's records, 2^32-1 when there are none.
      const ttl = answerCount === 0 ? 4294967295 : Math.min(...answerTtls);
      expect(dns.ttl).toBe(ttl);
      // The response's latency is the time since its query, as tshark's dns.time measures it.
      expect(Number(flow['l7'].latency_ns)).toBe(Math.round(Number(time) * 1e9));
    });
    const nx = flows.find((f) => f['l7'].dns.query === 'nope.test.' && f['l7'].type === 'RESPONSE')!;
    expect(nx['Summary']).toBe('DNS Answer RCode: Non-Existent Domain TTL: 4294967295 (Query nope.test. A)');
    const alias = flows.find((f) => f['l7'].dns.query === 'alias.test.' && f['l7'].type === 'RESPONSE')!;
    expect(alias['Summary']).toBe('DNS Answer "127.0.0.1" CNAMEs: "web.test." TTL: 30 (Query alias.test. A)');
  });

  it('shows every HTTP request and response as one L7 flow, in tshark order, with latency and redacted secrets', async () => {
    const frames = await tsharkFields(
      pcap,
      ['http.request.method', 'http.request.uri', 'http.request.version', 'http.response.code', 'http.time'],
      { displayFilter: 'http', allOccurrences: true, decodeAs: [`tcp.port==${httpPort},http`] },
    );
    // tshark lists a segment's messages in one row (two pipelined requests: "GET,GET").
    const expected: { method?: string; uri?: string; code?: number; time?: number }[] = [];
    for (const [methods, uris, , codes, times] of frames) {
      if (methods !== '') {
        const u = uris!.split(',');
        methods!.split(',').forEach((method, i) => expected.push({ method, uri: u[i] }));
      }
      if (codes !== '') {
        const t = times!.split(',');
        codes!.split(',').forEach((code, i) => expected.push({ code: Number(code), time: Number(t[i]) }));
      }
    }
    expect(expected.filter((e) => e.method !== undefined)).toHaveLength(9);
    expect(expected.filter((e) => e.code !== undefined)).toHaveLength(9);
    const flows = await observe('--protocol', 'http');
    // tshark reports a response once its body is whole, we as soon as its head is: compare each kind in order.
    const requests = flows.filter((f) => f['l7'].type === 'REQUEST');
    const responses = flows.filter((f) => f['l7'].type === 'RESPONSE');
    expect(
      requests.map((f) => [f['l7'].http.method, new URL(f['l7'].http.url).pathname + new URL(f['l7'].http.url).search]),
    ).toEqual(expected.filter((e) => e.method !== undefined).map((e) => [e.method, e.uri]));
    expect(responses.map((f) => f['l7'].http.code)).toEqual(
      expected.filter((e) => e.code !== undefined).map((e) => e.code),
    );
    for (const f of requests) {
      expect(f['Type']).toBe('L7');
      expect(f['l7'].http.protocol).toBe('HTTP/1.1');
      expect(f['l4'].TCP.destination_port).toBe(httpPort);
      expect(f['Summary']).toBe(`HTTP/1.1 ${f['l7'].http.method} ${f['l7'].http.url}`);
    }
    // A response names its request (method and URL) and is as late as tshark says (give or take the body's time).
    responses.forEach((f, i) => {
      expect(f['l4'].TCP.source_port).toBe(httpPort);
      expect(f['l7'].http.method).toBe(requests[i]!['l7'].http.method);
      expect(f['l7'].http.url).toBe(requests[i]!['l7'].http.url);
      const latencyS = Number(f['l7'].latency_ns ?? 0) / 1e9;
      const tsharkS = expected.filter((e) => e.code !== undefined)[i]!.time!;
      // tshark times the second of two pipelined responses as 0; it came later than the first.
      if (tsharkS === 0) {
        expect(latencyS).toBeGreaterThan(Number(responses[i - 1]!['l7'].latency_ns) / 1e9);
        return;
      }
      expect(latencyS).toBeLessThanOrEqual(tsharkS + 1e-6);
      expect(latencyS).toBeGreaterThan(tsharkS - 0.02);
    });
    const slow = responses.find((f) => f['l7'].http.url.endsWith('/slow'))!;
    expect(Number(slow['l7'].latency_ns) / 1e6).toBeGreaterThanOrEqual(29);
    expect(slow['Summary']).toMatch(new RegExp(`^HTTP/1\\.1 200 \\d+ms \\(GET http://web\\.test:${httpPort}/slow\\)$`));
    // Hubble's redaction of credentials; other headers as sent, keys canonical and sorted.
    const first = requests[0]!['l7'].http;
    expect(first.url).toBe(`http://web.test:${httpPort}/`);
    const headers = first.headers as { key: string; value: string }[];
    expect(headers.find((h) => h.key === 'Authorization')?.value).toBe('HUBBLE_REDACTED');
    expect(headers.find((h) => h.key === 'Cookie')?.value).toBe('HUBBLE_REDACTED');
    expect(headers.find((h) => h.key === 'User-Agent')?.value).toMatch(/^curl\//);
    expect(headers.map((h) => h.key)).toEqual([...headers.map((h) => h.key)].sort());
    expect(slow['l7'].http.headers.find((h: Json) => h['key'] === 'Set-Cookie')?.value).toBe('HUBBLE_REDACTED');
  });

  it('filters L7 flows with hubble observe flags: --type l7, --http-status, --http-method, --http-path, --http-url, --http-header, --to-fqdn', async () => {
    // Each observe is its own process: run them side by side.
    const [all, l7, notFound, posts, chunked, byUrl, byHeader, toWeb] = await Promise.all([
      observe(),
      observe('--type', 'l7'),
      observe('--http-status', '404'),
      observe('--http-method', 'POST'),
      observe('--http-path', '/chunked'),
      observe('--http-url', `http://web.test:${httpPort}/p[12]`),
      observe('--http-header', 'X-Served-By:l7-test'),
      observe('--to-fqdn', 'web.test', '--type', 'l7'),
    ]);
    expect(l7.length).toBe(all.filter((f) => f['Type'] === 'L7').length);
    expect(l7.length).toBe(10 + 18);
    expect(notFound.map((f) => f['l7'].http.url)).toEqual([`http://web.test:${httpPort}/missing`]);
    expect(posts.map((f) => f['l7'].type)).toEqual(['REQUEST', 'RESPONSE']);
    expect(chunked.map((f) => f['l7'].type)).toEqual(['REQUEST', 'RESPONSE']);
    expect(byUrl).toHaveLength(4);
    expect(byHeader.length).toBeGreaterThan(0);
    for (const f of byHeader) {
      expect(f['l7'].type).toBe('RESPONSE');
      expect(f['l7'].http.headers).toContainEqual({ key: 'X-Served-By', value: 'l7-test' });
    }
    // dnsmasq's answer taught the observer that 127.0.0.1 is web.test: flows to it from then on carry the name.
    expect(toWeb.length).toBeGreaterThan(0);
    for (const f of toWeb) expect(f['destination_names']).toContain('web.test');
  });

  it('finds every flow of a --since or --until window, L7 flows written after later packets included', async () => {
    // The L7 worker's flows carry their packet's time but go into the ring after the flows of later packets.
    const ns = (time: string) => {
      const [whole, fraction = ''] = time.replace('Z', '').split('.');
      return BigInt(Date.parse(`${whole}Z`)) * 1_000_000n + BigInt(fraction.padEnd(9, '0'));
    };
    const all = await observe();
    const l7 = all.filter((f) => f['Type'] === 'L7');
    const bounds = [l7[Math.floor(l7.length / 2)]!, l7.at(-1)!].map((f) => f['time'] as string);
    const uuids = (flows: Json[]) => flows.map((f) => f['uuid'] as string).sort();
    const windows = await Promise.all(bounds.flatMap((t) => [observe('--since', t), observe('--until', t)]));
    bounds.forEach((t, i) => {
      expect(uuids(windows[2 * i]!), `--since ${t}`).toEqual(uuids(all.filter((f) => ns(f['time']) >= ns(t))));
      expect(uuids(windows[2 * i + 1]!), `--until ${t}`).toEqual(uuids(all.filter((f) => ns(f['time']) <= ns(t))));
    });
  });

  it('ends quietly when its reader goes away (observe | head -1)', async () => {
    const command = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(CLI_ENTRY)} observe --server unix://${socket} --all -o json | head -1; echo "exit \${PIPESTATUS[0]}"`;
    const { stdout, stderr } = await run('bash', ['-c', command]);
    const [line, exit] = stdout.trim().split('\n');
    expect(JSON.parse(line!)).toHaveProperty('flow');
    expect(exit).toBe('exit 0');
    expect(stderr).toBe('');
  });

  it("shows the same L7 flows with --l7-thread observer as from the worker thread (serve's default here)", async () => {
    const inThread = await serveCapture(pcap, ['--l7-thread', 'observer'], 'l7-node');
    try {
      const read = async (at: string) => {
        const r = await runCli(['observe', '--server', `unix://${at}`, '-o', 'json', '--all', '--type', 'l7']);
        expect(r.code).toBe(0);
        return flowsOf(r.stdout).map((f) => ({ ...f, uuid: '' }));
      };
      const fromWorker = await read(socket);
      expect(fromWorker.length).toBeGreaterThan(20);
      expect(await read(inThread.socket)).toEqual(fromWorker);
    } finally {
      await inThread.process.stop();
    }
  });

  it('counts the flows in the dns and http metrics with Hubble labels', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const value = (line: RegExp): number => {
      const found = text.split('\n').filter((l) => line.test(l));
      return found.reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    };
    expect(value(/^hubble_dns_queries_total\{/)).toBe(5);
    expect(value(/^hubble_dns_responses_total\{.*rcode="Non-Existent Domain".*query="nope\.test\."/)).toBe(1);
    expect(value(/^hubble_dns_responses_total\{/)).toBe(5);
    expect(value(/^hubble_dns_response_types_total\{.*type="CNAME"/)).toBe(1);
    expect(value(/^hubble_http_requests_total\{.*method="GET"/)).toBe(7);
    expect(value(/^hubble_http_requests_total\{.*method="HEAD"/)).toBe(1);
    expect(value(/^hubble_http_requests_total\{.*method="POST"/)).toBe(1);
    expect(value(/^hubble_http_responses_total\{.*status="404"/)).toBe(1);
    expect(value(/^hubble_http_request_duration_seconds_count\{/)).toBe(9);
    // The tracker's own figures (from serve's L7 worker thread): every connection was closed by FIN, nothing given up;
    // every L7 flow kept.
    expect(text).toMatch(/^hubblets_l7_http_connections 0$/m);
    expect(text).toMatch(/^hubblets_l7_flows_dropped_total 0$/m);
    expect(value(/^hubblets_l7_http_gaps_total /)).toBe(0);
    expect(value(/^hubblets_l7_http_connections_dropped_total\{/)).toBe(0);
  });
});

describe('TLS server names from a capture of a TLS client', () => {
  it('names the server a ClientHello asks for in the flows to it, as tshark reads the SNI', async () => {
    const server = createServer((sock) => sock.once('data', () => sock.destroy()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const pcap = await captureWhile(`host 127.0.0.1 and tcp port ${port}`, async () => {
      const client = tlsConnect({
        host: '127.0.0.1',
        port,
        servername: 'Shop.Example.test',
        rejectUnauthorized: false,
      });
      client.on('error', () => {});
      await new Promise((r) => client.once('close', r));
    });
    server.close();
    const sni = (
      await tsharkFields(pcap, ['tls.handshake.extensions_server_name'], {
        displayFilter: 'tls.handshake.type == 1',
        decodeAs: [`tcp.port==${port},tls`],
      })
    )[0]![0];
    expect(sni).toBe('Shop.Example.test');
    const { process: serve, socket } = await serveCapture(pcap, []);
    try {
      const r = await runCli([
        'observe',
        '--server',
        `unix://${socket}`,
        '-o',
        'json',
        '--all',
        '--to-port',
        String(port),
      ]);
      const flows = flowsOf(r.stdout);
      const hello = flows.findIndex((f) => (f['Summary'] as string).includes('PSH'));
      expect(hello).toBeGreaterThan(0);
      // Before the ClientHello nothing names the server; from the ClientHello on, every flow to it does.
      expect(flows.slice(0, hello).every((f) => (f['destination_names'] ?? []).length === 0)).toBe(true);
      for (const f of flows.slice(hello)) expect(f['destination_names']).toEqual(['shop.example.test']);
      expect(flows.every((f) => f['Type'] !== 'L7')).toBe(true);
    } finally {
      await serve.stop();
    }
  });
});

/**
 * A DNS-over-TCP server on 127.0.0.83:53 that answers each query with `answers` A records, writing the length prefix,
 * then the message's first half, then the rest, a moment apart: three segments, as a large answer over a network
 * comes in several.
 */
async function startSplittingDnsTcpServer(answers: number): Promise<{ stop: () => Promise<void> }> {
  const server = createServer((sock) => {
    sock.once('data', async (query: Buffer) => {
      const q = query.subarray(2, 2 + query.readUInt16BE(0));
      let questionEnd = 12;
      while (q[questionEnd] !== 0) questionEnd += q[questionEnd]! + 1;
      questionEnd += 5;
      const header = Buffer.from([q[0]!, q[1]!, 0x81, 0x80, 0, 1, answers >> 8, answers & 0xff, 0, 0, 0, 0]);
      const records = Array.from({ length: answers }, (_, i) =>
        Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 53, i >> 8, i & 0xff]),
      );
      const message = Buffer.concat([header, q.subarray(12, questionEnd), ...records]);
      const pause = () => new Promise((r) => setTimeout(r, 30));
      sock.write(Uint8Array.of(message.length >> 8, message.length & 0xff));
      await pause();
      sock.write(message.subarray(0, message.length >> 1));
      await pause();
      sock.end(message.subarray(message.length >> 1));
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(53, '127.0.0.83', r));
  return { stop: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('DNS over TCP from a capture of dig against a server answering in several segments', () => {
  it('shows the query and the whole answer once each, with its latency, as tshark reassembles them', async () => {
    const server = await startSplittingDnsTcpServer(40);
    let pcap: string;
    try {
      pcap = await captureWhile('host 127.0.0.83 and tcp port 53', async () => {
        await run('dig', ['@127.0.0.83', '+tcp', '+tries=1', '+time=2', 'big.test', 'A']);
      });
    } finally {
      await server.stop();
    }
    const serverSegments = await tsharkFields(pcap, ['frame.number'], {
      displayFilter: 'tcp.srcport == 53 && tcp.len > 0',
    });
    expect(serverSegments.length).toBeGreaterThanOrEqual(3);
    const judged = await tsharkFields(pcap, ['dns.flags.response', 'dns.qry.name', 'dns.count.answers', 'dns.time'], {
      displayFilter: 'dns',
    });
    expect(judged.map(([response, name, count]) => [response, name, count])).toEqual([
      ['0', 'big.test', '0'],
      ['1', 'big.test', '40'],
    ]);
    const { process: serve, socket } = await serveCapture(pcap, []);
    try {
      const r = await runCli(['observe', '--server', `unix://${socket}`, '-o', 'json', '--all', '--protocol', 'dns']);
      expect(r.code).toBe(0);
      const flows = flowsOf(r.stdout);
      expect(
        flows.map((f) => [f['l7']['type'], f['l7']['dns']['query'], (f['l7']['dns']['ips'] ?? []).length]),
      ).toEqual([
        ['REQUEST', 'big.test.', 0],
        ['RESPONSE', 'big.test.', 40],
      ]);
      expect(flows[1]!['l7']['dns']['ips'][39]).toBe('10.53.0.39');
      // tshark's dns.time is from the query to the segment that completed the answer, as the flow's latency.
      expect(Number(flows[1]!['l7']['latency_ns']) / 1e9).toBeCloseTo(Number(judged[1]![3]), 6);
    } finally {
      await serve.stop();
    }
    // The same capture with the answer's second segment lost: the answer cannot be read whole, so it is not shown,
    // and the connection given up is counted on /metrics.
    const holed = join(dirname(pcap), 'dns-tcp-hole.pcap');
    await run('editcap', [pcap, holed, serverSegments[1]![0]!]);
    const lossy = await serveCapture(holed, ['--metrics-address', '127.0.0.1:0']);
    try {
      const r = await runCli([
        'observe',
        '--server',
        `unix://${lossy.socket}`,
        '-o',
        'json',
        '--all',
        '--protocol',
        'dns',
      ]);
      expect(flowsOf(r.stdout).map((f) => f['l7']['type'])).toEqual(['REQUEST']);
      const text = await (await fetch(`http://127.0.0.1:${lossy.metricsPort}/metrics`)).text();
      expect(text).toMatch(/^hubblets_l7_dns_tcp_connections 0$/m);
      expect(text).toMatch(/^hubblets_l7_dns_tcp_buffered_bytes 0$/m);
      expect(text).toMatch(/^hubblets_l7_dns_tcp_connections_dropped_total\{reason="abandoned"\} 1$/m);
      expect(text).toMatch(/^hubblets_l7_dns_tcp_connections_dropped_total\{reason="evicted"\} 0$/m);
    } finally {
      await lossy.process.stop();
    }
  });
});

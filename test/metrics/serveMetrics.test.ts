// `hubble-ts serve --metrics-address --metrics` as a user runs it: a crafted capture replayed, /metrics scraped over
// real HTTP, and the series a Hubble Grafana dashboard queries counted exactly as `hubble-ts observe --all -o json`
// shows the same flows. Also: the server's own health, GetFlows clients, process metrics, and the one-line refusals.
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, serveCapture, spawnCli, type ServedCapture } from '../harness/cli.js';
import { ethernet, icmp, ipv4, ipv6, tcp, udp } from '../harness/frames.js';
import { writePcap } from '../harness/pcapFiles.js';
import { jsonLines, tempDir } from '../relay/harness.js';
import { find, httpGet, scrape, series, sortSeries, valueOf, type Exposition } from './promText.js';

const IPV4 = 0x0800;
const IPV6 = 0x86dd;
const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;
const [FIN, SYN, RST, PSH, ACK] = [0x01, 0x02, 0x04, 0x08, 0x10];

/** A small conversation of every kind the handlers count: TCP open/data/close and a refused one, UDP, ICMP, IPv6. */
function craftCapture(dir: string): string {
  const c = '10.1.0.1';
  const s = '10.2.0.2';
  const t4 = (src: string, dst: string, sport: number, dport: number, flags: number, data = 0) =>
    ethernet({ type: IPV4 }, ipv4({ src, dst, protocol: TCP }, tcp({ sport, dport, flags }, new Uint8Array(data))));
  const frames = [
    t4(c, s, 40000, 443, SYN),
    t4(s, c, 443, 40000, SYN | ACK),
    t4(c, s, 40000, 443, ACK),
    t4(c, s, 40000, 443, PSH | ACK, 100),
    t4(s, c, 443, 40000, PSH | ACK, 400),
    t4(c, s, 40000, 443, FIN | ACK),
    t4(s, c, 443, 40000, FIN | ACK),
    t4(c, s, 40000, 443, ACK),
    t4(c, s, 40001, 8080, SYN),
    t4(s, c, 8080, 40001, RST | ACK),
    ethernet({ type: IPV4 }, ipv4({ src: c, dst: s, protocol: UDP }, udp(5353, 53, new Uint8Array(20)))),
    ethernet({ type: IPV4 }, ipv4({ src: c, dst: s, protocol: UDP }, udp(5353, 53, new Uint8Array(20)))),
    ethernet({ type: IPV4 }, ipv4({ src: c, dst: s, protocol: ICMP }, icmp(8, 0, 1, 1))),
    ethernet({ type: IPV4 }, ipv4({ src: s, dst: c, protocol: ICMP }, icmp(0, 0, 1, 1))),
    ethernet(
      { type: IPV6 },
      ipv6({ src: 'fd00::1', dst: 'fd00::2', next: TCP }, tcp({ sport: 41000, dport: 80, flags: SYN })),
    ),
    ethernet({ type: IPV6 }, ipv6({ src: 'fd00::1', dst: 'fd00::2', next: ICMPV6 }, icmp(128, 0, 2, 1))),
  ];
  const path = join(dir, 'conversation.pcap');
  const records = frames.map((data, i) => ({ seconds: 1_700_000_000, fraction: i * 1000, data }));
  writeFileSync(path, writePcap(records, { linkType: 1 }));
  return path;
}

/** The label values Hubble's flow handler would give a flow, derived from its JSON as `observe -o json` prints it. */
function flowLabels(f: Record<string, any>): Record<string, string> {
  const l4 = Object.keys(f['l4'] ?? {})[0] ?? 'Unknown L4';
  const point = String(f['trace_observation_point'] ?? '')
    .toLowerCase()
    .replace(/_/g, '-');
  expect(f['event_type'].type).toBe(4); // trace notifications: what a capture produces
  return { protocol: l4, type: 'Trace', subtype: point, verdict: f['verdict'] };
}

function countBy<T>(items: T[], key: (item: T) => string | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

describe('hubble-ts serve --metrics-address --metrics, replaying a capture', () => {
  let dir: string;
  let served: ServedCapture & { metricsPort: number };
  let flows: Record<string, any>[];
  let scraped: Exposition;

  beforeAll(async () => {
    dir = tempDir('metrics');
    const pcap = craftCapture(dir);
    served = (await serveCapture(
      pcap,
      [
        '--metrics-address',
        '127.0.0.1:0',
        '--metrics',
        'flow,tcp,icmp',
        '--metrics',
        'port-distribution:destinationContext=ip drop',
      ],
      'metrics-node',
    )) as ServedCapture & { metricsPort: number };
    const observed = await runCli(['observe', '--server', `unix://${served.socket}`, '--all', '-o', 'json']);
    expect(observed.code).toBe(0);
    flows = jsonLines(observed.stdout).map((l) => l['flow'] as Record<string, any>);
    scraped = await scrape(served.metricsPort);
  });

  afterAll(async () => {
    await served?.process.stop();
  });

  it('serves Prometheus text on GET /metrics, and 404 elsewhere', async () => {
    const answer = await httpGet(served.metricsPort, '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect((await httpGet(served.metricsPort, '/')).status).toBe(404);
    expect((await httpGet(served.metricsPort, '/metrics/extra')).status).toBe(404);
  });

  it('counts hubble_flows_processed_total exactly as observe shows the flows', () => {
    expect(flows).toHaveLength(16);
    const expected = countBy(flows, (f) => JSON.stringify(flowLabels(f)));
    const served_ = find(scraped, 'hubble_flows_processed_total');
    expect(new Map(served_.map((s) => [JSON.stringify(s.labels), s.value]))).toEqual(expected);
    // The series a Hubble dashboard queries, spelled out.
    expect(
      valueOf(scraped, 'hubble_flows_processed_total', {
        protocol: 'TCP',
        subtype: 'from-network',
        type: 'Trace',
        verdict: 'FORWARDED',
      }),
    ).toBe(flows.filter((f) => f['l4']?.TCP).length);
    expect(scraped.types.get('hubble_flows_processed_total')).toBe('counter');
  });

  it('counts TCP flags, ICMP types and destination ports as the flows carry them', () => {
    const flagged = (flag: string) =>
      flows.filter((f) => {
        const flags = f['l4']?.TCP?.flags ?? {};
        if (flag === 'SYN') return flags.SYN && !flags.ACK;
        if (flag === 'SYN-ACK') return flags.SYN && flags.ACK;
        return flags[flag] === true;
      });
    for (const flag of ['SYN', 'SYN-ACK', 'FIN', 'RST']) {
      const want = countBy(flagged(flag), (f) => f['IP'].ipVersion);
      for (const [family, count] of want) {
        expect(valueOf(scraped, 'hubble_tcp_flags_total', { flag, family }), `${flag} ${family}`).toBe(count);
      }
    }
    expect(series(scraped, 'hubble_tcp_flags_total')).toEqual(
      sortSeries([
        [{ flag: 'SYN', family: 'IPv4' }, 2],
        [{ flag: 'SYN-ACK', family: 'IPv4' }, 1],
        [{ flag: 'FIN', family: 'IPv4' }, 2],
        [{ flag: 'RST', family: 'IPv4' }, 1],
        [{ flag: 'SYN', family: 'IPv6' }, 1],
      ]),
    );
    expect(series(scraped, 'hubble_icmp_total')).toEqual(
      sortSeries([
        [{ family: 'IPv4', type: 'EchoRequest' }, 1],
        [{ family: 'IPv4', type: 'EchoReply' }, 1],
        [{ family: 'IPv6', type: 'EchoRequest' }, 1],
      ]),
    );
    // Only flows known not to be replies count, by their destination port (ICMP as 0).
    const requests = flows.filter((f) => f['is_reply'] === false && f['verdict'] === 'FORWARDED');
    const want = countBy(requests, (f) => {
      const l4 = f['l4'];
      const [protocol, port] = l4.TCP
        ? ['TCP', l4.TCP.destination_port]
        : l4.UDP
          ? ['UDP', l4.UDP.destination_port]
          : [Object.keys(l4)[0], 0];
      return JSON.stringify({ protocol, port: String(port), destination: f['IP'].destination });
    });
    const got = find(scraped, 'hubble_port_distribution_total');
    expect(new Map(got.map((s) => [JSON.stringify(s.labels), s.value]))).toEqual(want);
    expect(
      valueOf(scraped, 'hubble_port_distribution_total', { protocol: 'TCP', port: '443', destination: '10.2.0.2' }),
    ).toBe(5); // SYN, ACK, data, FIN, ACK from the client
    // Nothing was dropped: the drop metric exists, with no series.
    expect(scraped.types.get('hubble_drop_total')).toBe('counter');
    expect(find(scraped, 'hubble_drop_total')).toEqual([]);
  });

  it("reports the server's own health: events, ring, lost events by source and by consumer", () => {
    expect(valueOf(scraped, 'hubblets_events_total', { kind: 'flow' })).toBe(flows.length);
    expect(valueOf(scraped, 'hubblets_events_undecodable_total')).toBe(0);
    expect(valueOf(scraped, 'hubblets_ring_buffer_events')).toBe(flows.length);
    expect(valueOf(scraped, 'hubblets_ring_buffer_capacity')).toBe(4095);
    for (const source of ['perf_event_ring_buffer', 'observer_events_queue', 'hubble_ring_buffer']) {
      expect(valueOf(scraped, 'hubble_lost_events_total', { source })).toBe(0);
    }
    for (const consumer of ['api_reader', 'monitor_listener', 'recorder']) {
      expect(valueOf(scraped, 'hubblets_consumer_lost_events_total', { consumer })).toBe(0);
    }
    expect(valueOf(scraped, 'hubblets_recordings_running')).toBe(0);
    expect(valueOf(scraped, 'hubblets_recorder_sink_queue_packets')).toBe(0);
    expect(valueOf(scraped, 'hubblets_metrics_label_sets', { metric: 'hubble_flows_processed_total' })).toBe(
      find(scraped, 'hubble_flows_processed_total').length,
    );
  });

  it('serves Node process metrics and counts its own scrapes', async () => {
    expect(valueOf(scraped, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(scraped, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(valueOf(scraped, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    const before = valueOf(await scrape(served.metricsPort), 'hubble_metrics_http_handler_requests_total', {
      code: '200',
    });
    const after = valueOf(await scrape(served.metricsPort), 'hubble_metrics_http_handler_requests_total', {
      code: '200',
    });
    expect(after).toBe(before! + 1);
  });

  it('counts GetFlows clients while they follow, and forgets them when they go', async () => {
    const clients = async () => valueOf(await scrape(served.metricsPort), 'hubblets_getflows_clients');
    expect(await clients()).toBe(0);
    const until = async (want: number) => {
      const deadline = Date.now() + 10_000;
      while ((await clients()) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    };
    const follower = spawnCli(['observe', '--server', `unix://${served.socket}`, '--follow', '-o', 'json']);
    try {
      await until(1);
      expect(await clients()).toBe(1);
    } finally {
      await follower.stop('SIGINT');
    }
    await until(0);
    expect(await clients()).toBe(0);
  });
});

/** TCP ports process `pid` listens on, read from /proc as `ss -ltnp` would show them. */
function listeningTcpPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A' || !inodes.has(cols[9]!)) continue;
      ports.push(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

describe('hubble-ts serve metrics settings', () => {
  it('listens for nothing over TCP unless --metrics-address is given', async () => {
    const dir = tempDir('metrics-off');
    const socket = join(dir, 'hubble.sock');
    const serve = spawnCli([
      'serve',
      '--source',
      `pcap:${craftCapture(dir)}`,
      '--socket-path',
      socket,
      '--recordings-dir',
      join(dir, 'recordings'),
    ]);
    try {
      await serve.waitFor((out) => out.includes('source ended'), 20_000, 'the capture to be replayed');
      expect(listeningTcpPorts(serve.child.pid!)).toEqual([]);
      expect(serve.stdout()).not.toContain('"metrics"');
    } finally {
      await serve.stop();
    }
  });

  it('stops with one line naming the handler and option when --metrics is wrong', async () => {
    const dir = tempDir('metrics-bad');
    const r = await runCli([
      'serve',
      '--source',
      `pcap:${craftCapture(dir)}`,
      '--socket-path',
      join(dir, 'hubble.sock'),
      '--recordings-dir',
      join(dir, 'recordings'),
      '--metrics-address',
      '127.0.0.1:0',
      '--metrics',
      'flow:sourceContext=namespace;destinationContext=podname',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'hubble-ts: --metrics: flow: destinationContext: unknown context "podname" (expected identity, namespace, pod, pod-short, pod-name, dns, ip, reserved-identity, workload, workload-name, app, several separated by "|")\n',
    );
  });

  it('stops with one line when --metrics-address cannot be bound', async () => {
    const dir = tempDir('metrics-busy');
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await runCli([
        'serve',
        '--source',
        `pcap:${craftCapture(dir)}`,
        '--socket-path',
        join(dir, 'hubble.sock'),
        '--recordings-dir',
        join(dir, 'recordings'),
        '--metrics-address',
        `127.0.0.1:${port}`,
        '--metrics',
        'flow',
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `hubble-ts: --metrics-address: cannot listen on 127.0.0.1:${port}: the address is already in use (another process listens there)\n`,
      );
    } finally {
      busy.close();
    }
  });
});

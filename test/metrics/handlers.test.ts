// Each of Hubble's flow metric handlers, fed through the Observer's hooks: metric names, label names and the label
// values a Hubble Grafana dashboard queries, for Cilium datapath events and for L7 DNS and HTTP flows.
import { describe, expect, it } from 'vitest';
import { DropReason, IPVersion, L7FlowType, TrafficDirection, Verdict } from '../../src/api/flow/flow.js';
import { find, series, sortSeries, valueOf } from './promText.js';
import { flow, hookPath } from './hookPath.js';

const TRACE = 4;
const DROP = 1;
const CAPTURE = 3;
const POLICY_VERDICT = 5;
const TRACE_SOCK = 7;
const L7 = 129;
const TO_STACK = 3;
const FROM_NETWORK = 10;

const v4 = (source: string, destination: string) => ({ source, destination, ipVersion: IPVersion.IPv4 });
const tcpFlags = (set: string) => ({
  FIN: set.includes('F'),
  SYN: set.includes('S'),
  RST: set.includes('R'),
  PSH: false,
  ACK: set.includes('A'),
  URG: false,
  ECE: false,
  CWR: false,
  NS: false,
});

describe('flow: hubble_flows_processed_total', () => {
  const cases = [
    {
      name: 'a forwarded TCP trace at to-stack',
      flow: { eventType: { type: TRACE, subType: TO_STACK }, verdict: Verdict.FORWARDED, l4: { TCP: {} } },
      labels: { protocol: 'TCP', type: 'Trace', subtype: 'to-stack', verdict: 'FORWARDED' },
    },
    {
      name: 'a UDP trace from the network',
      flow: { eventType: { type: TRACE, subType: FROM_NETWORK }, verdict: Verdict.FORWARDED, l4: { UDP: {} } },
      labels: { protocol: 'UDP', type: 'Trace', subtype: 'from-network', verdict: 'FORWARDED' },
    },
    {
      name: 'a drop (no subtype)',
      flow: { eventType: { type: DROP, subType: 133 }, verdict: Verdict.DROPPED, l4: { ICMPv4: { type: 8 } } },
      labels: { protocol: 'ICMPv4', type: 'Drop', subtype: '', verdict: 'DROPPED' },
    },
    {
      name: 'a policy verdict',
      flow: { eventType: { type: POLICY_VERDICT, subType: 0 }, verdict: Verdict.AUDIT, l4: { SCTP: {} } },
      labels: { protocol: 'SCTP', type: 'PolicyVerdict', subtype: '', verdict: 'AUDIT' },
    },
    {
      name: 'a debug capture',
      flow: { eventType: { type: CAPTURE, subType: 2 }, verdict: Verdict.TRACED, l4: { VRRP: {} } },
      labels: { protocol: 'VRRP', type: 'Capture', subtype: '', verdict: 'TRACED' },
    },
    {
      name: 'an L7 DNS record',
      flow: { eventType: { type: L7 }, verdict: Verdict.FORWARDED, l7: { type: L7FlowType.REQUEST, dns: {} } },
      labels: { protocol: 'DNS', type: 'L7', subtype: 'DNS', verdict: 'FORWARDED' },
    },
    {
      name: 'an L7 HTTP record',
      flow: { eventType: { type: L7 }, verdict: Verdict.REDIRECTED, l7: { type: L7FlowType.RESPONSE, http: {} } },
      labels: { protocol: 'HTTP', type: 'L7', subtype: 'HTTP', verdict: 'REDIRECTED' },
    },
    {
      name: 'a socket trace (type Hubble does not name)',
      flow: { eventType: { type: TRACE_SOCK, subType: 1 }, verdict: Verdict.TRACED },
      labels: { protocol: 'Unknown flow', type: 'Unknown', subtype: '7', verdict: 'TRACED' },
    },
    {
      name: 'a trace at an observation point Hubble does not name, without L4',
      flow: { eventType: { type: TRACE, subType: 99 }, verdict: Verdict.FORWARDED },
      labels: { protocol: 'Unknown L4', type: 'Trace', subtype: '', verdict: 'FORWARDED' },
    },
  ];
  for (const c of cases) {
    it(`counts ${c.name}`, async () => {
      const path = hookPath(['flow']);
      path.feed(flow(c.flow));
      path.feed(flow(c.flow));
      const scraped = await path.scrape();
      expect(scraped.types.get('hubble_flows_processed_total')).toBe('counter');
      expect(find(scraped, 'hubble_flows_processed_total')).toEqual([
        { name: 'hubble_flows_processed_total', labels: c.labels, value: 2 },
      ]);
    });
  }
});

describe('drop: hubble_drop_total', () => {
  it('counts dropped flows by reason and protocol, and nothing else', async () => {
    const path = hookPath(['drop']);
    const dropped = { eventType: { type: DROP, subType: 133 }, verdict: Verdict.DROPPED, l4: { TCP: {} } };
    path.feed(flow({ ...dropped, dropReasonDesc: DropReason.POLICY_DENIED }));
    path.feed(flow({ ...dropped, dropReasonDesc: DropReason.POLICY_DENIED }));
    path.feed(flow({ ...dropped, dropReasonDesc: DropReason.CT_MAP_INSERTION_FAILED, l4: { UDP: {} } }));
    path.feed(flow({ ...dropped, dropReasonDesc: 9999 as DropReason }));
    path.feed(flow({ eventType: { type: TRACE, subType: 0 }, verdict: Verdict.FORWARDED, l4: { TCP: {} } }));
    const scraped = await path.scrape();
    expect(series(scraped, 'hubble_drop_total')).toEqual(
      sortSeries([
        [{ reason: 'POLICY_DENIED', protocol: 'TCP' }, 2],
        [{ reason: 'CT_MAP_INSERTION_FAILED', protocol: 'UDP' }, 1],
        [{ reason: '9999', protocol: 'TCP' }, 1],
      ]),
    );
  });
});

describe('tcp: hubble_tcp_flags_total', () => {
  it('counts SYN, SYN-ACK, FIN and RST of forwarded and redirected flows, by family', async () => {
    const path = hookPath(['tcp']);
    const seg = (set: string, verdict = Verdict.FORWARDED, ipVersion = IPVersion.IPv4) =>
      flow({
        eventType: { type: TRACE, subType: 0 },
        verdict,
        IP: { ...v4('10.0.0.1', '10.0.0.2'), ipVersion },
        l4: { TCP: { flags: tcpFlags(set) } },
      });
    path.feed(seg('S'));
    path.feed(seg('SA'));
    path.feed(seg('A')); // no flag Hubble counts
    path.feed(seg('FA'));
    path.feed(seg('RA', Verdict.REDIRECTED));
    path.feed(seg('S', Verdict.DROPPED)); // not forwarded
    path.feed(seg('S', Verdict.FORWARDED, IPVersion.IPv6));
    const scraped = await path.scrape();
    expect(series(scraped, 'hubble_tcp_flags_total')).toEqual(
      sortSeries([
        [{ flag: 'SYN', family: 'IPv4' }, 1],
        [{ flag: 'SYN-ACK', family: 'IPv4' }, 1],
        [{ flag: 'FIN', family: 'IPv4' }, 1],
        [{ flag: 'RST', family: 'IPv4' }, 1],
        [{ flag: 'SYN', family: 'IPv6' }, 1],
      ]),
    );
  });
});

describe('icmp: hubble_icmp_total', () => {
  const cases = [
    { l4: { ICMPv4: { type: 8, code: 0 } }, labels: { family: 'IPv4', type: 'EchoRequest' } },
    { l4: { ICMPv4: { type: 3, code: 3 } }, labels: { family: 'IPv4', type: 'DestinationUnreachable(Port)' } },
    { l4: { ICMPv4: { type: 11, code: 0 } }, labels: { family: 'IPv4', type: 'TimeExceeded(TTLExceeded)' } },
    { l4: { ICMPv4: { type: 13, code: 3 } }, labels: { family: 'IPv4', type: 'TimestampRequest(Code: 3)' } },
    { l4: { ICMPv4: { type: 42, code: 1 } }, labels: { family: 'IPv4', type: '42(1)' } },
    { l4: { ICMPv6: { type: 129, code: 0 } }, labels: { family: 'IPv6', type: 'EchoReply' } },
    {
      l4: { ICMPv6: { type: 1, code: 4 } },
      labels: { family: 'IPv6', type: 'DestinationUnreachable(PortUnreachable)' },
    },
    { l4: { ICMPv6: { type: 135, code: 0 } }, labels: { family: 'IPv6', type: 'NeighborSolicitation' } },
  ];
  for (const c of cases) {
    it(`names ${JSON.stringify(c.l4)} ${c.labels.type}`, async () => {
      const path = hookPath(['icmp']);
      path.feed(flow({ eventType: { type: TRACE, subType: 0 }, verdict: Verdict.FORWARDED, l4: c.l4 }));
      const scraped = await path.scrape();
      expect(series(scraped, 'hubble_icmp_total')).toEqual(sortSeries([[c.labels, 1]]));
    });
  }
});

describe('port-distribution: hubble_port_distribution_total', () => {
  it('counts forwarded non-replies by destination port, ICMP/VRRP/IGMP as port 0', async () => {
    const path = hookPath(['port-distribution']);
    const f = (l4: object, isReply: boolean | undefined, verdict = Verdict.FORWARDED) =>
      flow({ eventType: { type: TRACE, subType: 0 }, verdict, isReply, l4 });
    path.feed(f({ TCP: { sourcePort: 40000, destinationPort: 443 } }, false));
    path.feed(f({ TCP: { sourcePort: 40001, destinationPort: 443 } }, false, Verdict.REDIRECTED));
    path.feed(f({ TCP: { sourcePort: 443, destinationPort: 40000 } }, true)); // a reply
    path.feed(f({ TCP: { sourcePort: 443, destinationPort: 40000 } }, undefined)); // not known whether a reply
    path.feed(f({ TCP: { sourcePort: 40002, destinationPort: 443 } }, false, Verdict.DROPPED));
    path.feed(f({ UDP: { sourcePort: 5353, destinationPort: 53 } }, false));
    path.feed(f({ SCTP: { sourcePort: 1, destinationPort: 3868 } }, false));
    path.feed(f({ ICMPv4: { type: 8 } }, false));
    path.feed(f({ ICMPv6: { type: 128 } }, false));
    path.feed(f({ IGMP: { type: 0x16 } }, false));
    const scraped = await path.scrape();
    expect(series(scraped, 'hubble_port_distribution_total')).toEqual(
      sortSeries([
        [{ protocol: 'TCP', port: '443' }, 2],
        [{ protocol: 'UDP', port: '53' }, 1],
        [{ protocol: 'SCTP', port: '3868' }, 1],
        [{ protocol: 'ICMPv4', port: '0' }, 1],
        [{ protocol: 'ICMPv6', port: '0' }, 1],
        [{ protocol: 'IGMP', port: '0' }, 1],
      ]),
    );
  });
});

describe('dns: hubble_dns_queries_total, hubble_dns_responses_total, hubble_dns_response_types_total', () => {
  const dnsFlow = (
    dns: { query?: string; qtypes?: string[]; ips?: string[]; rcode?: number; rrtypes?: string[] },
    isReply: boolean | undefined,
    verdict = Verdict.FORWARDED,
  ) =>
    flow({
      eventType: { type: L7 },
      verdict,
      isReply,
      l7: { type: isReply ? L7FlowType.RESPONSE : L7FlowType.REQUEST, dns },
    });

  it('counts requests, responses by rcode and answer types, and policy-denied requests', async () => {
    const path = hookPath(['dns']);
    path.feed(dnsFlow({ query: 'example.com.', qtypes: ['A'] }, false));
    path.feed(dnsFlow({ query: 'example.com.', qtypes: ['A'] }, undefined)); // unknown counts as a request
    path.feed(
      dnsFlow(
        { query: 'example.com.', qtypes: ['A'], ips: ['192.0.2.1', '192.0.2.2'], rcode: 0, rrtypes: ['CNAME', 'A'] },
        true,
      ),
    );
    path.feed(dnsFlow({ query: 'nope.example.', qtypes: ['AAAA'], rcode: 3 }, true));
    path.feed(dnsFlow({ query: 'blocked.example.', qtypes: ['A', 'AAAA'] }, false, Verdict.DROPPED));
    const scraped = await path.scrape();
    expect(series(scraped, 'hubble_dns_queries_total')).toEqual(
      sortSeries([
        [{ rcode: '', qtypes: 'A', ips_returned: '0' }, 2],
        [{ rcode: 'Policy denied', qtypes: 'A,AAAA', ips_returned: '0' }, 1],
      ]),
    );
    expect(series(scraped, 'hubble_dns_responses_total')).toEqual(
      sortSeries([
        [{ rcode: 'No Error', qtypes: 'A', ips_returned: '2' }, 1],
        [{ rcode: 'Non-Existent Domain', qtypes: 'AAAA', ips_returned: '0' }, 1],
      ]),
    );
    expect(series(scraped, 'hubble_dns_response_types_total')).toEqual(
      sortSeries([
        [{ type: 'CNAME', qtypes: 'A' }, 1],
        [{ type: 'A', qtypes: 'A' }, 1],
      ]),
    );
  });

  it('adds the query with "query" and leaves AAAA-only flows out with "ignoreAAAA"', async () => {
    const path = hookPath(['dns:query;ignoreAAAA;sourceContext=ip']);
    const withIp = (f: ReturnType<typeof dnsFlow>) => flow({ ...f, IP: v4('10.0.0.9', '10.0.0.53') });
    path.feed(withIp(dnsFlow({ query: 'a.example.', qtypes: ['A'] }, false)));
    path.feed(withIp(dnsFlow({ query: 'a.example.', qtypes: ['AAAA'] }, false)));
    path.feed(
      withIp(dnsFlow({ query: 'a.example.', qtypes: ['A'], rcode: 0, rrtypes: ['A'], ips: ['1.2.3.4'] }, true)),
    );
    const scraped = await path.scrape();
    expect(series(scraped, 'hubble_dns_queries_total')).toEqual(
      sortSeries([[{ source: '10.0.0.9', rcode: '', qtypes: 'A', ips_returned: '0', query: 'a.example.' }, 1]]),
    );
    expect(find(scraped, 'hubble_dns_response_types_total').map((s) => s.labels)).toEqual([
      { source: '10.0.0.9', type: 'A', qtypes: 'A', query: 'a.example.' },
    ]);
  });
});

describe('http and httpV2: hubble_http_requests_total, hubble_http_responses_total, hubble_http_request_duration_seconds', () => {
  const client = { namespace: 'shop', podName: 'frontend-1' };
  const server = { namespace: 'payments', podName: 'api-1' };
  const request = flow({
    eventType: { type: L7 },
    verdict: Verdict.FORWARDED,
    trafficDirection: TrafficDirection.EGRESS,
    source: client,
    destination: server,
    l7: { type: L7FlowType.REQUEST, http: { method: 'GET', protocol: 'HTTP/1.1', url: 'http://api/pay' } },
  });
  const response = flow({
    eventType: { type: L7 },
    verdict: Verdict.FORWARDED,
    trafficDirection: TrafficDirection.EGRESS,
    isReply: true,
    source: server,
    destination: client,
    l7: {
      type: L7FlowType.RESPONSE,
      latencyNs: 250_000_000,
      http: { code: 200, method: 'GET', protocol: 'HTTP/1.1', url: 'http://api/pay' },
    },
  });

  it('http counts requests, responses with their status, and durations (as seconds) by reporter', async () => {
    const path = hookPath(['http:sourceContext=namespace']);
    path.feed(request);
    path.feed(response);
    const scraped = await path.scrape();
    expect(series(scraped, 'hubble_http_requests_total')).toEqual(
      sortSeries([[{ source: 'shop', method: 'GET', protocol: 'HTTP/1.1', reporter: 'client' }, 1]]),
    );
    expect(series(scraped, 'hubble_http_responses_total')).toEqual(
      sortSeries([[{ source: 'payments', method: 'GET', protocol: 'HTTP/1.1', status: '200', reporter: 'client' }, 1]]),
    );
    expect(scraped.types.get('hubble_http_request_duration_seconds')).toBe('histogram');
    const labels = { source: 'payments', method: 'GET', reporter: 'client' };
    expect(valueOf(scraped, 'hubble_http_request_duration_seconds_count', labels)).toBe(1);
    expect(valueOf(scraped, 'hubble_http_request_duration_seconds_sum', labels)).toBe(0.25);
    expect(valueOf(scraped, 'hubble_http_request_duration_seconds_bucket', { ...labels, le: '0.1' })).toBe(0);
    expect(valueOf(scraped, 'hubble_http_request_duration_seconds_bucket', { ...labels, le: '0.25' })).toBe(1);
    expect(valueOf(scraped, 'hubble_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(1);
  });

  it('neither counts nor times an interim response (100 Continue), as Hubble never sees one; 101 it does', async () => {
    const interim = (code: number) => ({
      ...response,
      l7: { ...response.l7!, latencyNs: 0, http: { ...response.l7!.http!, code } },
    });
    for (const handler of ['http', 'httpV2']) {
      const path = hookPath([`${handler}:sourceContext=namespace`]);
      path.feed(request);
      path.feed(interim(100));
      path.feed(interim(103));
      path.feed(response);
      path.feed(interim(101));
      const scraped = await path.scrape();
      const counted = series(
        scraped,
        handler === 'http' ? 'hubble_http_responses_total' : 'hubble_http_requests_total',
      );
      expect(counted.map(([labels, n]) => [labels['status'], n])).toEqual([
        ['101', 1],
        ['200', 1],
      ]);
      // Timed once each (the 200 and the 101), whatever the labels.
      const timed = find(scraped, 'hubble_http_request_duration_seconds_count').reduce((n, s) => n + s.value, 0);
      expect(timed).toBe(2);
    }
  });

  it("httpV2 counts requests from their responses, labelled from the request's side as Hubble swaps them", async () => {
    // Hubble reads sourceContext on the response's source (the server) and destinationContext on its destination (the
    // client), then swaps the two values: `source` is the client's pod here, `destination` the server's namespace.
    const path = hookPath(['httpV2:sourceContext=namespace;destinationContext=pod']);
    path.feed(request);
    path.feed(response);
    path.feed({ ...response, trafficDirection: TrafficDirection.INGRESS });
    const scraped = await path.scrape();
    expect(find(scraped, 'hubble_http_responses_total')).toEqual([]);
    expect(series(scraped, 'hubble_http_requests_total')).toEqual(
      sortSeries([
        [
          {
            source: 'shop/frontend-1',
            destination: 'payments',
            method: 'GET',
            protocol: 'HTTP/1.1',
            status: '200',
            reporter: 'client',
          },
          1,
        ],
        [
          {
            source: 'shop/frontend-1',
            destination: 'payments',
            method: 'GET',
            protocol: 'HTTP/1.1',
            status: '200',
            reporter: 'server',
          },
          1,
        ],
      ]),
    );
  });
});

describe('httpV2 with one side of the context', () => {
  it('has an empty source with sourceContext alone, as Hubble (its value moves to a destination label not asked for)', async () => {
    const path = hookPath(['httpV2:sourceContext=namespace']);
    path.feed(
      flow({
        eventType: { type: L7 },
        verdict: Verdict.FORWARDED,
        isReply: true,
        source: { namespace: 'payments', podName: 'api-1' },
        destination: { namespace: 'shop', podName: 'frontend-1' },
        l7: {
          type: L7FlowType.RESPONSE,
          http: { code: 204, method: 'PUT', protocol: 'HTTP/1.1', url: 'http://api/x' },
        },
      }),
    );
    const scraped = await path.scrape();
    expect(series(scraped, 'hubble_http_requests_total')).toEqual([
      [{ source: '', method: 'PUT', protocol: 'HTTP/1.1', status: '204', reporter: 'unknown' }, 1],
    ]);
  });
});

describe('context options', () => {
  const cart = {
    namespace: 'shop',
    podName: 'cart-7d9f8b6c4-x2x7q',
    labels: ['k8s:app=cart', 'k8s:io.kubernetes.pod.namespace=shop'],
    workloads: [{ name: 'cart', kind: 'Deployment' }],
  };
  const world = { labels: ['reserved:world'], identity: 2 };
  const base = {
    eventType: { type: TRACE, subType: 0 },
    verdict: Verdict.FORWARDED,
    trafficDirection: TrafficDirection.EGRESS,
    IP: v4('10.0.0.5', '203.0.113.7'),
    l4: { TCP: { destinationPort: 443 } },
    source: cart,
    destination: world,
    destinationNames: ['example.com', 'www.example.com'],
  };

  const cases: { option: string; source: string; destination: string }[] = [
    { option: 'identity', source: 'k8s:app=cart,k8s:io.kubernetes.pod.namespace=shop', destination: 'reserved:world' },
    { option: 'namespace', source: 'shop', destination: '' },
    { option: 'pod', source: 'shop/cart-7d9f8b6c4-x2x7q', destination: '' },
    { option: 'pod-short', source: 'shop/cart', destination: '' },
    { option: 'pod-name', source: 'cart-7d9f8b6c4-x2x7q', destination: '' },
    { option: 'dns', source: '', destination: 'example.com,www.example.com' },
    { option: 'ip', source: '10.0.0.5', destination: '203.0.113.7' },
    { option: 'reserved-identity', source: '', destination: 'reserved:world' },
    { option: 'workload', source: 'shop/cart', destination: '' },
    { option: 'workload-name', source: 'cart', destination: '' },
    { option: 'app', source: 'cart', destination: '' },
    { option: 'namespace|dns|ip', source: 'shop', destination: 'example.com,www.example.com' },
    { option: 'dns|pod', source: 'shop/cart-7d9f8b6c4-x2x7q', destination: 'example.com,www.example.com' },
    { option: 'workload-name|ip', source: 'cart', destination: '203.0.113.7' },
  ];
  for (const c of cases) {
    it(`sourceContext/destinationContext=${c.option}`, async () => {
      const path = hookPath([`flow:sourceContext=${c.option};destinationContext=${c.option}`]);
      path.feed(flow(base));
      const [sample] = find(await path.scrape(), 'hubble_flows_processed_total');
      expect(sample?.labels).toEqual({
        protocol: 'TCP',
        type: 'Trace',
        subtype: 'to-endpoint',
        verdict: 'FORWARDED',
        source: c.source,
        destination: c.destination,
      });
    });
  }

  it('reserved-identity names the API server over the other reserved labels', async () => {
    const path = hookPath(['drop:destinationContext=reserved-identity']);
    path.feed(
      flow({
        ...base,
        verdict: Verdict.DROPPED,
        destination: { labels: ['reserved:host', 'reserved:kube-apiserver'] },
      }),
    );
    const [sample] = find(await path.scrape(), 'hubble_drop_total');
    expect(sample?.labels['destination']).toBe('reserved:kube-apiserver');
  });

  it('egress and ingress variants override sourceContext for flows of their direction, and alone add no label', async () => {
    const path = hookPath(['tcp:sourceContext=namespace;sourceEgressContext=pod;destinationIngressContext=ip']);
    const syn = { ...base, IP: v4('10.0.0.5', '203.0.113.7'), l4: { TCP: { flags: tcpFlags('S') } } };
    path.feed(flow(syn));
    path.feed(flow({ ...syn, trafficDirection: TrafficDirection.INGRESS }));
    path.feed(flow({ ...syn, trafficDirection: TrafficDirection.TRAFFIC_DIRECTION_UNKNOWN }));
    const samples = find(await path.scrape(), 'hubble_tcp_flags_total').map((s) => [s.labels, s.value]);
    // destinationIngressContext without destinationContext: Hubble adds no destination label, so neither do we.
    expect(samples).toEqual([
      [{ flag: 'SYN', family: 'IPv4', source: 'shop/cart-7d9f8b6c4-x2x7q' }, 1],
      [{ flag: 'SYN', family: 'IPv4', source: 'shop' }, 2],
    ]);
  });

  it('labelsContext adds each label, in Hubble’s order whatever the order given', async () => {
    const path = hookPath([
      'port-distribution:labelsContext=traffic_direction,destination_ip,source_app,source_workload_kind,source_workload,source_namespace,source_pod,source_ip',
    ]);
    path.feed(flow({ ...base, isReply: false }));
    const exposition = await path.scrape();
    const line = exposition.text.split('\n').find((l) => l.startsWith('hubble_port_distribution_total{'));
    expect(line).toBe(
      'hubble_port_distribution_total{protocol="TCP",port="443",source_ip="10.0.0.5",source_pod="cart-7d9f8b6c4-x2x7q",source_namespace="shop",source_workload="cart",source_workload_kind="Deployment",source_app="cart",destination_ip="203.0.113.7",traffic_direction="egress"} 1',
    );
  });
});

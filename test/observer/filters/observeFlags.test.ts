// `hubble observe` filter flags, taken through the CLI's flag parser into compileFlowFilters, select
// exactly the fixture flows they should.
import { describe, expect, it } from 'vitest';
import { FILTER_FLAGS, FlowFilterFlags } from '../../../src/cli/flowFilterFlags.js';
import { compileFlowFilters, FilterError } from '../../../src/observer/filters/index.js';
import { flowNames, selected, type FlowName } from './flows.js';

/** Parses `hubble observe` style arguments ("--from-pod", "xwing", "--ipv4", ...) into allow/deny lists. */
function observe(args: readonly string[]): (flow: Parameters<ReturnType<typeof compileFlowFilters>>[0]) => boolean {
  const flags = new FlowFilterFlags();
  const byName = new Map(
    FILTER_FLAGS.flatMap((f) => [[f.name, f] as const, ...(f.short ? [[f.short, f] as const] : [])]),
  );
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const name = arg.replace(/^--?/, '');
    const spec = byName.get(name);
    if (spec === undefined) throw new Error(`test bug: unknown flag ${arg}`);
    if (spec.boolean) flags.set(spec.name);
    else flags.set(spec.name, args[++i]!);
  }
  const { whitelist, blacklist } = flags.lists();
  return compileFlowFilters(whitelist, blacklist);
}

const ALL = flowNames;
const except = (...names: FlowName[]) => ALL.filter((n) => !names.includes(n));

const XWING_OUT: FlowName[] = ['xwing-syn', 'xwing-http-request', 'xwing-dns', 'xwing-world'];
const DEATHSTAR_SERVES: FlowName[] = ['deathstar-synack', 'deathstar-http-200', 'tiefighter-http-503'];
const WORKER_1: FlowName[] = [
  'xwing-syn',
  'deathstar-synack',
  'xwing-http-request',
  'deathstar-http-200',
  'tiefighter-http-503',
  'xwing-dns',
  'xwing-world',
  'arp-no-ip',
];

const CASES: [args: string[], expected: FlowName[]][] = [
  [[], ALL],
  [['--uuid', 'a1b2c3d4-0006-4000-8000-000000000006'], ['tiefighter-drop']],
  [
    ['--node-name', 'k8s-worker-2'],
    ['tiefighter-drop', 'ipv6-ping-remote'],
  ],
  [['--node-name', 'k8s-*-1'], WORKER_1],
  [['--node-name', 'other-cluster/*.example.com'], ['remote-sctp']],
  [
    ['--node-name', 'default/k8s-worker-2', '--node-name', 'other-cluster/'],
    ['tiefighter-drop', 'ipv6-ping-remote', 'remote-sctp'],
  ],
  [
    ['--node-label', 'topology.kubernetes.io/zone=eu-west-1b'],
    ['tiefighter-drop', 'ipv6-ping-remote'],
  ],
  [['--node-label', 'node-role.kubernetes.io/worker'], WORKER_1],
  [['--from-cluster', 'other-cluster'], ['remote-sctp']],
  [['--to-cluster', 'other-cluster'], ['ipv6-ping-remote']],
  [
    ['--cluster', 'other-cluster'],
    ['ipv6-ping-remote', 'remote-sctp'],
  ],
  [['--protocol', 'udp'], ['xwing-dns']],
  [['--protocol', 'ICMP'], ['ipv6-ping-remote']],
  [['--protocol', 'sctp'], ['remote-sctp']],
  [
    ['--protocol', 'http'],
    ['xwing-http-request', 'deathstar-http-200', 'tiefighter-http-503'],
  ],
  [
    ['--protocol', 'dns', '--protocol', 'sctp'],
    ['xwing-dns', 'remote-sctp'],
  ],
  [
    ['--tcp-flags', 'syn'],
    ['xwing-syn', 'deathstar-synack', 'tiefighter-drop'],
  ],
  [['--tcp-flags', 'SYN,ACK'], ['deathstar-synack']],
  [['--tcp-flags', 'fin', '--tcp-flags', 'psh'], ['xwing-world']],
  [
    ['--type', 'l7'],
    ['xwing-http-request', 'deathstar-http-200', 'tiefighter-http-503', 'xwing-dns'],
  ],
  [['--type', 'drop'], ['tiefighter-drop']],
  [
    ['-t', 'trace'],
    ['xwing-syn', 'deathstar-synack', 'xwing-world', 'ipv6-ping-remote', 'remote-sctp', 'arp-no-ip'],
  ],
  [['--type', 'trace:to-endpoint'], ['deathstar-synack']],
  [
    ['--type', 'trace:from-endpoint', '--type', 'trace:to-network'],
    ['xwing-syn', 'xwing-world'],
  ],
  [['--verdict', 'DROPPED'], ['tiefighter-drop']],
  [['--verdict', 'FORWARDED'], except('tiefighter-drop')],
  [['--drop-reason-desc', 'POLICY_DENIED'], ['tiefighter-drop']],
  [['--drop-reason-desc', 'CT_MAP_INSERTION_FAILED'], []],
  [['--http-status', '503'], ['tiefighter-http-503']],
  [['--http-status', '2+'], ['deathstar-http-200']],
  [['--http-status', '5+', '--type', 'l7'], ['tiefighter-http-503']],
  [['--http-method', 'put'], ['tiefighter-http-503']],
  [
    ['--http-method', 'POST'],
    ['xwing-http-request', 'deathstar-http-200'],
  ],
  [['--http-path', '^/v1/exhaust'], ['tiefighter-http-503']],
  [
    ['--http-path', '/v1/.*-landing$'],
    ['xwing-http-request', 'deathstar-http-200'],
  ],
  [['--http-path', 'force=true'], []],
  [['--http-url', 'force=true'], ['tiefighter-http-503']],
  [['--http-header', 'retry-after:30'], ['tiefighter-http-503']],
  [['--http-header', 'x-request-id:c0ffee', '--http-header', 'retry-after:31'], ['xwing-http-request']],
  [
    ['--trace-id', '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['xwing-http-request', 'deathstar-http-200'],
  ],
  [['--ip-trace-id', '4242'], ['xwing-world']],
  [['--from-fqdn', 'db-*.other.example.com'], ['remote-sctp']],
  [['--to-fqdn', '*.github.com'], ['xwing-world']],
  [['--fqdn', 'API.GitHub.com.'], ['xwing-world']],
  [['--from-ip', '10.0.1.15'], XWING_OUT],
  [
    ['--to-ip', '10.0.2.0/24'],
    ['xwing-syn', 'xwing-http-request', 'tiefighter-drop', 'remote-sctp'],
  ],
  [
    ['--ip', '10.0.1.99'],
    ['tiefighter-http-503', 'tiefighter-drop'],
  ],
  [['--ip', 'fd00::/8'], ['ipv6-ping-remote']],
  [['--ip', 'fd00:20:244:7::5'], ['ipv6-ping-remote']],
  [['--snat-ip', '192.168.10.0/24'], ['xwing-world']],
  [['--ipv4'], except('ipv6-ping-remote', 'arp-no-ip')],
  [['-6'], ['ipv6-ping-remote']],
  [['--ip-version', 'none'], ['arp-no-ip']],
  [['--from-pod', 'xwing'], XWING_OUT],
  [['--to-pod', 'kube-system/coredns'], ['xwing-dns']],
  [['--pod', 'default/deathstar'], except('xwing-dns', 'xwing-world', 'ipv6-ping-remote', 'arp-no-ip')],
  [['--from-namespace', 'db'], ['remote-sctp']],
  [['--to-namespace', 'kube-system'], ['xwing-dns']],
  [
    ['-n', 'db'],
    ['ipv6-ping-remote', 'remote-sctp'],
  ],
  [
    ['--namespace', 'default', '--protocol', 'http'],
    ['xwing-http-request', 'deathstar-http-200', 'tiefighter-http-503'],
  ],
  [['-A'], except('arp-no-ip')],
  [['--from-all-namespaces'], except('arp-no-ip')],
  [['--to-all-namespaces'], except('xwing-world', 'arp-no-ip')],
  [
    ['--from-label', 'org=empire'],
    [...DEATHSTAR_SERVES, 'tiefighter-drop', 'ipv6-ping-remote'],
  ],
  [['--to-label', 'reserved:world'], ['xwing-world']],
  [
    ['-l', 'k8s:tier in (backend, db)'],
    ['ipv6-ping-remote', 'remote-sctp'],
  ],
  [
    ['--from-label', '!k8s:org'],
    ['remote-sctp', 'arp-no-ip'],
  ],
  [
    ['--from-label', 'k8s:org=empire,class notin (deathstar)'],
    ['tiefighter-drop', 'ipv6-ping-remote'],
  ],
  [['--from-service', 'deathstar'], DEATHSTAR_SERVES],
  [['--to-service', 'kube-system/kube-dns'], ['xwing-dns']],
  [
    ['--service', 'deathstar'],
    ['xwing-syn', ...DEATHSTAR_SERVES.slice(0, 1), 'xwing-http-request', ...DEATHSTAR_SERVES.slice(1)],
  ],
  [['--from-port', '80'], DEATHSTAR_SERVES],
  [['--to-port', '53'], ['xwing-dns']],
  [['--port', '443'], ['xwing-world']],
  [['--port', '36412'], ['remote-sctp']],
  [['--from-workload', 'xwing'], XWING_OUT],
  [['--to-workload', 'StatefulSet/postgres'], ['ipv6-ping-remote']],
  [['--workload', 'Deployment/coredns'], ['xwing-dns']],
  [['--from-identity', '12345'], XWING_OUT],
  [['--to-identity', 'world'], ['xwing-world']],
  [
    ['--identity', '45678'],
    ['ipv6-ping-remote', 'remote-sctp'],
  ],
  [
    ['--traffic-direction', 'ingress'],
    ['tiefighter-http-503', 'tiefighter-drop', 'remote-sctp'],
  ],
  [['--traffic-direction', 'EGRESS'], except('tiefighter-http-503', 'tiefighter-drop', 'remote-sctp', 'arp-no-ip')],
  [
    ['--cel-expression', '_flow.l4.TCP.destination_port == 80u && _flow.verdict == Verdict.DROPPED'],
    ['tiefighter-drop'],
  ],
  [['--cel-expression', "_flow.source.labels.exists(l, l == 'k8s:tier=backend')"], ['remote-sctp']],
  [
    ['--interface', 'eth0'],
    ['xwing-world', 'arp-no-ip'],
  ],
  [['--encrypted'], ['ipv6-ping-remote']],
  [['--unencrypted'], except('ipv6-ping-remote')],
  [['--not', '--verdict', 'FORWARDED'], ['tiefighter-drop']],
  [
    ['--from-pod', 'xwing', '--protocol', 'tcp'],
    ['xwing-syn', 'xwing-http-request', 'xwing-world'],
  ],
  [['--from-pod', 'xwing', '--to-pod', 'deathstar', '--type', 'l7'], ['xwing-http-request']],
  [
    ['--ip', '10.0.1.15', '--not', '--port', '53'],
    ['xwing-syn', 'deathstar-synack', 'xwing-http-request', 'deathstar-http-200', 'xwing-world'],
  ],
  // Every --not filter lands in the one deny FlowFilter, so they AND: this hides L7 flows over IPv6 only.
  [['--not', '--type', 'l7', '--not', '--ipv6', '--node-name', 'k8s-worker-1'], WORKER_1],
  [['--not', '--type', 'l7', '--not', '--to-port', '53'], except('xwing-dns')],
];

describe('hubble observe filter flags select exactly the flows they should', () => {
  it.each(CASES.map(([args, expected]) => [args.join(' ') || '(no flags)', args, expected] as const))(
    '%s',
    (_title, args, expected) => {
      expect(selected(observe(args))).toEqual(expected);
    },
  );

  it('has a case for every filter flag the CLI offers', () => {
    const used = new Set(
      CASES.flatMap(([args]) => args.filter((a) => a.startsWith('-')).map((a) => a.replace(/^--?/, ''))),
    );
    const shortToLong = new Map(FILTER_FLAGS.filter((f) => f.short).map((f) => [f.short!, f.name]));
    const usedLong = new Set([...used].map((n) => shortToLong.get(n) ?? n));
    expect(FILTER_FLAGS.map((f) => f.name).filter((n) => !usedLong.has(n))).toEqual([]);
  });

  it('refuses HTTP filters next to an event type that cannot be L7, as upstream does', () => {
    expect(() => observe(['--http-status', '200', '--type', 'trace'])).toThrow(FilterError);
    expect(() => observe(['--http-method', 'get', '--type', 'drop'])).toThrow(
      /http_method: filtering by http method requires the event type filter to only match 'l7' events/,
    );
  });

  it('reports a bad value the CLI passes through, naming the field', () => {
    expect(() => observe(['--from-ip', '10.0.0.300'])).toThrow(/source_ip: "10.0.0.300" is not an IP address or CIDR/);
    expect(() => observe(['--to-port', '65536'])).toThrow(/destination_port: "65536" is not a port number/);
    expect(() => observe(['--protocol', 'quic'])).toThrow(/protocol: "quic" is not a known protocol/);
    expect(() => observe(['--http-status', '600'])).toThrow(/http_status_code: "600"/);
    expect(() => observe(['--label', 'app in x'])).toThrow(/source_label: "app in x" is not a valid label selector/);
    expect(() => observe(['--node-name', 'a/b/c'])).toThrow(
      /node_name: "a\/b\/c" is not a valid node name pattern: too many slashes/,
    );
    expect(() => observe(['--fqdn', 'foo bar.com'])).toThrow(/source_fqdn: "foo bar.com" is not a valid FQDN pattern/);
    expect(() => observe(['--http-path', '(a)\\1'])).toThrow(/http_path: .* is not a valid regular expression/);
    expect(() => observe(['--cel-expression', '_flow.verdict'])).toThrow(/evaluates to int, wanted bool/);
  });
});

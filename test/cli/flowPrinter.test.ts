// The observe printers, byte for byte, on fixed flows: what a hubble user sees in each -o format.
import { describe, expect, it } from 'vitest';
import { FlowPrinter, type OutputFormat } from '../../src/cli/flowPrinter.js';
import { getFlowsResponseToJson } from '../../src/protojson/protojson.js';
import {
  DNS_REPLY,
  FIXTURE_RESPONSES,
  HTTP_REQUEST,
  LOST,
  NODES_CONNECTED,
  NODES_UNAVAILABLE,
  POLICY_DROP_V6,
  POLICY_VERDICT,
  SYN_TO_NETWORK,
} from './printerFixtures.js';

function print(
  output: OutputFormat,
  responses = FIXTURE_RESPONSES,
  extra: { nodeName?: boolean; ipTranslation?: boolean; debug?: boolean } = {},
) {
  let out = '';
  let err = '';
  const p = new FlowPrinter({
    output,
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
    ...extra,
  });
  for (const r of responses) p.write(r);
  p.close();
  return { out, err };
}

describe('compact output', () => {
  it('prints one hubble line per flow, lost events in line, unavailable nodes on stderr', () => {
    const { out, err } = print('compact');
    expect(out).toBe(
      'Nov 24 10:00:00.123: 10.0.0.1:34567 (world) -> 10.0.0.2:80 (host) to-network FORWARDED (TCP Flags: SYN)\n' +
        'Nov 24 10:00:01.005: default/client:40000 (ID:1234) <- kube-system/coredns-abc:53 (ID:5678) to-endpoint FORWARDED (UDP)\n' +
        'Nov 24 10:00:02.000: [fd00::1]:5000 (ID:300) <> [fd00::2]:443 (ID:400) Policy denied DROPPED (TCP Flags: SYN; SPIRE)\n' +
        'Nov 24 10:00:03.999: default/client:51000 (ID:1234) -> example.com:80 (world) http-request FORWARDED (HTTP/1.1 GET http://example.com/?a=1&b=<2>)\n' +
        'Nov 24 10:00:04.000: 10.0.0.9 (world) -> default/client (ID:1234) policy-verdict:L3-L4 INGRESS DENIED (ICMPv4 EchoRequest)\n' +
        'EVENTS LOST: HUBBLE_RING_BUFFER CPU(0) 42\n',
    );
    // The "connected" status is informational and only shown with --debug.
    expect(err).toBe('Nov 24 10:00:06.000 [relay]: 2 nodes are unavailable: node-c, node-d\n');
  });

  it('adds the node name and shows IPs only when translation is off', () => {
    const { out } = print('compact', [SYN_TO_NETWORK, HTTP_REQUEST], { nodeName: true, ipTranslation: false });
    expect(out).toBe(
      'Nov 24 10:00:00.123 [node-a]: 10.0.0.1:34567 (world) -> 10.0.0.2:80 (host) to-network FORWARDED (TCP Flags: SYN)\n' +
        'Nov 24 10:00:03.999 [node-a]: 10.0.0.5:51000 (ID:1234) -> 93.184.216.34:80 (world) http-request FORWARDED (HTTP/1.1 GET http://example.com/?a=1&b=<2>)\n',
    );
  });

  it('prints informational node events with --debug', () => {
    const { err } = print('compact', [NODES_CONNECTED], { debug: true });
    expect(err).toBe('Nov 24 10:00:06.000 [relay]: Receiving flows from 1 nodes: node-a\n');
  });
});

describe('dict output', () => {
  it('prints KEY: VALUE blocks separated by dashes', () => {
    const { out, err } = print('dict', [SYN_TO_NETWORK, DNS_REPLY, LOST, NODES_UNAVAILABLE]);
    expect(out).toBe(
      '  TIMESTAMP: Nov 24 10:00:00.123\n' +
        '     SOURCE: 10.0.0.1:34567\n' +
        'DESTINATION: 10.0.0.2:80\n' +
        '       TYPE: to-network\n' +
        '    VERDICT: FORWARDED\n' +
        '    SUMMARY: TCP Flags: SYN\n' +
        '------------\n' +
        '  TIMESTAMP: Nov 24 10:00:01.005\n' +
        '     SOURCE: kube-system/coredns-abc:53\n' +
        'DESTINATION: default/client:40000\n' +
        '       TYPE: to-endpoint\n' +
        '    VERDICT: FORWARDED\n' +
        '    SUMMARY: UDP\n' +
        '------------\n' +
        '  TIMESTAMP: \n' +
        '     SOURCE: HUBBLE_RING_BUFFER\n' +
        '       TYPE: EVENTS LOST\n' +
        '    VERDICT: \n' +
        '    SUMMARY: CPU(0) - 42\n',
    );
    expect(err).toBe(
      '------------\n  TIMESTAMP: Nov 24 10:00:06.000\n      STATE: NODE_UNAVAILABLE\n      NODES: node-c, node-d\n    MESSAGE: N/A\n',
    );
  });
});

describe('table output', () => {
  it('aligns columns like Go tabwriter and prints only at the end', () => {
    const { out } = print('table', [SYN_TO_NETWORK, DNS_REPLY, POLICY_DROP_V6, POLICY_VERDICT, LOST], {
      nodeName: true,
    });
    // Column width = widest cell + 3; the summary after the last tab is not padded.
    expect(out).toBe(
      'TIMESTAMP             NODE     SOURCE                       DESTINATION            TYPE                           VERDICT     SUMMARY\n' +
        'Nov 24 10:00:00.123   node-a   10.0.0.1:34567               10.0.0.2:80            to-network                     FORWARDED   TCP Flags: SYN\n' +
        'Nov 24 10:00:01.005   node-a   kube-system/coredns-abc:53   default/client:40000   to-endpoint                    FORWARDED   UDP\n' +
        'Nov 24 10:00:02.000   node-b   [fd00::1]:5000               [fd00::2]:443          Policy denied                  DROPPED     TCP Flags: SYN; SPIRE\n' +
        'Nov 24 10:00:04.000   node-a   10.0.0.9                     default/client         policy-verdict:L3-L4 INGRESS   DENIED      ICMPv4 EchoRequest\n' +
        '                               HUBBLE_RING_BUFFER                                  EVENTS LOST                                CPU(0) - 42\n',
    );
  });
});

describe('json output', () => {
  it('prints each GetFlowsResponse as one protojson line, HTML characters escaped as Go does', () => {
    const { out, err } = print('jsonpb', [SYN_TO_NETWORK, HTTP_REQUEST, LOST, NODES_UNAVAILABLE]);
    const lines = out.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(
      '{"flow":{"time":"2024-11-24T10:00:00.123456789Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv4"},' +
        '"l4":{"TCP":{"source_port":34567,"destination_port":80,"flags":{"SYN":true}}},"source":{"identity":2},"destination":{"identity":1},' +
        '"Type":"L3_L4","node_name":"node-a","event_type":{"type":4,"sub_type":11},"trace_observation_point":"TO_NETWORK","is_reply":false,' +
        '"Summary":"TCP Flags: SYN"},"node_name":"node-a","time":"2024-11-24T10:00:00.123456789Z"}',
    );
    expect(lines[1]).toContain('"url":"http://example.com/?a=1\\u0026b=\\u003c2\\u003e"');
    expect(JSON.parse(lines[1]!)).toEqual(getFlowsResponseToJson(HTTP_REQUEST));
    expect(lines[2]).toBe(
      '{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"42"},"node_name":"node-a","time":"2024-11-24T10:00:05Z"}',
    );
    expect(lines[3]).toBe('');
    expect(err).toBe(
      '{"node_status":{"state_change":"NODE_UNAVAILABLE","node_names":["node-c","node-d"]},"node_name":"relay","time":"2024-11-24T10:00:06Z"}\n',
    );
  });
});

// The observe printers, byte for byte, on fixed flows: what a hubble user sees in each -o format.
import { describe, expect, it } from 'vitest';
import { FlowPrinter, type OutputFormat } from '../../src/cli/flowPrinter.js';
import { getFlowsResponseToJson } from '../../src/protojson/protojson.js';
import { colorsEnabled } from '../../src/cli/terminalText.js';
import { Flow } from '../../src/api/flow/flow.js';
import { GetFlowsResponse } from '../../src/api/observer/observer.js';
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
  extra: { nodeName?: boolean; ipTranslation?: boolean; debug?: boolean; color?: boolean } = {},
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

// Written by hand from hubble's palette (fatih/color SGR codes, each closed by ESC[0m): hosts cyan (36) with the port
// yellow (33) inside, identities magenta (35), FORWARDED green (32), DROPPED/DENIED red (31), AUDIT/TRACED yellow.
const CYAN = '\x1b[36m';
const YELLOW = '\x1b[33m';
const MAGENTA = '\x1b[35m';
const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const END = '\x1b[0m';

describe('colours (--color)', () => {
  it('colours hosts, ports, identities and verdicts in compact output as hubble does', () => {
    const { out } = print('compact', [SYN_TO_NETWORK, POLICY_DROP_V6], { color: true });
    expect(out).toBe(
      `Nov 24 10:00:00.123: ${CYAN}10.0.0.1:${YELLOW}34567${END}${END} ${MAGENTA}(world)${END} -> ` +
        `${CYAN}10.0.0.2:${YELLOW}80${END}${END} ${MAGENTA}(host)${END} to-network ${GREEN}FORWARDED${END} (TCP Flags: SYN)\n` +
        `Nov 24 10:00:02.000: ${CYAN}[fd00::1]:${YELLOW}5000${END}${END} ${MAGENTA}(ID:300)${END} <> ` +
        `${CYAN}[fd00::2]:${YELLOW}443${END}${END} ${MAGENTA}(ID:400)${END} Policy denied ${RED}DROPPED${END} (TCP Flags: SYN; ${GREEN}SPIRE${END})\n`,
    );
  });

  it('colours dict output and never a table (colour codes would break its columns)', () => {
    const dict = print('dict', [POLICY_VERDICT], { color: true }).out;
    expect(dict).toContain(`     SOURCE: ${CYAN}10.0.0.9${END}\n`);
    expect(dict).toContain(`    VERDICT: ${RED}DENIED${END}\n`);
    expect(print('table', [POLICY_VERDICT], { color: true }).out).not.toContain('\x1b');
  });

  it('decides `auto` by the output: a terminal, unless NO_COLOR or TERM=dumb', () => {
    expect(colorsEnabled('auto', { isTTY: true }, {})).toBe(true);
    expect(colorsEnabled('auto', { isTTY: false }, {})).toBe(false);
    expect(colorsEnabled('auto', {}, {})).toBe(false);
    expect(colorsEnabled('auto', { isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorsEnabled('auto', { isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colorsEnabled('always', {}, { NO_COLOR: '1' })).toBe(true);
    expect(colorsEnabled('never', { isTTY: true }, {})).toBe(false);
  });
});

describe('text from the wire on a terminal', () => {
  // A DNS name and a summary crafted to clear the screen, recolour and rewrite the line.
  const hostile = GetFlowsResponse.fromPartial({
    flow: Flow.fromPartial({
      time: { seconds: Date.parse('2024-11-24T10:00:07Z') / 1000, nanos: 0 },
      verdict: 1,
      IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 1 },
      l4: { UDP: { sourcePort: 5353, destinationPort: 53 } },
      destinationNames: ['evil\x1b[2J\x1b[31m.example'],
      eventType: { type: 4 },
      nodeName: 'node\ra',
      Summary: 'DNS Query \x1b]0;owned\x07 fine\rFORWARDED',
    }),
  });

  it('shows ESC as ^[ and CR as \\r in compact, dict and table output, coloured or not', () => {
    for (const output of ['compact', 'dict', 'table'] as const) {
      for (const color of [false, true]) {
        const { out } = print(output, [hostile], { color, nodeName: true });
        const withoutOurColours = out.replace(/\x1b\[(?:3[1-6]|0)m/g, '');
        expect(withoutOurColours, `${output} color=${color}`).not.toMatch(/[\x1b\r]/);
        expect(out).toContain('evil^[[2J^[[31m.example:');
        expect(out).toContain('DNS Query ^[]0;owned\x07 fine\\rFORWARDED');
        expect(out).toContain('node\\ra');
      }
    }
  });

  it('leaves JSON output to the JSON encoding, which escapes control characters itself', () => {
    const { out } = print('jsonpb', [hostile]);
    expect(out).not.toMatch(/[\x1b\r]/);
    expect(JSON.parse(out).flow.destination_names).toEqual(['evil\x1b[2J\x1b[31m.example']);
  });
});

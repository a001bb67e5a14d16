// Names the hubble CLI uses for Cilium monitor numbers: message types, trace observation points,
// drop reasons, policy match types and reserved identities (from cilium pkg/monitor/api and
// pkg/identity). Shared by the filter flags (name -> number) and the printers (number -> name).

/** Monitor message types as `--type` accepts them. */
export const MESSAGE_TYPES: Readonly<Record<string, number>> = {
  drop: 1,
  debug: 2,
  capture: 3,
  trace: 4,
  'policy-verdict': 5,
  recorder: 6,
  'trace-sock': 7,
  l7: 129,
  agent: 130,
};

export const MESSAGE_TYPE_DROP = 1;
export const MESSAGE_TYPE_CAPTURE = 3;
export const MESSAGE_TYPE_TRACE = 4;
export const MESSAGE_TYPE_POLICY_VERDICT = 5;
export const MESSAGE_TYPE_TRACE_SOCK = 7;
export const MESSAGE_TYPE_AGENT = 130;

/** Trace observation points by their datapath number (not the flow.proto enum, where to-endpoint is 101). */
export const TRACE_OBSERVATION_POINTS: readonly string[] = [
  'to-endpoint',
  'to-proxy',
  'to-host',
  'to-stack',
  'to-overlay',
  'from-endpoint',
  'from-proxy',
  'from-host',
  'from-stack',
  'from-overlay',
  'from-network',
  'to-network',
  'from-crypto',
  'to-crypto',
];

/** `--type agent:<name>` subtypes and their agent notification numbers. */
export const AGENT_EVENT_SUBTYPES: Readonly<Record<string, number>> = {
  unspecified: 0,
  message: 1,
  'agent-started': 2,
  'endpoint-regenerate-success': 3,
  'endpoint-regenerate-failure': 4,
  'policy-updated': 5,
  'policy-deleted': 6,
  'endpoint-created': 7,
  'endpoint-deleted': 8,
  'ipcache-upserted': 9,
  'ipcache-deleted': 10,
};

/** What the CLI prints for a drop event's subtype (the datapath drop reason code). */
const DROP_REASONS: Readonly<Record<number, string>> = {
  0: 'Success',
  2: 'Invalid packet',
  3: 'Interface',
  4: 'Interface Decrypted',
  5: 'LB, sock cgroup: No backend slot entry found',
  6: 'LB, sock cgroup: No backend entry found',
  7: 'LB, sock cgroup: Reverse entry update failed',
  8: 'LB, sock cgroup: Reverse entry stale',
  9: 'Fragmented packet',
  10: 'Fragmented packet entry update failed',
  130: 'Invalid source mac',
  131: 'Invalid destination mac',
  132: 'Invalid source ip',
  133: 'Policy denied',
  134: 'Invalid packet',
  135: 'CT: Truncated or invalid header',
  136: 'CT: Missing TCP ACK flag',
  137: 'CT: Unknown L4 protocol',
  138: "CT: Can't create entry from packet",
  139: 'Unsupported L3 protocol',
  140: 'Missed tail call',
  141: 'Error writing to packet',
  142: 'Unknown L4 protocol',
  143: 'Unknown ICMPv4 code',
  144: 'Unknown ICMPv4 type',
  145: 'Unknown ICMPv6 code',
  146: 'Unknown ICMPv6 type',
  147: 'Error retrieving tunnel key',
  148: 'Error retrieving tunnel options',
  149: 'Invalid Geneve option',
  150: 'Unknown L3 target address',
  151: 'Stale or unroutable IP',
  152: 'No matching local container found',
  153: 'Error while correcting L3 checksum',
  154: 'Error while correcting L4 checksum',
  155: 'CT: Map insertion failed',
  156: 'Invalid IPv6 extension header',
  157: 'IP fragmentation not supported',
  158: 'Service backend not found',
  160: 'No tunnel/encapsulation endpoint (datapath BUG!)',
  161: 'NAT 46/64 not enabled',
  162: 'Reached EDT rate-limiting drop horizon',
  163: 'Unknown connection tracking state',
  164: 'Local host is unreachable',
  165: 'No configuration available to perform policy decision',
  166: 'Unsupported L2 protocol',
  167: 'No mapping for NAT masquerade',
  168: 'Unsupported protocol for NAT masquerade',
  169: 'FIB lookup failed',
  170: 'Encapsulation traffic is prohibited',
  171: 'Invalid identity',
  172: 'Unknown sender',
  173: 'NAT not needed',
  174: 'Is a ClusterIP',
  175: 'First logical datagram fragment not found',
  176: 'Forbidden ICMPv6 message',
  177: 'Denied by LB src range check',
  178: 'Socket lookup failed',
  179: 'Socket assign failed',
  180: 'Proxy redirection not supported for protocol',
  181: 'Policy denied by denylist',
  182: 'VLAN traffic disallowed by VLAN filter',
  183: 'Incorrect VNI from VTEP',
  184: 'Failed to update or lookup TC buffer',
  185: 'No SID was found for the IP address',
  186: 'SRv6 state was removed during tail call',
  187: 'L3 translation from IPv4 to IPv6 failed (NAT46)',
  188: 'L3 translation from IPv6 to IPv4 failed (NAT64)',
  189: 'Authentication required',
  190: 'No conntrack map found',
  191: 'No nat map found',
  192: 'Invalid ClusterID',
  193: 'Unsupported packet protocol for DSR encapsulation',
  194: 'No egress gateway found',
  195: 'Traffic is unencrypted',
  196: 'TTL exceeded',
  197: 'No node ID found',
  198: 'Rate limited',
  199: 'IGMP handled',
  200: 'IGMP subscribed',
  201: 'Multicast handled',
  202: 'Host datapath not ready',
  203: 'Endpoint policy program not available',
  204: 'No Egress IP configured',
  205: 'Punt to proxy',
};

export function traceObservationPointName(subType: number): string {
  return TRACE_OBSERVATION_POINTS[subType & 0xff] ?? String(subType & 0xff);
}

export function dropReasonText(subType: number): string {
  return DROP_REASONS[subType & 0xff] ?? String(subType & 0xff);
}

export function policyMatchTypeName(matchType: number): string {
  switch (matchType) {
    case 0:
      return 'none';
    case 1:
      return 'L3-Only';
    case 2:
      return 'L3-L4';
    case 3:
      return 'L4-Only';
    case 4:
      return 'all';
    case 5:
      return 'L3-Proto';
    case 6:
      return 'Proto-Only';
    default:
      return 'unknown';
  }
}

/** Reserved security identities: `--identity world` and the `(world)` the printer shows. */
export const RESERVED_IDENTITIES: Readonly<Record<string, number>> = {
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  'remote-node': 6,
  'kube-apiserver': 7,
  ingress: 8,
  'world-ipv4': 9,
  'world-ipv6': 10,
  'encrypted-overlay': 11,
};

const RESERVED_IDENTITY_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'unknown'],
  ...Object.entries(RESERVED_IDENTITIES).map(([name, id]): [number, string] => [id, name]),
]);

export function reservedIdentityName(id: number): string | undefined {
  return RESERVED_IDENTITY_NAMES.get(id);
}

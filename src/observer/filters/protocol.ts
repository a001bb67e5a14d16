// protocol: flows of one of these L4 (tcp, udp, icmp = icmpv4 or icmpv6, sctp, vrrp, igmp) or
// L7 (http, dns, kafka) protocols, named case-insensitively.
import type { FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';
import { FilterError } from './filterError.js';

const TCP = 1 << 0;
const UDP = 1 << 1;
const ICMPV4 = 1 << 2;
const ICMPV6 = 1 << 3;
const SCTP = 1 << 4;
const VRRP = 1 << 5;
const IGMP = 1 << 6;
const HTTP = 1 << 7;
const DNS = 1 << 8;
const KAFKA = 1 << 9;

const PROTOCOLS: ReadonlyMap<string, number> = new Map([
  ['tcp', TCP],
  ['udp', UDP],
  ['icmp', ICMPV4 | ICMPV6],
  ['icmpv4', ICMPV4],
  ['icmpv6', ICMPV6],
  ['sctp', SCTP],
  ['vrrp', VRRP],
  ['igmp', IGMP],
  ['http', HTTP],
  ['dns', DNS],
  // Deprecated in the API but still carried by flows, so still selectable.
  ['kafka', KAFKA],
]);

export function protocolFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.protocol.length === 0) return [];
  let wanted = 0;
  for (const p of ff.protocol) {
    const bits = PROTOCOLS.get(p.toLowerCase());
    if (bits === undefined)
      throw new FilterError('protocol', p, `is not a known protocol (${[...PROTOCOLS.keys()].join(', ')})`);
    wanted |= bits;
  }
  return [
    {
      field: 'protocol',
      cost: Cost.Cheap,
      matchFlow: (flow) => {
        let seen = 0;
        const l4 = flow.l4;
        if (l4 !== undefined) {
          if (l4.TCP !== undefined) seen |= TCP;
          if (l4.UDP !== undefined) seen |= UDP;
          if (l4.ICMPv4 !== undefined) seen |= ICMPV4;
          if (l4.ICMPv6 !== undefined) seen |= ICMPV6;
          if (l4.SCTP !== undefined) seen |= SCTP;
          if (l4.VRRP !== undefined) seen |= VRRP;
          if (l4.IGMP !== undefined) seen |= IGMP;
        }
        const l7 = flow.l7;
        if (l7 !== undefined) {
          if (l7.http !== undefined) seen |= HTTP;
          if (l7.dns !== undefined) seen |= DNS;
          if (l7.kafka !== undefined) seen |= KAFKA;
        }
        return (seen & wanted) !== 0;
      },
    },
  ];
}

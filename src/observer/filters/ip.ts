// source_ip / destination_ip / source_ip_xlated: flows whose address is one of these addresses
// (compared as written, like upstream) or inside one of these CIDRs (IPv4 or IPv6); and
// ip_version: flows of one of these IP versions (IP_NOT_USED selects flows without an IP header).
import { IPVersion, type Flow, type FlowFilter } from '../../api/flow/flow.js';
import { ParsedAddr, parseAddrInto, parsePrefix, type Prefix } from '../../packet/ipAddress.js';
import { PrefixTable } from '../../packet/prefixTable.js';
import { checkEnumValue, Cost, type FieldFilter, type FieldKeys } from './fieldFilter.js';
import { FilterError } from './filterError.js';

/**
 * Where addresses are parsed, by every address filter: they parse one at a time, and a request naming thousands of
 * addresses compiles thousands of filters, so each does not keep its own.
 */
const parsed = new ParsedAddr();

function ipFilter(field: string, values: readonly string[], address: (flow: Flow) => string | undefined): FieldFilter {
  const exact = new Set<string>();
  const prefixes: Prefix[] = [];
  for (const v of values) {
    if (v.includes('/')) {
      const prefix = parsePrefix(v);
      if (typeof prefix === 'string') throw new FilterError(field, v, `is not an IP address or CIDR: ${prefix}`);
      prefixes.push(prefix);
    } else {
      const err = parseAddrInto(v, parsed);
      if (err !== undefined) throw new FilterError(field, v, `is not an IP address or CIDR: ${err}`);
      exact.add(v);
    }
  }
  const keys: FieldKeys = { kind: 'address', of: address, exact, prefixes };
  if (prefixes.length === 0) {
    return {
      field,
      cost: Cost.Cheap,
      matchFlow: (flow) => {
        const ip = address(flow);
        return ip !== undefined && exact.has(ip);
      },
      keys,
    };
  }
  const inPrefix = new PrefixTable<true>();
  for (const p of prefixes) inPrefix.add(p, true);
  return {
    field,
    cost: Cost.Scan,
    matchFlow: (flow) => {
      const ip = address(flow);
      if (ip === undefined || ip === '') return false;
      if (exact.has(ip)) return true;
      return parseAddrInto(ip, parsed) === undefined && inPrefix.lookup(parsed) !== undefined;
    },
    keys,
  };
}

export function ipFilters(ff: FlowFilter): FieldFilter[] {
  const out: FieldFilter[] = [];
  if (ff.sourceIp.length > 0) out.push(ipFilter('source_ip', ff.sourceIp, (f) => f.IP?.source));
  if (ff.destinationIp.length > 0) out.push(ipFilter('destination_ip', ff.destinationIp, (f) => f.IP?.destination));
  if (ff.sourceIpXlated.length > 0)
    out.push(ipFilter('source_ip_xlated', ff.sourceIpXlated, (f) => f.IP?.sourceXlated));
  return out;
}

export function ipVersionFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.ipVersion.length === 0) return [];
  for (const v of ff.ipVersion) checkEnumValue(IPVersion, 'IPVersion', 'ip_version', v);
  const versions = new Set<number>(ff.ipVersion);
  return [
    {
      field: 'ip_version',
      cost: Cost.Cheap,
      matchFlow: (flow) => versions.has(flow.IP?.ipVersion ?? IPVersion.IP_NOT_USED),
    },
  ];
}

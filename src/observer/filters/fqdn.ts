// source_fqdn / destination_fqdn: flows with a DNS name for that side matching one of these
// wildcard patterns ("*.cilium.io"); dns_query: DNS flows whose query matches one of these Go
// regular expressions.
import type { Flow, FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';
import { FilterError } from './filterError.js';
import { compileRegexps, type GoRegexp } from './goRegexp.js';
import { compileFqdnPatterns } from './patterns.js';

function fqdnFilter(field: string, patterns: readonly string[], names: (flow: Flow) => readonly string[]): FieldFilter {
  let re: GoRegexp;
  try {
    re = compileFqdnPatterns(patterns);
  } catch (err) {
    // One regexp covers the whole list; name the pattern at fault.
    const bad = patterns.find((p) => {
      try {
        compileFqdnPatterns([p]);
        return false;
      } catch {
        return true;
      }
    });
    throw new FilterError(field, bad, `is not a valid FQDN pattern: ${(err as Error).message}`);
  }
  return {
    field,
    cost: Cost.Regexp,
    matchFlow: (flow) => {
      // Indexed: names are often a shared frozen empty array, which for-of iterates unoptimized (allocating).
      const list = names(flow);
      for (let i = 0; i < list.length; i++) if (re.test(list[i]!)) return true;
      return false;
    },
  };
}

export function fqdnFilters(ff: FlowFilter): FieldFilter[] {
  const out: FieldFilter[] = [];
  if (ff.sourceFqdn.length > 0) out.push(fqdnFilter('source_fqdn', ff.sourceFqdn, (f) => f.sourceNames));
  if (ff.destinationFqdn.length > 0)
    out.push(fqdnFilter('destination_fqdn', ff.destinationFqdn, (f) => f.destinationNames));
  if (ff.dnsQuery.length > 0) {
    const queries = compileRegexps('dns_query', ff.dnsQuery);
    out.push({
      field: 'dns_query',
      cost: Cost.Regexp,
      matchFlow: (flow) => {
        const dns = flow.l7?.dns;
        if (dns === undefined) return false;
        for (const q of queries) if (q.test(dns.query)) return true;
        return false;
      },
    });
  }
  return out;
}

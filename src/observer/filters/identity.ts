// source_identity / destination_identity: flows whose endpoint has one of these security identities.
import type { Endpoint, Flow, FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';

function identityFilter(
  field: string,
  identities: readonly number[],
  endpoint: (flow: Flow) => Endpoint | undefined,
): FieldFilter {
  const ids = new Set(identities);
  return {
    field,
    cost: Cost.Cheap,
    matchFlow: (flow) => {
      const ep = endpoint(flow);
      return ep !== undefined && ids.has(ep.identity);
    },
  };
}

export function identityFilters(ff: FlowFilter): FieldFilter[] {
  const out: FieldFilter[] = [];
  if (ff.sourceIdentity.length > 0) out.push(identityFilter('source_identity', ff.sourceIdentity, (f) => f.source));
  if (ff.destinationIdentity.length > 0) {
    out.push(identityFilter('destination_identity', ff.destinationIdentity, (f) => f.destination));
  }
  return out;
}

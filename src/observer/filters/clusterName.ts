// source_cluster_name / destination_cluster_name: flows whose endpoint is in one of these clusters
// (exact names; upstream compares them as they are, no wildcards).
import type { Endpoint, Flow, FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';
import { FilterError } from './filterError.js';

function clusterFilter(
  field: string,
  names: readonly string[],
  endpoint: (flow: Flow) => Endpoint | undefined,
): FieldFilter {
  if (names.includes('')) throw new FilterError(field, '', 'is not a cluster name: it must not be empty');
  const set = new Set(names);
  return { field, cost: Cost.Cheap, matchFlow: (flow) => set.has(endpoint(flow)?.clusterName ?? '') };
}

export function clusterNameFilters(ff: FlowFilter): FieldFilter[] {
  const out: FieldFilter[] = [];
  if (ff.sourceClusterName.length > 0)
    out.push(clusterFilter('source_cluster_name', ff.sourceClusterName, (f) => f.source));
  if (ff.destinationClusterName.length > 0) {
    out.push(clusterFilter('destination_cluster_name', ff.destinationClusterName, (f) => f.destination));
  }
  return out;
}

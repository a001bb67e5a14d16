// source_workload / destination_workload: flows whose endpoint belongs to one of these workloads;
// an empty kind or name in the filter matches any.
import type { Endpoint, Flow, FlowFilter, Workload } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';

function workloadFilter(
  field: string,
  filters: readonly Workload[],
  endpoint: (flow: Flow) => Endpoint | undefined,
): FieldFilter {
  const wanted = filters.map((w) => ({ kind: w.kind, name: w.name }));
  return {
    field,
    cost: Cost.Scan,
    matchFlow: (flow) => {
      const workloads = endpoint(flow)?.workloads;
      if (workloads === undefined) return false;
      // Indexed: workloads is often a shared frozen empty array, which for-of iterates unoptimized (allocating).
      for (let i = 0; i < workloads.length; i++) {
        const w = workloads[i]!;
        for (const f of wanted) {
          if ((f.name === '' || f.name === w.name) && (f.kind === '' || f.kind === w.kind)) return true;
        }
      }
      return false;
    },
  };
}

export function workloadFilters(ff: FlowFilter): FieldFilter[] {
  const out: FieldFilter[] = [];
  if (ff.sourceWorkload.length > 0) out.push(workloadFilter('source_workload', ff.sourceWorkload, (f) => f.source));
  if (ff.destinationWorkload.length > 0) {
    out.push(workloadFilter('destination_workload', ff.destinationWorkload, (f) => f.destination));
  }
  return out;
}

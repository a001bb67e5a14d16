// ip_trace_id: flows carrying one of these IP-option trace ids; flows without one never match.
import type { FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';

export function ipTraceIdFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.ipTraceId.length === 0) return [];
  const ids = new Set(ff.ipTraceId);
  return [
    {
      field: 'ip_trace_id',
      cost: Cost.Cheap,
      matchFlow: (flow) => flow.ipTraceId !== undefined && ids.has(flow.ipTraceId.traceId),
    },
  ];
}

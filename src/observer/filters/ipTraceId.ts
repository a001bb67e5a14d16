// ip_trace_id: flows carrying one of these IP-option trace ids; flows without one never match.
import type { FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';
import { FilterError } from './filterError.js';

export function ipTraceIdFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.ipTraceId.length === 0) return [];
  // Flows carry trace ids as numbers, exact up to 2^53 - 1; a larger id in a request arrives saturated at that value
  // (server/wideIntegers.ts) and could only match the wrong flows.
  const tooLarge = ff.ipTraceId.find((id) => id >= Number.MAX_SAFE_INTEGER);
  if (tooLarge !== undefined) {
    throw new FilterError(
      'ip_trace_id',
      undefined,
      `ids of 2^53 - 1 (${Number.MAX_SAFE_INTEGER}) or more cannot be matched by this server`,
    );
  }
  const ids = new Set(ff.ipTraceId);
  return [
    {
      field: 'ip_trace_id',
      cost: Cost.Cheap,
      matchFlow: (flow) => flow.ipTraceId !== undefined && ids.has(flow.ipTraceId.traceId),
    },
  ];
}

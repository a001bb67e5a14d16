// trace_id: flows whose W3C trace context names one of these trace ids ("" selects flows without one).
import type { FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';

export function traceIdFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.traceId.length === 0) return [];
  const ids = new Set(ff.traceId);
  return [
    {
      field: 'trace_id',
      cost: Cost.Cheap,
      matchFlow: (flow) => ids.has(flow.traceContext?.parent?.traceId ?? ''),
      // Upstream reads the trace id of an event without a flow as "".
      matchOtherEvent: () => ids.has(''),
    },
  ];
}

// uuid: flows carrying one of these flow identifiers.
import type { FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';

export function uuidFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.uuid.length === 0) return [];
  const ids = new Set(ff.uuid);
  return [{ field: 'uuid', cost: Cost.Cheap, matchFlow: (flow) => ids.has(flow.uuid) }];
}

// drop_reason_desc: dropped flows with one of these drop reasons; flows not DROPPED never match.
import { DropReason, Verdict, type FlowFilter } from '../../api/flow/flow.js';
import { checkEnumValue, Cost, type FieldFilter } from './fieldFilter.js';

export function dropReasonDescFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.dropReasonDesc.length === 0) return [];
  for (const r of ff.dropReasonDesc) checkEnumValue(DropReason, 'DropReason', 'drop_reason_desc', r);
  const reasons = new Set<number>(ff.dropReasonDesc);
  return [
    {
      field: 'drop_reason_desc',
      cost: Cost.Cheap,
      matchFlow: (flow) => flow.verdict === Verdict.DROPPED && reasons.has(flow.dropReasonDesc),
    },
  ];
}

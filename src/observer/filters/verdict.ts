// verdict: flows with one of these verdicts (FORWARDED, DROPPED, ...).
import { Verdict, type FlowFilter } from '../../api/flow/flow.js';
import { checkEnumValue, Cost, type FieldFilter } from './fieldFilter.js';

export function verdictFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.verdict.length === 0) return [];
  for (const v of ff.verdict) checkEnumValue(Verdict, 'Verdict', 'verdict', v);
  const verdicts = new Set<number>(ff.verdict);
  return [{ field: 'verdict', cost: Cost.Cheap, matchFlow: (flow) => verdicts.has(flow.verdict) }];
}

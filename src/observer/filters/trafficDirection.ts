// traffic_direction: flows going this way relative to the endpoint (INGRESS, EGRESS).
import { TrafficDirection, type FlowFilter } from '../../api/flow/flow.js';
import { checkEnumValue, Cost, type FieldFilter } from './fieldFilter.js';

export function trafficDirectionFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.trafficDirection.length === 0) return [];
  for (const d of ff.trafficDirection) checkEnumValue(TrafficDirection, 'TrafficDirection', 'traffic_direction', d);
  const directions = new Set<number>(ff.trafficDirection);
  return [{ field: 'traffic_direction', cost: Cost.Cheap, matchFlow: (flow) => directions.has(flow.trafficDirection) }];
}

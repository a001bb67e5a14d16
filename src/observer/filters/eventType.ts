// event_type: the Cilium monitor message type (and optional sub type) an event came from. Flows
// match on their event_type (L7 flows carry type 129, access log); agent and debug events on their
// own kind and type; lost events always pass, since nothing else can select them.
import type { EventTypeFilter, FlowFilter } from '../../api/flow/flow.js';
import { MessageType } from '../../monitor/datapath/messageType.js';
import { Cost, type FieldFilter, type NonFlowEvent } from './fieldFilter.js';

function selects(filters: readonly EventTypeFilter[], type: number, subType: number): boolean {
  for (const f of filters) {
    // Type 0 stands for any type.
    if (f.type !== 0 && f.type !== type) continue;
    if (f.matchSubType && f.subType !== subType) continue;
    return true;
  }
  return false;
}

export function eventTypeFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.eventType.length === 0) return [];
  const filters = ff.eventType.map((f) => ({ ...f }));
  return [
    {
      field: 'event_type',
      cost: Cost.Cheap,
      matchFlow: (flow) =>
        flow.eventType !== undefined && selects(filters, flow.eventType.type, flow.eventType.subType),
      matchOtherEvent: (event: NonFlowEvent) => {
        switch (event.kind) {
          case 'agent':
            return selects(filters, MessageType.AGENT, event.agentEvent.type);
          case 'debug':
            return selects(filters, MessageType.DEBUG, event.debugEvent.type);
          case 'lost':
            return true;
        }
      },
    },
  ];
}

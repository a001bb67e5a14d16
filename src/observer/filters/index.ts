// Hubble's flow filters: each FlowFilter field compiles (once per request) into a predicate, and the
// combinators here join them with upstream's semantics: within a field any value may match (OR),
// within a FlowFilter every set field must match (AND), and an event passes when the allow list is
// empty or any allow filter matches, and no deny filter matches.
import type { Flow, FlowFilter } from '../../api/flow/flow.js';
import { celExpressionFilters } from './celExpression.js';
import { clusterNameFilters } from './clusterName.js';
import { dropReasonDescFilters } from './dropReasonDesc.js';
import { encryptedFilters } from './encrypted.js';
import { eventTypeFilters } from './eventType.js';
import type { FieldFilter, FilterableEvent, FilterKind, FlowPredicate, NonFlowEvent } from './fieldFilter.js';
import { fqdnFilters } from './fqdn.js';
import { httpFilters } from './http.js';
import { identityFilters } from './identity.js';
import { ipFilters, ipVersionFilters } from './ip.js';
import { ipTraceIdFilters } from './ipTraceId.js';
import { podFilters, serviceFilters } from './k8s.js';
import { labelFilters } from './labels.js';
import { networkInterfaceFilters } from './networkInterface.js';
import { nodeNameFilters } from './nodeName.js';
import { portFilters } from './port.js';
import { protocolFilters } from './protocol.js';
import { replyFilters } from './reply.js';
import { tcpFlagsFilters } from './tcp.js';
import { traceIdFilters } from './tracing.js';
import { trafficDirectionFilters } from './trafficDirection.js';
import { uuidFilters } from './uuid.js';
import { verdictFilters } from './verdict.js';
import { workloadFilters } from './workload.js';

export { FilterError } from './filterError.js';
export type { FieldFilter, FilterableEvent, FlowPredicate } from './fieldFilter.js';

/** Every filter kind, in upstream's DefaultFilters order. Adding a filter: one file, one line here. */
const FILTER_KINDS: readonly FilterKind[] = [
  uuidFilters,
  eventTypeFilters,
  verdictFilters,
  dropReasonDescFilters,
  replyFilters,
  encryptedFilters,
  identityFilters,
  protocolFilters,
  ipFilters,
  podFilters,
  workloadFilters,
  serviceFilters,
  fqdnFilters,
  labelFilters,
  portFilters,
  httpFilters,
  tcpFlagsFilters,
  nodeNameFilters,
  clusterNameFilters,
  ipVersionFilters,
  traceIdFilters,
  trafficDirectionFilters,
  celExpressionFilters,
  networkInterfaceFilters,
  ipTraceIdFilters,
];

/** Compiles one FlowFilter into its set fields, cheapest first (throws FilterError). */
export function compileFlowFilter(ff: FlowFilter): FieldFilter[] {
  const fields: FieldFilter[] = [];
  for (const kind of FILTER_KINDS) fields.push(...kind(ff));
  return fields.sort((a, b) => a.cost - b.cost);
}

const always: FlowPredicate = () => true;

/** AND over predicates, unrolled for the common short lists. */
function allOf(predicates: readonly FlowPredicate[]): FlowPredicate {
  switch (predicates.length) {
    case 0:
      return always;
    case 1:
      return predicates[0]!;
    case 2: {
      const [a, b] = predicates as [FlowPredicate, FlowPredicate];
      return (flow) => a(flow) && b(flow);
    }
    case 3: {
      const [a, b, c] = predicates as [FlowPredicate, FlowPredicate, FlowPredicate];
      return (flow) => a(flow) && b(flow) && c(flow);
    }
    default: {
      const n = predicates.length;
      return (flow) => {
        for (let i = 0; i < n; i++) if (!predicates[i]!(flow)) return false;
        return true;
      };
    }
  }
}

/** OR over predicates; false for none. */
function anyOf(predicates: readonly FlowPredicate[]): FlowPredicate {
  switch (predicates.length) {
    case 0:
      return () => false;
    case 1:
      return predicates[0]!;
    default: {
      const n = predicates.length;
      return (flow) => {
        for (let i = 0; i < n; i++) if (predicates[i]!(flow)) return true;
        return false;
      };
    }
  }
}

/**
 * Compiles a request's allow (whitelist) and deny (blacklist) filters into one flow check. An empty
 * FlowFilter matches every flow, so one in `deny` hides them all. Throws FilterError.
 */
export function compileFlowFilters(allow: readonly FlowFilter[], deny: readonly FlowFilter[]): (flow: Flow) => boolean {
  const allowed = allow.map((ff) => allOf(compileFlowFilter(ff).map((f) => f.matchFlow)));
  const denied = deny.map((ff) => allOf(compileFlowFilter(ff).map((f) => f.matchFlow)));
  const anyAllowed = allowed.length === 0 ? always : anyOf(allowed);
  if (denied.length === 0) return anyAllowed;
  const anyDenied = anyOf(denied);
  return (flow) => anyAllowed(flow) && !anyDenied(flow);
}

export type EventPredicate = (event: FilterableEvent) => boolean;

function eventFilter(ff: FlowFilter): EventPredicate {
  const fields = compileFlowFilter(ff);
  const onFlow = allOf(fields.map((f) => f.matchFlow));
  const onOther = fields.map((f) => f.matchOtherEvent ?? (() => false));
  return (event) => {
    if (event.kind === 'flow') return onFlow(event.flow);
    for (const m of onOther) if (!m(event as NonFlowEvent)) return false;
    return true;
  };
}

/**
 * The same filters over any event, as upstream applies them to its ring: agent, debug and lost
 * events meet them too (event_type selects them, most other fields never do). Upstream's
 * GetAgentEvents and GetDebugEvents select their events with exactly this, an event_type filter of
 * type 130 (agent) or 2 (debug), which also lets lost events through. Throws FilterError.
 */
export function compileEventFilters(allow: readonly FlowFilter[], deny: readonly FlowFilter[]): EventPredicate {
  const allowed = allow.map(eventFilter);
  const denied = deny.map(eventFilter);
  return (event) => {
    if (allowed.length > 0) {
      let pass = false;
      for (const f of allowed) {
        if (f(event)) {
          pass = true;
          break;
        }
      }
      if (!pass) return false;
    }
    for (const f of denied) if (f(event)) return false;
    return true;
  };
}

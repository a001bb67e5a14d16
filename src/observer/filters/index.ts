// Hubble's flow filters: each FlowFilter field compiles (once per request) into a predicate, and the
// combinators here join them with upstream's semantics: within a field any value may match (OR),
// within a FlowFilter every set field must match (AND), and an event passes when the allow list is
// empty or any allow filter matches, and no deny filter matches.
import type { Flow, FlowFilter } from '../../api/flow/flow.js';
import { celExpressionFilters, MAX_CEL_STEPS } from './celExpression.js';
import { clusterNameFilters } from './clusterName.js';
import { dropReasonDescFilters } from './dropReasonDesc.js';
import { encryptedFilters } from './encrypted.js';
import { eventTypeFilters } from './eventType.js';
import type { FieldFilter, FilterableEvent, FilterKind, FlowPredicate, NonFlowEvent } from './fieldFilter.js';
import { FilterError } from './filterError.js';
import { anyOfList, type ListedFilter } from './filterIndex.js';
import { fqdnFilters } from './fqdn.js';
import { MAX_PATTERN_LENGTH } from './goRegexp.js';
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

/** A request's filters as one check, and about how many filter tests it makes per flow at most. */
export type FlowMatcher = ((flow: Flow) => boolean) & { readonly tests: number };

/**
 * FlowFilters and values in them (addresses, names, patterns, expressions) one request may name together: each costs
 * memory and compile time (a CEL expression about 3 KB and 60 µs), and a request of a few MB could name millions.
 */
export const MAX_FILTER_VALUES = 20_000;

/** What one request's regular expressions and name patterns may hold together (see MAX_PATTERN_LENGTH). */
export const MAX_PATTERN_CHARACTERS = 32 * 1024;

/** The FlowFilter fields whose values are regular expressions or patterns compiled into them. */
const PATTERN_FIELDS = [
  ['http_path', 'httpPath'],
  ['http_url', 'httpUrl'],
  ['dns_query', 'dnsQuery'],
  ['source_fqdn', 'sourceFqdn'],
  ['destination_fqdn', 'destinationFqdn'],
  ['node_name', 'nodeName'],
] as const;

/** How long compiling a request's filters holds the event loop before it lets ingest and other clients run. */
const COMPILE_TURN_MS = 4;

/**
 * Compiles a request's allow (whitelist) and deny (blacklist) filters into one flow check. An empty
 * FlowFilter matches every flow, so one in `deny` hides them all. Throws FilterError.
 */
export function compileFlowFilters(allow: readonly FlowFilter[], deny: readonly FlowFilter[]): FlowMatcher {
  checkFilterValues(allow, deny);
  return flowMatcherOf(allow.map(listedFlowFilter), deny.map(listedFlowFilter));
}

/**
 * compileFlowFilters for a server: a long list compiles a few ms at a time, between which the event loop takes the
 * capture and other clients. Rejects with FilterError.
 */
export async function compileFlowFiltersInTurns(
  allow: readonly FlowFilter[],
  deny: readonly FlowFilter[],
): Promise<FlowMatcher> {
  checkFilterValues(allow, deny);
  let turnStart = performance.now();
  const compile = async (list: readonly FlowFilter[]): Promise<ListedFilter<Flow>[]> => {
    const out: ListedFilter<Flow>[] = [];
    for (const ff of list) {
      if (performance.now() - turnStart > COMPILE_TURN_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        turnStart = performance.now();
      }
      out.push(listedFlowFilter(ff));
    }
    return out;
  };
  return flowMatcherOf(await compile(allow), await compile(deny));
}

function checkFilterValues(allow: readonly FlowFilter[], deny: readonly FlowFilter[]): void {
  let named = 0;
  for (const list of [allow, deny]) for (const ff of list) named += 1 + valuesIn(ff);
  if (named > MAX_FILTER_VALUES) {
    throw new FilterError(
      'whitelist and blacklist',
      undefined,
      `name ${named} FlowFilters and values together, more than the ${MAX_FILTER_VALUES} one request may name`,
    );
  }
  let patternCharacters = 0;
  for (const list of [allow, deny]) {
    for (const ff of list) {
      for (const [field, key] of PATTERN_FIELDS) {
        for (const pattern of ff[key] ?? []) {
          if (pattern.length > MAX_PATTERN_LENGTH) {
            throw new FilterError(
              field,
              pattern,
              `is longer than the ${MAX_PATTERN_LENGTH} characters a pattern may be`,
            );
          }
          patternCharacters += pattern.length;
        }
      }
    }
  }
  if (patternCharacters > MAX_PATTERN_CHARACTERS) {
    throw new FilterError(
      'whitelist and blacklist',
      undefined,
      `hold regular expressions and name patterns of ${patternCharacters} characters together, more than the ` +
        `${MAX_PATTERN_CHARACTERS} one request may hold`,
    );
  }
}

/** A request's CEL expressions together may take MAX_CEL_STEPS on a flow: each flow meets all of them. */
function checkCelSteps<E>(allow: readonly ListedFilter<E>[], deny: readonly ListedFilter<E>[]): void {
  let steps = 0;
  for (const list of [allow, deny]) for (const f of list) for (const field of f.fields) steps += field.steps ?? 0;
  if (steps > MAX_CEL_STEPS) {
    throw new FilterError(
      'experimental.cel_expression',
      undefined,
      `the request's expressions could take ${steps} evaluation steps per flow together, over ${MAX_CEL_STEPS} ` +
        '(about 150 for each FlowFilter holding some, 40 for each expression and one per operation in it); use fewer ' +
        'or simpler ones',
    );
  }
}

/** The values in a message's repeated fields, nested messages included. */
function valuesIn(message: object): number {
  let n = 0;
  for (const v of Object.values(message)) {
    if (Array.isArray(v)) n += v.length;
    else if (typeof v === 'object' && v !== null) n += valuesIn(v as object);
  }
  return n;
}

function listedFlowFilter(ff: FlowFilter): ListedFilter<Flow> {
  const fields = compileFlowFilter(ff);
  return { fields, matches: allOf(fields.map((f) => f.matchFlow)) };
}

function flowMatcherOf(allow: readonly ListedFilter<Flow>[], deny: readonly ListedFilter<Flow>[]): FlowMatcher {
  const { check, tests } = allowDenyCheck(allow, deny, flowItself);
  return Object.assign(check, { tests });
}

/** The allow and deny lists of a request as one check (and its tests per event), for flows or for any event. */
function allowDenyCheck<E>(
  allow: readonly ListedFilter<E>[],
  deny: readonly ListedFilter<E>[],
  flowOf: (event: E) => Flow | undefined,
): { check: (event: E) => boolean; tests: number } {
  checkCelSteps(allow, deny);
  const allowed = anyOfList(allow, flowOf);
  const denied = anyOfList(deny, flowOf);
  const anyAllowed = allow.length === 0 ? () => true : allowed.anyMatches;
  const anyDenied = denied.anyMatches;
  const check = deny.length === 0 ? anyAllowed : (event: E) => anyAllowed(event) && !anyDenied(event);
  return { check, tests: allowed.tests + denied.tests };
}

const flowItself = (flow: Flow): Flow => flow;

export type EventPredicate = (event: FilterableEvent) => boolean;

function eventFilter(ff: FlowFilter): ListedFilter<FilterableEvent> {
  const fields = compileFlowFilter(ff);
  const onFlow = allOf(fields.map((f) => f.matchFlow));
  const onOther = fields.map((f) => f.matchOtherEvent ?? (() => false));
  return {
    fields,
    matches: (event) => {
      if (event.kind === 'flow') return onFlow(event.flow);
      for (const m of onOther) if (!m(event as NonFlowEvent)) return false;
      return true;
    },
  };
}

const flowOfEvent = (event: FilterableEvent): Flow | undefined => (event.kind === 'flow' ? event.flow : undefined);

/**
 * The same filters over any event, as upstream applies them to its ring: agent, debug and lost
 * events meet them too (event_type selects them, most other fields never do). Upstream's
 * GetAgentEvents and GetDebugEvents select their events with exactly this, an event_type filter of
 * type 130 (agent) or 2 (debug), which also lets lost events through. Throws FilterError.
 */
export function compileEventFilters(allow: readonly FlowFilter[], deny: readonly FlowFilter[]): EventPredicate {
  checkFilterValues(allow, deny);
  return allowDenyCheck(allow.map(eventFilter), deny.map(eventFilter), flowOfEvent).check;
}

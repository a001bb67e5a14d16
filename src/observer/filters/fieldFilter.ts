// What every filter kind compiles a FlowFilter field into, and the events filters are asked about.
import type { AgentEvent, DebugEvent, Flow, FlowFilter } from '../../api/flow/flow.js';
import type { Prefix } from '../../packet/ipAddress.js';
import { FilterError } from './filterError.js';

/**
 * The events a filter can be asked about, as Hubble's v1.Event: a flow, or an agent, debug or lost
 * event that carries no flow. The Observer's DecodedEvent fits this shape as it is.
 */
export type FilterableEvent =
  | { readonly kind: 'flow'; readonly flow: Flow }
  | { readonly kind: 'agent'; readonly agentEvent: AgentEvent }
  | { readonly kind: 'debug'; readonly debugEvent: DebugEvent }
  | { readonly kind: 'lost' };

export type NonFlowEvent = Exclude<FilterableEvent, { kind: 'flow' }>;

export type FlowPredicate = (flow: Flow) => boolean;

/** Evaluation order inside one FlowFilter: AND is order-free, so cheap checks go first. */
export enum Cost {
  /** A field read and a set lookup. */
  Cheap = 0,
  /** String scanning: prefixes, label selectors, address parsing. */
  Scan = 1,
  /** Regular expressions and URL parsing. */
  Regexp = 2,
  /** CEL: re-encodes the flow for every evaluation. */
  Cel = 3,
}

/**
 * The values a field filter passes, where a lookup can find them: a flow's key (undefined when it has none) and the
 * keys the filter passes, by equality or, for addresses, also by prefix. A list of many FlowFilters is indexed by
 * these (filterIndex.ts), so a flow meets only the filters that may pass it (fields that also pass events without
 * a flow, through matchOtherEvent, are never indexed).
 */
export type FieldKeys =
  | {
      readonly kind: 'equal';
      readonly of: (flow: Flow) => number | undefined;
      readonly values: ReadonlySet<number>;
    }
  | {
      readonly kind: 'address';
      /** The address as the flow writes it. */
      readonly of: (flow: Flow) => string | undefined;
      /** Addresses compared as written. */
      readonly exact: ReadonlySet<string>;
      readonly prefixes: readonly Prefix[];
    };

/** One set FlowFilter field, compiled. */
export interface FieldFilter {
  /** The proto field name, e.g. "source_ip". */
  readonly field: string;
  readonly matchFlow: FlowPredicate;
  /** What the field passes as keys, when it can be indexed; matchFlow holds exactly for flows with one of them. */
  readonly keys?: FieldKeys;
  /** The most CEL evaluation steps matchFlow may take on one flow (CEL expressions only); a request's are bounded. */
  readonly steps?: number;
  /**
   * What the filter says about an event without a flow. Upstream runs every filter on every
   * event and most of them find nothing to match there, so absent means false.
   */
  readonly matchOtherEvent?: (event: NonFlowEvent) => boolean;
  readonly cost: Cost;
}

/** A filter kind: reads the FlowFilter fields it owns and compiles the set ones (throws FilterError). */
export type FilterKind = (ff: FlowFilter) => FieldFilter[];

/**
 * Checks that `value` is a member of a ts-proto numeric enum. Upstream accepts any number and the
 * filter then never matches; we refuse it, since a value no flow can carry is a mistake worth reporting.
 */
export function checkEnumValue(
  enumObject: Record<string | number, string | number>,
  enumName: string,
  field: string,
  value: number,
): void {
  if (!Number.isInteger(value) || value < 0 || typeof enumObject[value] !== 'string') {
    throw new FilterError(field, value, `is not a known ${enumName} value`);
  }
}

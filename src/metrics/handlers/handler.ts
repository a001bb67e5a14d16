// What every metric handler is: named as Hubble names it, the vectors it registers, and the per-flow count. Each
// handler file turns Hubble's handler of the same name into ours; index.ts builds the enabled ones from --metrics.
import type { Flow } from '../../api/flow/flow.js';
import { CONTEXT_OPTION_KEYS, FlowContext, parseContextOptions } from '../context.js';
import type { BoundedCounterVec, BoundedHistogramVec, LabelSetLimit } from '../labelSets.js';
import { MetricsOptionError, type HandlerName } from '../options.js';

export interface MetricHandler {
  readonly name: HandlerName;
  readonly vectors: readonly (BoundedCounterVec | BoundedHistogramVec)[];
  /** Counts one decoded flow; never throws, never keeps the flow. */
  processFlow(flow: Flow): void;
}

/** What a handler is built from: its options (checked by the handler) and the label-set limit of its vectors. */
export interface HandlerInit {
  options: ReadonlyMap<string, string>;
  limit: LabelSetLimit;
}

/** Hubble's Prometheus namespace for flow metrics. */
export const NAMESPACE = 'hubble';

/** The context option keys as Hubble's documentation writes them. */
const CONTEXT_OPTION_NAMES = [
  'sourceContext',
  'destinationContext',
  'sourceEgressContext',
  'sourceIngressContext',
  'destinationEgressContext',
  'destinationIngressContext',
  'labelsContext',
];

/**
 * Checks a handler's options against the context options and its own (`own`; keys match case-insensitively, as in
 * Hubble), and compiles its context labels. Unknown keys are refused rather than ignored as Hubble does: a typo would
 * otherwise silently drop a label.
 */
export function handlerContext(
  handler: HandlerName,
  options: ReadonlyMap<string, string>,
  own: readonly string[] = [],
  invert = false,
): FlowContext {
  const known: readonly string[] = [...CONTEXT_OPTION_KEYS, ...own.map((o) => o.toLowerCase())];
  for (const key of options.keys()) {
    if (!known.includes(key.toLowerCase())) {
      throw new MetricsOptionError(
        `${handler}: unknown option "${key}" (expected ${[...CONTEXT_OPTION_NAMES, ...own].join(', ')})`,
      );
    }
  }
  return new FlowContext(parseContextOptions(handler, options), invert);
}

/** The value of a flag option ("query", "query=true"); MetricsOptionError for anything else. */
export function flagOption(handler: HandlerName, options: ReadonlyMap<string, string>, name: string): boolean {
  for (const [key, value] of options) {
    if (key.toLowerCase() !== name.toLowerCase()) continue;
    if (value === '' || value === 'true') return true;
    if (value === 'false') return false;
    throw new MetricsOptionError(`${handler}: ${key} takes no value (or true/false), got "${value}"`);
  }
  return false;
}

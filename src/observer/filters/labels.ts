// source_label / destination_label / node_labels: flows whose endpoint (or observing node) labels
// are selected by one of these label selectors ("k8s:app=web", "reserved:world", "env in (a,b)").
import type { Flow, FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';
import { FilterError } from './filterError.js';
import { LabelSelector } from './labelSelector.js';

const NO_LABELS: readonly string[] = [];

function labelFilter(
  field: string,
  selectors: readonly string[],
  labels: (flow: Flow) => readonly string[] | undefined,
): FieldFilter {
  const compiled = selectors.map((s) => {
    try {
      return LabelSelector.parse(s);
    } catch (err) {
      throw new FilterError(field, s, `is not a valid label selector: ${(err as Error).message}`);
    }
  });
  const selectsNoLabels = compiled.some((s) => s.matches(NO_LABELS));
  return {
    field,
    cost: Cost.Scan,
    matchFlow: (flow) => {
      const l = labels(flow) ?? NO_LABELS;
      for (const s of compiled) if (s.matches(l)) return true;
      return false;
    },
    // Upstream evaluates the selectors on the empty label set of an event without a flow.
    matchOtherEvent: () => selectsNoLabels,
  };
}

export function labelFilters(ff: FlowFilter): FieldFilter[] {
  const out: FieldFilter[] = [];
  if (ff.sourceLabel.length > 0) out.push(labelFilter('source_label', ff.sourceLabel, (f) => f.source?.labels));
  if (ff.destinationLabel.length > 0)
    out.push(labelFilter('destination_label', ff.destinationLabel, (f) => f.destination?.labels));
  if (ff.nodeLabels.length > 0) out.push(labelFilter('node_labels', ff.nodeLabels, (f) => f.nodeLabels));
  return out;
}

// source_pod / destination_pod / source_service / destination_service: "[namespace/][name-prefix]".
// A bare name means namespace "default"; "ns/" is every pod (service) in ns; an empty namespace
// ("/prefix", "/") is any namespace, which is what `hubble observe --all-namespaces` sends.
import type { Flow, FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';
import { FilterError } from './filterError.js';

interface NamespacedName {
  namespace: string;
  prefix: string;
}

/** Hubble's k8s.ParseNamespaceName: "ns/name" (anything after a second slash is ignored), "name" in "default". */
function parseNamespaceName(value: string): NamespacedName {
  const parts = value.split('/');
  if (parts.length > 1) return { namespace: parts[0]!, prefix: parts[1]! };
  return { namespace: 'default', prefix: parts[0]! };
}

type Getter = (flow: Flow) => string | undefined;

function namespacedNameFilter(
  field: string,
  values: readonly string[],
  namespaceOf: Getter,
  nameOf: Getter,
): FieldFilter {
  const wanted = values.map((v) => {
    if (v === '') throw new FilterError(field, v, 'is not a valid filter: it must be [namespace/][<name>]');
    return parseNamespaceName(v);
  });
  return {
    field,
    cost: Cost.Scan,
    matchFlow: (flow) => {
      const namespace = namespaceOf(flow) ?? '';
      const name = nameOf(flow) ?? '';
      if (namespace === '' && name === '') return false;
      for (const w of wanted) {
        if ((w.namespace === '' || w.namespace === namespace) && name.startsWith(w.prefix)) return true;
      }
      return false;
    },
  };
}

export function podFilters(ff: FlowFilter): FieldFilter[] {
  const out: FieldFilter[] = [];
  if (ff.sourcePod.length > 0) {
    out.push(
      namespacedNameFilter(
        'source_pod',
        ff.sourcePod,
        (f) => f.source?.namespace,
        (f) => f.source?.podName,
      ),
    );
  }
  if (ff.destinationPod.length > 0) {
    out.push(
      namespacedNameFilter(
        'destination_pod',
        ff.destinationPod,
        (f) => f.destination?.namespace,
        (f) => f.destination?.podName,
      ),
    );
  }
  return out;
}

export function serviceFilters(ff: FlowFilter): FieldFilter[] {
  const out: FieldFilter[] = [];
  if (ff.sourceService.length > 0) {
    out.push(
      namespacedNameFilter(
        'source_service',
        ff.sourceService,
        (f) => f.sourceService?.namespace,
        (f) => f.sourceService?.name,
      ),
    );
  }
  if (ff.destinationService.length > 0) {
    const ns: Getter = (f) => f.destinationService?.namespace;
    out.push(namespacedNameFilter('destination_service', ff.destinationService, ns, (f) => f.destinationService?.name));
  }
  return out;
}

// Hubble's context options: the labels a metric handler adds about who talked to whom. sourceContext and
// destinationContext (overridden by their Egress/Ingress variants for flows of that direction) add one label each,
// "source" and "destination", filled by the first identifier of a "|" list that gives a non-empty value;
// labelsContext adds a fixed list of labels (source_namespace, destination_pod, traffic_direction, ...).
//
// Options are compiled once into getter tables; per flow, a handler asks fill() to write the values into its own
// reusable array. Values that must be built (a pod's "namespace/name", identity labels joined with ",") are cached
// per shared object: the parser hands out the same frozen Endpoint and label arrays for the same endpoint.
import { TrafficDirection, type Endpoint, type Flow } from '../api/flow/flow.js';
import { MetricsOptionError } from './options.js';

/** Identifiers sourceContext and destinationContext accept, as Hubble names them. */
export const CONTEXT_IDENTIFIERS = [
  'identity',
  'namespace',
  'pod',
  'pod-short',
  'pod-name',
  'dns',
  'ip',
  'reserved-identity',
  'workload',
  'workload-name',
  'app',
] as const;
export type ContextIdentifier = (typeof CONTEXT_IDENTIFIERS)[number];

/** Labels labelsContext accepts, in the order they appear on a metric (Hubble's order). */
export const CONTEXT_LABELS = [
  'source_ip',
  'source_pod',
  'source_namespace',
  'source_workload',
  'source_workload_kind',
  'source_app',
  'destination_ip',
  'destination_pod',
  'destination_namespace',
  'destination_workload',
  'destination_workload_kind',
  'destination_app',
  'traffic_direction',
] as const;
export type ContextLabel = (typeof CONTEXT_LABELS)[number];

/** The option keys this module reads, lower-cased (Hubble matches them case-insensitively). */
export const CONTEXT_OPTION_KEYS = [
  'sourcecontext',
  'sourceegresscontext',
  'sourceingresscontext',
  'destinationcontext',
  'destinationegresscontext',
  'destinationingresscontext',
  'labelscontext',
] as const;

type Side = 'source' | 'destination';
type Getter = (flow: Flow) => string;

const NO_ENDPOINT: Endpoint = Object.freeze({
  ID: 0,
  identity: 0,
  clusterName: '',
  namespace: '',
  labels: [],
  podName: '',
  workloads: [],
});

function endpointOf(flow: Flow, side: Side): Endpoint {
  return (side === 'source' ? flow.source : flow.destination) ?? NO_ENDPOINT;
}

/** Caches a string derived from a shared object; objects the parser builds per flow simply miss. */
function cachedBy<K extends object>(derive: (key: K) => string): (key: K) => string {
  const cache = new WeakMap<K, string>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = derive(key);
      cache.set(key, value);
    }
    return value;
  };
}

/** Names joined with "," (identity labels, DNS names); single names and empty lists without building anything. */
const joinNames = cachedBy((names: readonly string[]) => names.join(','));
function joined(names: readonly string[] | undefined): string {
  if (names === undefined || names.length === 0) return '';
  if (names.length === 1) return names[0]!;
  return joinNames(names);
}

const SHORT_POD = /^(.+?)(-[a-z0-9]+){1,2}$/;
const KUBE_APISERVER = 'reserved:kube-apiserver';
/** Labels an app's name is read from, in Hubble's order of preference. */
const APP_LABELS = ['k8s:app.kubernetes.io/name=', 'k8s:k8s-app=', 'k8s:app='];

/** "namespace/pod" as Hubble writes it: the pod name alone outside a namespace ("namespace/" for a namespace only). */
const podOf = cachedBy((e: Endpoint) => (e.namespace !== '' ? `${e.namespace}/${e.podName}` : e.podName));
const podShortOf = cachedBy((e: Endpoint) => {
  const short = e.podName.replace(SHORT_POD, '$1');
  return e.namespace !== '' ? `${e.namespace}/${short}` : short;
});
/** "namespace/workload"; empty when the endpoint has no workload, so a "|" fallback gets its turn. */
const workloadOf = cachedBy((e: Endpoint) => {
  const name = e.workloads[0]?.name ?? '';
  return name !== '' && e.namespace !== '' ? `${e.namespace}/${name}` : name;
});
const appOf = cachedBy((labels: readonly string[]) => {
  for (const label of labels) {
    for (const prefix of APP_LABELS) {
      if (label.startsWith(prefix) && label.length > prefix.length) return label.slice(prefix.length);
    }
  }
  return '';
});
const reservedIdentityOf = cachedBy((labels: readonly string[]) => {
  // reserved:kube-apiserver comes with reserved:host, remote-node or world; Hubble names the API server.
  if (labels.includes(KUBE_APISERVER)) return KUBE_APISERVER;
  return labels.find((l) => l.startsWith('reserved:')) ?? '';
});

function identifierGetter(id: ContextIdentifier, side: Side): Getter {
  switch (id) {
    case 'identity':
      return (f) => joined(endpointOf(f, side).labels);
    case 'namespace':
      return (f) => endpointOf(f, side).namespace;
    case 'pod':
      return (f) => podOf(endpointOf(f, side));
    case 'pod-short':
      return (f) => podShortOf(endpointOf(f, side));
    case 'pod-name':
      return (f) => endpointOf(f, side).podName;
    case 'dns':
      return side === 'source' ? (f) => joined(f.sourceNames) : (f) => joined(f.destinationNames);
    case 'ip':
      return side === 'source' ? (f) => f.IP?.source ?? '' : (f) => f.IP?.destination ?? '';
    case 'reserved-identity':
      return (f) => reservedIdentityOf(endpointOf(f, side).labels);
    case 'workload':
      return (f) => workloadOf(endpointOf(f, side));
    case 'workload-name':
      return (f) => endpointOf(f, side).workloads[0]?.name ?? '';
    case 'app':
      return (f) => appOf(endpointOf(f, side).labels);
  }
}

function labelGetter(label: ContextLabel, invert: boolean): Getter {
  const flip = (side: Side): Side => (invert ? (side === 'source' ? 'destination' : 'source') : side);
  switch (label) {
    case 'source_ip':
    case 'destination_ip': {
      const side = flip(label === 'source_ip' ? 'source' : 'destination');
      return side === 'source' ? (f) => f.IP?.source ?? '' : (f) => f.IP?.destination ?? '';
    }
    case 'source_pod':
    case 'destination_pod': {
      const side = flip(label === 'source_pod' ? 'source' : 'destination');
      return (f) => endpointOf(f, side).podName;
    }
    case 'source_namespace':
    case 'destination_namespace': {
      const side = flip(label === 'source_namespace' ? 'source' : 'destination');
      return (f) => endpointOf(f, side).namespace;
    }
    case 'source_workload':
    case 'destination_workload': {
      const side = flip(label === 'source_workload' ? 'source' : 'destination');
      return (f) => endpointOf(f, side).workloads[0]?.name ?? '';
    }
    case 'source_workload_kind':
    case 'destination_workload_kind': {
      const side = flip(label === 'source_workload_kind' ? 'source' : 'destination');
      return (f) => endpointOf(f, side).workloads[0]?.kind ?? '';
    }
    case 'source_app':
    case 'destination_app': {
      const side = flip(label === 'source_app' ? 'source' : 'destination');
      return (f) => appOf(endpointOf(f, side).labels);
    }
    case 'traffic_direction':
      return (f) =>
        f.trafficDirection === TrafficDirection.INGRESS
          ? 'ingress'
          : f.trafficDirection === TrafficDirection.EGRESS
            ? 'egress'
            : 'unknown';
  }
}

/** The first non-empty value of a "|" list of getters, "" when all are empty. */
function firstNonEmpty(getters: readonly Getter[], flow: Flow): string {
  for (let i = 0; i < getters.length; i++) {
    const value = getters[i]!(flow);
    if (value !== '') return value;
  }
  return '';
}

/**
 * One side's identifier lists: for both directions (sourceContext / destinationContext: only with it does the handler
 * get the side's label), and the egress/ingress overrides.
 */
interface SideContext {
  any: readonly ContextIdentifier[] | undefined;
  egress: readonly ContextIdentifier[] | undefined;
  ingress: readonly ContextIdentifier[] | undefined;
}

/** What a handler's options say about context labels, before compiling. */
export interface ContextOptions {
  source: SideContext | undefined;
  destination: SideContext | undefined;
  labels: readonly ContextLabel[];
}

function parseIdentifiers(handler: string, key: string, value: string): ContextIdentifier[] {
  const ids: ContextIdentifier[] = [];
  for (const part of value.split('|')) {
    const id = part.toLowerCase() as ContextIdentifier;
    if (!CONTEXT_IDENTIFIERS.includes(id)) {
      throw new MetricsOptionError(
        `${handler}: ${key}: unknown context "${part}" (expected ${CONTEXT_IDENTIFIERS.join(', ')}, several separated by "|")`,
      );
    }
    ids.push(id);
  }
  return ids;
}

function parseLabels(handler: string, key: string, value: string): ContextLabel[] {
  const wanted = new Set<string>();
  for (const part of value.split(',')) {
    if (!(CONTEXT_LABELS as readonly string[]).includes(part)) {
      throw new MetricsOptionError(
        `${handler}: ${key}: unknown label "${part}" (expected ${CONTEXT_LABELS.join(', ')}, separated by ",")`,
      );
    }
    wanted.add(part);
  }
  return CONTEXT_LABELS.filter((l) => wanted.has(l));
}

/** Reads the context options among a handler's options (keys matched case-insensitively, as Hubble does). */
export function parseContextOptions(handler: string, options: ReadonlyMap<string, string>): ContextOptions {
  const lists = new Map<string, ContextIdentifier[]>();
  let labels: ContextLabel[] = [];
  for (const [key, value] of options) {
    const k = key.toLowerCase();
    if (!(CONTEXT_OPTION_KEYS as readonly string[]).includes(k)) continue;
    if (value === '') throw new MetricsOptionError(`${handler}: ${key} needs a value (e.g. ${key}=namespace)`);
    if (k === 'labelscontext') labels = parseLabels(handler, key, value);
    else lists.set(k, parseIdentifiers(handler, key, value));
  }
  const side = (name: Side): SideContext | undefined => {
    const any = lists.get(`${name}context`);
    const egress = lists.get(`${name}egresscontext`);
    const ingress = lists.get(`${name}ingresscontext`);
    // Hubble adds the side's label only for sourceContext / destinationContext (its GetLabelNames looks at Source and
    // Destination only); the variants override it, and alone still give the other side's label its value where a
    // handler inverts the sides (httpV2).
    if (any === undefined && egress === undefined && ingress === undefined) return undefined;
    return { any, egress, ingress };
  };
  return { source: side('source'), destination: side('destination'), labels };
}

/** A side's compiled getters: by direction, falling back to the both-directions list. */
class CompiledSide {
  private readonly any: readonly Getter[];
  private readonly egress: readonly Getter[];
  private readonly ingress: readonly Getter[];

  constructor(context: SideContext, side: Side) {
    const compile = (ids: readonly ContextIdentifier[]) => ids.map((id) => identifierGetter(id, side));
    this.any = compile(context.any ?? []);
    this.egress = context.egress !== undefined ? compile(context.egress) : this.any;
    this.ingress = context.ingress !== undefined ? compile(context.ingress) : this.any;
  }

  value(flow: Flow): string {
    const direction = flow.trafficDirection;
    const getters =
      direction === TrafficDirection.EGRESS
        ? this.egress
        : direction === TrafficDirection.INGRESS
          ? this.ingress
          : this.any;
    return firstNonEmpty(getters, flow);
  }
}

/**
 * A handler's context labels, compiled: `labelNames` to append to the handler's own, `fill` to write their values.
 * With `invert` (metrics read from response flows, as httpV2's: the request's source is the response's destination),
 * labelsContext's labels describe the other endpoint, and the `source` and `destination` labels trade values as
 * Hubble's do: each side's identifiers are read on their own side of the flow (sourceContext on its source), then the
 * two values are swapped; so `source` holds what destinationContext reads on the response's destination ("" without
 * one).
 */
export class FlowContext {
  readonly labelNames: readonly string[];
  private readonly labelGetters: readonly Getter[];
  /** The side whose value the `source` label takes (undefined: no such label, or "" there). */
  private readonly sourceLabelFrom: CompiledSide | undefined;
  private readonly destinationLabelFrom: CompiledSide | undefined;
  private readonly sourceLabelled: boolean;
  private readonly destinationLabelled: boolean;

  constructor(options: ContextOptions, invert = false) {
    this.labelGetters = options.labels.map((l) => labelGetter(l, invert));
    const source = options.source && new CompiledSide(options.source, 'source');
    const destination = options.destination && new CompiledSide(options.destination, 'destination');
    this.sourceLabelled = options.source?.any !== undefined;
    this.destinationLabelled = options.destination?.any !== undefined;
    this.sourceLabelFrom = invert ? destination : source;
    this.destinationLabelFrom = invert ? source : destination;
    const names: string[] = [...options.labels];
    if (this.sourceLabelled) names.push('source');
    if (this.destinationLabelled) names.push('destination');
    this.labelNames = names;
  }

  /** Writes this context's values for `flow` into out[at...]; returns the index after them. */
  fill(flow: Flow, out: string[], at: number): number {
    let i = at;
    const getters = this.labelGetters;
    for (let g = 0; g < getters.length; g++) out[i++] = getters[g]!(flow);
    if (this.sourceLabelled) out[i++] = this.sourceLabelFrom?.value(flow) ?? '';
    if (this.destinationLabelled) out[i++] = this.destinationLabelFrom?.value(flow) ?? '';
    return i;
  }
}

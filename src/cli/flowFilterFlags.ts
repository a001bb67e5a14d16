// `hubble observe` filter flags turned into allow/deny FlowFilter lists the way hubble's
// flows_filter.go does it: values of one flag are ORed, different flags are ANDed, a
// bidirectional flag (--ip, --pod, --port, ...) splits the filter into a source-side and a
// destination-side copy, and `--not` sends the one flag after it to the denylist.
import {
  FlowFilter,
  IPVersion,
  TrafficDirection,
  Verdict,
  DropReason,
  type EventTypeFilter,
  type TCPFlags,
  type Workload,
} from '../api/flow/flow.js';
import { CliError } from './client.js';
import {
  AGENT_EVENT_SUBTYPES,
  MESSAGE_TYPES,
  MESSAGE_TYPE_AGENT,
  MESSAGE_TYPE_TRACE,
  RESERVED_IDENTITIES,
  TRACE_OBSERVATION_POINTS,
} from './monitorNames.js';

export interface FilterFlagSpec {
  name: string;
  short?: string;
  /** Flags like --ipv4 and --all-namespaces take no value. */
  boolean?: true;
  description: string;
}

/** Every filter flag, in the order `--help` lists them. */
export const FILTER_FLAGS: readonly FilterFlagSpec[] = [
  {
    name: 'not',
    boolean: true,
    description: 'reverses the next filter to be a denylist one, e.g. --not --from-ip 2.2.2.2',
  },
  { name: 'uuid', description: 'show only the flow with this unique identifier, if any' },
  {
    name: 'node-name',
    description: 'show flows observed on nodes matching these names (e.g. "k8s*", "test-cluster/*.company.com")',
  },
  { name: 'node-label', description: 'show flows observed on nodes matching this label filter (e.g. "key1=value1")' },
  { name: 'from-cluster', description: 'show flows from endpoints in this cluster' },
  { name: 'cluster', description: 'show flows from or to endpoints in these clusters (e.g. "test-cluster", "prod-*")' },
  { name: 'to-cluster', description: 'show flows to endpoints in this cluster' },
  { name: 'protocol', description: 'show flows of this L4/L7 protocol (e.g. "udp", "http")' },
  { name: 'tcp-flags', description: 'show flows with these TCP flags, comma-separated (e.g. "syn", "ack,fin")' },
  {
    name: 'type',
    short: 't',
    description:
      'filter by event type TYPE[:SUBTYPE]: trace[:to-stack|from-network|...], drop, l7, policy-verdict, capture, trace-sock',
  },
  {
    name: 'verdict',
    description: 'show flows with this verdict [FORWARDED, DROPPED, AUDIT, REDIRECTED, ERROR, TRACED, TRANSLATED]',
  },
  {
    name: 'drop-reason-desc',
    description: 'show flows with this drop reason (e.g. "POLICY_DENIED", "UNSUPPORTED_L3_PROTOCOL")',
  },
  { name: 'http-status', description: 'show flows with this HTTP status code prefix (e.g. "404", "5+")' },
  { name: 'http-method', description: 'show flows with this HTTP method (e.g. "get", "post")' },
  { name: 'http-path', description: 'show flows whose HTTP path matches this regular expression (e.g. "/page/\\d+")' },
  { name: 'http-url', description: 'show flows whose HTTP URL matches this regular expression' },
  { name: 'http-header', description: 'show flows with this HTTP header key:value pair (e.g. "foo:bar")' },
  { name: 'trace-id', description: 'show flows with this trace ID' },
  { name: 'ip-trace-id', description: 'show flows with this IP trace ID' },
  { name: 'from-fqdn', description: 'show flows originating at this fully qualified domain name (e.g. "*.cilium.io")' },
  { name: 'fqdn', description: 'show flows from or to this fully qualified domain name' },
  { name: 'to-fqdn', description: 'show flows terminating at this fully qualified domain name' },
  { name: 'from-ip', description: 'show flows originating at this IP address or CIDR' },
  { name: 'snat-ip', description: 'show flows SNATed to this IP address or CIDR' },
  { name: 'ip', description: 'show flows originating or terminating at this IP address or CIDR' },
  { name: 'to-ip', description: 'show flows terminating at this IP address or CIDR' },
  { name: 'ipv4', short: '4', boolean: true, description: 'show only IPv4 flows' },
  { name: 'ipv6', short: '6', boolean: true, description: 'show only IPv6 flows' },
  { name: 'ip-version', description: 'show only IPv4, IPv6 or non-IP flows ("v4", "v6", "none")' },
  { name: 'from-pod', description: 'show flows originating in this pod name prefix ([namespace/]<pod-name>)' },
  { name: 'pod', description: 'show flows from or to this pod name prefix ([namespace/]<pod-name>)' },
  { name: 'to-pod', description: 'show flows terminating in this pod name prefix ([namespace/]<pod-name>)' },
  { name: 'from-namespace', description: 'show flows originating in this Kubernetes namespace' },
  { name: 'namespace', short: 'n', description: 'show flows from or to this Kubernetes namespace' },
  { name: 'to-namespace', description: 'show flows terminating in this Kubernetes namespace' },
  { name: 'from-all-namespaces', boolean: true, description: 'show flows originating in any Kubernetes namespace' },
  { name: 'all-namespaces', short: 'A', boolean: true, description: 'show flows in any Kubernetes namespace' },
  { name: 'to-all-namespaces', boolean: true, description: 'show flows terminating in any Kubernetes namespace' },
  {
    name: 'from-label',
    description: 'show flows originating at an endpoint with this label (e.g. "key1=value1", "reserved:world")',
  },
  { name: 'label', short: 'l', description: 'show flows from or to an endpoint with this label' },
  { name: 'to-label', description: 'show flows terminating at an endpoint with this label' },
  { name: 'from-service', description: 'show flows whose source is this service name prefix ([namespace/]<svc-name>)' },
  { name: 'service', description: 'show flows whose source or destination is this service name prefix' },
  { name: 'to-service', description: 'show flows whose destination is this service name prefix' },
  { name: 'from-port', description: 'show flows with this source port (e.g. 8080)' },
  { name: 'port', description: 'show flows with this port as source or destination' },
  { name: 'to-port', description: 'show flows with this destination port' },
  { name: 'from-workload', description: 'show flows originating at an endpoint of this workload ([kind/]name)' },
  { name: 'workload', description: 'show flows from or to an endpoint of this workload' },
  { name: 'to-workload', description: 'show flows terminating at an endpoint of this workload' },
  {
    name: 'from-identity',
    description: 'show flows originating at an endpoint with this security identity (number or reserved name)',
  },
  { name: 'identity', description: 'show flows from or to an endpoint with this security identity' },
  { name: 'to-identity', description: 'show flows terminating at an endpoint with this security identity' },
  { name: 'traffic-direction', description: 'show flows in this traffic direction (ingress or egress)' },
  { name: 'cel-expression', description: 'filter flows with this CEL expression' },
  { name: 'interface', description: 'show flows observed at this network interface (e.g. eth0)' },
  { name: 'encrypted', boolean: true, description: 'show only encrypted flows' },
  { name: 'unencrypted', boolean: true, description: 'show only unencrypted flows' },
];

/** Flags that may not be combined within one list (hubble's conflict groups). */
const CONFLICT_GROUPS: readonly (readonly string[])[] = [
  ['from-fqdn', 'from-ip', 'ip', 'fqdn', 'from-namespace', 'namespace', 'from-all-namespaces', 'all-namespaces'],
  ['from-fqdn', 'from-ip', 'ip', 'fqdn', 'from-pod', 'pod'],
  ['to-fqdn', 'to-ip', 'ip', 'fqdn', 'to-namespace', 'namespace', 'to-all-namespaces', 'all-namespaces'],
  ['to-fqdn', 'to-ip', 'ip', 'fqdn', 'to-pod', 'pod'],
  ['to-pod', 'namespace', 'all-namespaces'],
  ['from-pod', 'namespace', 'all-namespaces'],
  ['to-service', 'namespace', 'all-namespaces'],
  ['from-service', 'namespace', 'all-namespaces'],
  ['label', 'from-label'],
  ['label', 'to-label'],
  ['service', 'from-service'],
  ['service', 'to-service'],
  ['port', 'to-port'],
  ['port', 'from-port'],
  ['identity', 'to-identity'],
  ['identity', 'from-identity'],
  ['workload', 'to-workload'],
  ['workload', 'from-workload'],
  ['encrypted', 'unencrypted'],
];

type Side = (f: FlowFilter) => void;

/** The namespace part of "ns/name", or "" when there is none. */
function namespaceOf(name: string): string {
  const slash = name.indexOf('/');
  return slash === -1 ? '' : name.slice(0, slash);
}

/** Prefixes names without a namespace with each given namespace ("" = any namespace). */
function withNamespaces(names: string[], namespaces: readonly string[]): string[] {
  if (namespaces.length === 0 || names.length === 0) return names;
  const out: string[] = [];
  for (const name of names) {
    if (name.includes('/')) out.push(name);
    else for (const ns of namespaces) out.push(`${ns}/${name}`);
  }
  return out;
}

function applySourceNamespaces(f: FlowFilter, namespaces: readonly string[]): void {
  if (f.sourcePod.length === 0 && f.sourceService.length === 0) f.sourcePod = [''];
  f.sourcePod = withNamespaces(f.sourcePod, namespaces);
  f.sourceService = withNamespaces(f.sourceService, namespaces);
}

function applyDestinationNamespaces(f: FlowFilter, namespaces: readonly string[]): void {
  if (f.destinationPod.length === 0 && f.destinationService.length === 0) f.destinationPod = [''];
  f.destinationPod = withNamespaces(f.destinationPod, namespaces);
  f.destinationService = withNamespaces(f.destinationService, namespaces);
}

function namespaceConflict(namespaces: readonly string[], names: readonly string[]): string | undefined {
  for (const ns of namespaces) {
    for (const name of names) {
      const nn = namespaceOf(name);
      if (nn !== '' && nn !== ns) return `namespace conflict: "${ns}" does not contain "${name}"`;
    }
  }
  return undefined;
}

function podServiceConflict(pods: readonly string[], services: readonly string[]): string | undefined {
  for (const pod of pods) {
    const podNs = namespaceOf(pod);
    if (podNs === '') continue;
    for (const svc of services) {
      if (namespaceOf(svc) !== podNs) return `namespace of service "${svc}" conflict with pod "${podNs}"`;
    }
  }
  return undefined;
}

function sameFilter(a: FlowFilter, b: FlowFilter): boolean {
  return Buffer.from(FlowFilter.encode(a).finish()).equals(Buffer.from(FlowFilter.encode(b).finish()));
}

/** One list (allow or deny) under construction: a source-side and a destination-side filter. */
class FilterList {
  private left?: FlowFilter;
  private right?: FlowFilter;
  private readonly namespaces: string[] = [];
  private readonly sourceNamespaces: string[] = [];
  private readonly destinationNamespaces: string[] = [];
  readonly changed: string[] = [];

  both(update: Side): void {
    this.sourceSide(update);
    this.destinationSide(update);
  }

  sourceSide(update: Side): void {
    this.left ??= FlowFilter.fromPartial({});
    update(this.left);
  }

  destinationSide(update: Side): void {
    this.right ??= FlowFilter.fromPartial({});
    update(this.right);
  }

  /** A source flag, its destination twin, or both sides for a bidirectional flag. */
  split(source: Side, destination: Side): void {
    this.sourceSide(source);
    this.destinationSide(destination);
  }

  addNamespace(which: 'any' | 'from' | 'to', ns: string): void {
    (which === 'any' ? this.namespaces : which === 'from' ? this.sourceNamespaces : this.destinationNamespaces).push(
      ns,
    );
  }

  checkNamespaces(): void {
    for (const f of [this.left, this.right]) {
      if (f === undefined) continue;
      const problem =
        namespaceConflict(this.namespaces, f.sourcePod) ??
        namespaceConflict(this.namespaces, f.sourceService) ??
        namespaceConflict(this.namespaces, f.destinationPod) ??
        namespaceConflict(this.namespaces, f.destinationService) ??
        namespaceConflict(this.sourceNamespaces, f.sourcePod) ??
        namespaceConflict(this.sourceNamespaces, f.sourceService) ??
        namespaceConflict(this.destinationNamespaces, f.destinationPod) ??
        namespaceConflict(this.destinationNamespaces, f.destinationService) ??
        podServiceConflict(f.sourcePod, f.sourceService) ??
        podServiceConflict(f.destinationPod, f.destinationService);
      if (problem !== undefined) throw new CliError(problem);
    }
  }

  /** The finished list: one filter when both sides came out equal, else the two of them. */
  filters(): FlowFilter[] {
    const noNamespaces =
      this.namespaces.length === 0 && this.sourceNamespaces.length === 0 && this.destinationNamespaces.length === 0;
    if (this.left === undefined && this.right === undefined && noNamespaces) return [];
    const left = this.left ?? FlowFilter.fromPartial({});
    const right = this.right ?? FlowFilter.fromPartial({});
    if (this.destinationNamespaces.length > 0) {
      applyDestinationNamespaces(left, this.destinationNamespaces);
      applyDestinationNamespaces(right, this.destinationNamespaces);
    }
    if (this.sourceNamespaces.length > 0) {
      applySourceNamespaces(left, this.sourceNamespaces);
      applySourceNamespaces(right, this.sourceNamespaces);
    }
    if (this.namespaces.length > 0) {
      applySourceNamespaces(left, this.namespaces);
      applyDestinationNamespaces(right, this.namespaces);
    }
    return sameFilter(left, right) ? [left] : [left, right];
  }
}

export function parseTcpFlags(value: string): TCPFlags {
  const flags: TCPFlags = {
    FIN: false,
    SYN: false,
    RST: false,
    PSH: false,
    ACK: false,
    URG: false,
    ECE: false,
    CWR: false,
    NS: false,
  };
  for (const part of value.split(',')) {
    const name = part.toUpperCase();
    if (!(name in flags)) throw new CliError(`unknown tcp flag: ${part}`);
    flags[name as keyof TCPFlags] = true;
  }
  return flags;
}

function parseIpVersion(value: string): IPVersion {
  switch (value.toLowerCase()) {
    case '4':
    case 'v4':
    case 'ipv4':
    case 'ip4':
      return IPVersion.IPv4;
    case '6':
    case 'v6':
    case 'ipv6':
    case 'ip6':
      return IPVersion.IPv6;
    default:
      return IPVersion.IP_NOT_USED;
  }
}

export function parseWorkload(value: string): Workload {
  if (value === '') return { kind: '', name: '' };
  const slash = value.indexOf('/');
  return slash === -1 ? { kind: '', name: value } : { kind: value.slice(0, slash), name: value.slice(slash + 1) };
}

const MAX_UINT32 = 0xffff_ffff;

function parseUint32(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_UINT32 ? n : undefined;
}

export function parseIdentity(value: string): number {
  const reserved = RESERVED_IDENTITIES[value];
  if (reserved !== undefined) return reserved;
  const n = parseUint32(value);
  if (n === undefined) {
    throw new CliError(
      `invalid security identity, expected one of [${Object.keys(RESERVED_IDENTITIES).join(' ')}] or a numeric value`,
    );
  }
  return n;
}

export function parseEventType(value: string): EventTypeFilter {
  const colon = value.indexOf(':');
  const typeText = colon === -1 ? value : value.slice(0, colon);
  const subText = colon === -1 ? undefined : value.slice(colon + 1);
  let type = MESSAGE_TYPES[typeText];
  if (type === undefined) {
    const n = parseUint32(typeText);
    if (n === undefined) {
      throw new CliError(
        `unable to parse type '${typeText}', not a known type name (${Object.keys(MESSAGE_TYPES).join(', ')}) and not a number`,
      );
    }
    type = n;
  }
  const filter: EventTypeFilter = { type, matchSubType: false, subType: 0 };
  if (subText === undefined) return filter;
  let subType: number | undefined;
  if (type === MESSAGE_TYPE_TRACE) {
    const i = TRACE_OBSERVATION_POINTS.indexOf(subText);
    if (i !== -1) subType = i;
  } else if (type === MESSAGE_TYPE_AGENT) {
    subType = AGENT_EVENT_SUBTYPES[subText];
  }
  subType ??= parseUint32(subText);
  if (subType === undefined) {
    throw new CliError(`unable to parse event sub-type '${subText}', not a known sub-type name and not a number`);
  }
  return { type, matchSubType: true, subType };
}

function enumValue<E extends Record<string, string | number>>(e: E, name: string, flag: string): number {
  const v = e[name];
  if (typeof v !== 'number' || v < 0) throw new CliError(`invalid --${flag} value: ${name}`);
  return v;
}

/** Collects filter flags in command-line order and builds the request's allow and deny lists. */
export class FlowFilterFlags {
  private allow?: FilterList;
  private deny?: FilterList;
  private negateNext = false;

  /** Applies one occurrence of filter flag `name` (without dashes); boolean flags pass no value. */
  set(name: string, value = ''): void {
    if (name === 'not') {
      if (this.negateNext) throw new CliError('consecutive --not statements');
      this.negateNext = true;
      return;
    }
    let list: FilterList;
    if (this.negateNext) {
      this.negateNext = false;
      list = this.deny ??= new FilterList();
    } else {
      list = this.allow ??= new FilterList();
    }
    if (!list.changed.includes(name)) list.changed.push(name);
    checkConflicts(list.changed);
    applyFlag(list, name, value);
    list.checkNamespaces();
  }

  /** The allowlist (whitelist) and denylist (blacklist); fails on a trailing --not. */
  lists(): { whitelist: FlowFilter[]; blacklist: FlowFilter[] } {
    if (this.negateNext) throw new CliError('trailing --not found in the arguments');
    return { whitelist: this.allow?.filters() ?? [], blacklist: this.deny?.filters() ?? [] };
  }
}

function checkConflicts(changed: readonly string[]): void {
  for (const group of CONFLICT_GROUPS) {
    for (const flag of group) {
      if (!changed.includes(flag)) continue;
      for (const other of group) {
        if (other !== flag && changed.includes(other))
          throw new CliError(`filters --${flag} and --${other} cannot be combined`);
      }
    }
  }
}

function applyFlag(list: FilterList, name: string, value: string): void {
  switch (name) {
    case 'uuid':
      return list.both((f) => f.uuid.push(value));
    case 'fqdn':
      return list.split(
        (f) => f.sourceFqdn.push(value),
        (f) => f.destinationFqdn.push(value),
      );
    case 'from-fqdn':
      return list.both((f) => f.sourceFqdn.push(value));
    case 'to-fqdn':
      return list.both((f) => f.destinationFqdn.push(value));
    case 'pod':
      return list.split(
        (f) => f.sourcePod.push(value),
        (f) => f.destinationPod.push(value),
      );
    case 'from-pod':
      return list.both((f) => f.sourcePod.push(value));
    case 'to-pod':
      return list.both((f) => f.destinationPod.push(value));
    case 'ip':
      return list.split(
        (f) => f.sourceIp.push(value),
        (f) => f.destinationIp.push(value),
      );
    case 'from-ip':
      return list.both((f) => f.sourceIp.push(value));
    case 'to-ip':
      return list.both((f) => f.destinationIp.push(value));
    case 'snat-ip':
      return list.both((f) => f.sourceIpXlated.push(value));
    case 'ipv4':
      return list.both((f) => f.ipVersion.push(IPVersion.IPv4));
    case 'ipv6':
      return list.both((f) => f.ipVersion.push(IPVersion.IPv6));
    case 'ip-version': {
      const v = parseIpVersion(value);
      return list.both((f) => f.ipVersion.push(v));
    }
    case 'label':
      return list.split(
        (f) => f.sourceLabel.push(value),
        (f) => f.destinationLabel.push(value),
      );
    case 'from-label':
      return list.both((f) => f.sourceLabel.push(value));
    case 'to-label':
      return list.both((f) => f.destinationLabel.push(value));
    case 'namespace':
      return list.addNamespace('any', value);
    case 'from-namespace':
      return list.addNamespace('from', value);
    case 'to-namespace':
      return list.addNamespace('to', value);
    case 'all-namespaces':
      return list.addNamespace('any', '');
    case 'from-all-namespaces':
      return list.addNamespace('from', '');
    case 'to-all-namespaces':
      return list.addNamespace('to', '');
    case 'service':
      return list.split(
        (f) => f.sourceService.push(value),
        (f) => f.destinationService.push(value),
      );
    case 'from-service':
      return list.both((f) => f.sourceService.push(value));
    case 'to-service':
      return list.both((f) => f.destinationService.push(value));
    case 'port':
      return list.split(
        (f) => f.sourcePort.push(value),
        (f) => f.destinationPort.push(value),
      );
    case 'from-port':
      return list.both((f) => f.sourcePort.push(value));
    case 'to-port':
      return list.both((f) => f.destinationPort.push(value));
    case 'trace-id':
      return list.both((f) => f.traceId.push(value));
    case 'ip-trace-id': {
      if (!/^\d+$/.test(value)) throw new CliError(`invalid --ip-trace-id value: ${value}`);
      const id = Number(value);
      if (id === 0) throw new CliError('invalid --ip-trace-id value; must be greater than 0');
      if (!Number.isSafeInteger(id)) throw new CliError(`invalid --ip-trace-id value: ${value} is too large`);
      return list.both((f) => f.ipTraceId.push(id));
    }
    case 'verdict': {
      const v = enumValue(Verdict, value, 'verdict') as Verdict;
      return list.both((f) => f.verdict.push(v));
    }
    case 'drop-reason-desc': {
      if (value === '') throw new CliError('empty --drop-reason-desc value');
      const v = enumValue(DropReason, value, 'drop-reason-desc') as DropReason;
      return list.both((f) => f.dropReasonDesc.push(v));
    }
    case 'http-status':
      return list.both((f) => f.httpStatusCode.push(value));
    case 'http-method':
      return list.both((f) => f.httpMethod.push(value));
    case 'http-path':
      return list.both((f) => f.httpPath.push(value));
    case 'http-url':
      return list.both((f) => f.httpUrl.push(value));
    case 'http-header': {
      const colon = value.indexOf(':');
      if (colon === -1) throw new CliError(`invalid http-header value "${value}", expected name:value`);
      const header = { key: value.slice(0, colon), value: value.slice(colon + 1) };
      return list.both((f) => f.httpHeader.push({ ...header }));
    }
    case 'type': {
      const t = parseEventType(value);
      return list.both((f) => f.eventType.push({ ...t }));
    }
    case 'protocol':
      return list.both((f) => f.protocol.push(value));
    case 'workload': {
      const w = parseWorkload(value);
      return list.split(
        (f) => f.sourceWorkload.push({ ...w }),
        (f) => f.destinationWorkload.push({ ...w }),
      );
    }
    case 'from-workload': {
      const w = parseWorkload(value);
      return list.both((f) => f.sourceWorkload.push({ ...w }));
    }
    case 'to-workload': {
      const w = parseWorkload(value);
      return list.both((f) => f.destinationWorkload.push({ ...w }));
    }
    case 'identity': {
      const id = parseIdentity(value);
      return list.split(
        (f) => f.sourceIdentity.push(id),
        (f) => f.destinationIdentity.push(id),
      );
    }
    case 'from-identity': {
      const id = parseIdentity(value);
      return list.both((f) => f.sourceIdentity.push(id));
    }
    case 'to-identity': {
      const id = parseIdentity(value);
      return list.both((f) => f.destinationIdentity.push(id));
    }
    case 'node-name':
      return list.both((f) => f.nodeName.push(value));
    case 'node-label':
      return list.both((f) => f.nodeLabels.push(value));
    case 'cluster':
      return list.split(
        (f) => f.sourceClusterName.push(value),
        (f) => f.destinationClusterName.push(value),
      );
    case 'from-cluster':
      return list.both((f) => f.sourceClusterName.push(value));
    case 'to-cluster':
      return list.both((f) => f.destinationClusterName.push(value));
    case 'tcp-flags': {
      const flags = parseTcpFlags(value);
      return list.both((f) => f.tcpFlags.push({ ...flags }));
    }
    case 'traffic-direction': {
      const td = value.toLowerCase();
      if (td !== 'ingress' && td !== 'egress')
        throw new CliError(`${td}: invalid traffic direction, expected ingress or egress`);
      const dir = td === 'ingress' ? TrafficDirection.INGRESS : TrafficDirection.EGRESS;
      return list.both((f) => f.trafficDirection.push(dir));
    }
    case 'cel-expression':
      return list.both((f) => {
        f.experimental ??= { celExpression: [] };
        f.experimental.celExpression.push(value);
      });
    case 'interface':
      return list.both((f) => f.interface.push({ index: 0, name: value }));
    case 'encrypted':
      return list.both((f) => f.encrypted.push(true));
    case 'unencrypted':
      return list.both((f) => f.encrypted.push(false));
    default:
      throw new CliError(`unknown filter flag --${name}`);
  }
}

// Prints GetFlows responses the way `hubble observe` does: compact lines, dict blocks, a table,
// or one protojson object per line. Node status events go to stderr, as hubble sends them there.
import {
  AuthType,
  DebugCapturePoint,
  L7FlowType,
  LostEventSource,
  SocketTranslationPoint,
  TrafficDirection,
  Verdict,
  type Flow,
  type Policy,
} from '../api/flow/flow.js';
import type { GetFlowsResponse } from '../api/observer/observer.js';
import { NodeState } from '../api/relay/relay.js';
import { getFlowsResponseToJson, goJsonLine } from '../protojson/protojson.js';
import {
  MESSAGE_TYPE_CAPTURE,
  MESSAGE_TYPE_DROP,
  MESSAGE_TYPE_POLICY_VERDICT,
  MESSAGE_TYPE_TRACE,
  MESSAGE_TYPE_TRACE_SOCK,
  dropReasonText,
  policyMatchTypeName,
  reservedIdentityName,
  traceObservationPointName,
} from './monitorNames.js';
import { TabWriter } from './tabWriter.js';
import { Colors, escapeControl } from './terminalText.js';
import { formatTimestamp, type TimeFormat } from './timeFormats.js';

export const OUTPUT_FORMATS = ['compact', 'dict', 'json', 'jsonpb', 'table'] as const;
export type OutputFormat = 'compact' | 'dict' | 'jsonpb' | 'table';

export interface TextSink {
  write(text: string): unknown;
}

export interface FlowPrinterOptions {
  output: OutputFormat;
  out: TextSink;
  err: TextSink;
  timeFormat?: TimeFormat;
  /** Show pod, service and DNS names instead of IPs (hubble's --ip-translation, off with --numeric). */
  ipTranslation?: boolean;
  nodeName?: boolean;
  /** Name the policies that allowed or denied a policy verdict event (hubble's --print-policy-names). */
  policyNames?: boolean;
  /** Also print informational node status events (hubble's --debug). */
  debug?: boolean;
  /** Hubble's colours in compact and dict output (never in a table, whose column widths they would upset). */
  color?: boolean;
}

const DICT_SEPARATOR = '------------';
const NO_COLORS = new Colors(false);
const NODE_NAMES_CUT_OFF = 50;

/** An enum value's name as Go's String() prints it: the number when the name is unknown. */
function enumName(e: Record<number, string>, value: number): string {
  return value >= 0 && e[value] !== undefined ? e[value]! : String(value);
}

/** "host:port" with IPv6 hosts bracketed, as Go's net.JoinHostPort does. */
function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Go's path.Join for "namespace/name": empty parts vanish. */
function joinNamespaced(ns: string, name: string): string {
  return [ns, name].filter((p) => p !== '').join('/');
}

function ports(f: Flow): [string, string] {
  const l4 = f.l4;
  const p = l4?.TCP ?? l4?.UDP ?? l4?.SCTP;
  return p === undefined ? ['', ''] : [String(p.sourcePort), String(p.destinationPort)];
}

/** The flow's "type" column: the observation point, drop reason, L7 kind, ... */
export function flowType(f: Flow): string {
  const l7 = f.l7;
  if (l7 !== undefined) {
    let protocol = 'l7';
    let type = enumName(L7FlowType, l7.type).toLowerCase();
    if (l7.http !== undefined) protocol = 'http';
    else if (l7.dns !== undefined) {
      protocol = 'dns';
      type += ` ${l7.dns.observationSource}`;
    } else if (l7.kafka !== undefined) protocol = 'kafka';
    return `${protocol}-${type}`;
  }
  const eventType = f.eventType?.type ?? 0;
  const subType = f.eventType?.subType ?? 0;
  switch (eventType) {
    case MESSAGE_TYPE_TRACE:
      return traceObservationPointName(subType);
    case MESSAGE_TYPE_DROP:
      return dropReasonText(subType);
    case MESSAGE_TYPE_POLICY_VERDICT:
      return `policy-verdict:${policyMatchTypeName(f.policyMatchType)} ${enumName(TrafficDirection, f.trafficDirection)}`;
    case MESSAGE_TYPE_CAPTURE:
      return enumName(DebugCapturePoint, f.debugCapturePoint);
    case MESSAGE_TYPE_TRACE_SOCK:
      switch (f.sockXlatePoint) {
        case SocketTranslationPoint.SOCK_XLATE_POINT_POST_DIRECTION_FWD:
          return 'post-xlate-fwd';
        case SocketTranslationPoint.SOCK_XLATE_POINT_POST_DIRECTION_REV:
          return 'post-xlate-rev';
        case SocketTranslationPoint.SOCK_XLATE_POINT_PRE_DIRECTION_FWD:
          return 'pre-xlate-fwd';
        case SocketTranslationPoint.SOCK_XLATE_POINT_PRE_DIRECTION_REV:
          return 'pre-xlate-rev';
        default:
          return enumName(SocketTranslationPoint, f.sockXlatePoint);
      }
    default:
      return 'UNKNOWN';
  }
}

/** ` BY name (kind), ...` for the policies that have both, as hubble prints them; empty without any. */
function byPolicies(policies: readonly Policy[]): string {
  const named = policies.filter((p) => p.kind !== '' && p.name !== '');
  return named.length === 0 ? '' : ` BY ${named.map((p) => `${p.name} (${p.kind})`).join(', ')}`;
}

/**
 * The verdict column; policy verdict events say ALLOWED/DENIED/AUDITED instead, and with `policyNames` which
 * policies of the flow's direction allowed or denied it.
 */
export function flowVerdict(f: Flow, colors: Colors = NO_COLORS, policyNames = false): string {
  const policyVerdict = f.eventType?.type === MESSAGE_TYPE_POLICY_VERDICT;
  const egress = f.trafficDirection === TrafficDirection.EGRESS;
  const ingress = f.trafficDirection === TrafficDirection.INGRESS;
  const names = (egressPolicies: readonly Policy[], ingressPolicies: readonly Policy[]) =>
    !policyNames ? '' : egress ? byPolicies(egressPolicies) : ingress ? byPolicies(ingressPolicies) : '';
  switch (f.verdict) {
    case Verdict.FORWARDED:
    case Verdict.REDIRECTED:
      return colors.forwarded(
        policyVerdict ? `ALLOWED${names(f.egressAllowedBy, f.ingressAllowedBy)}` : enumName(Verdict, f.verdict),
      );
    case Verdict.DROPPED:
    case Verdict.ERROR:
      return colors.dropped(
        policyVerdict ? `DENIED${names(f.egressDeniedBy, f.ingressDeniedBy)}` : enumName(Verdict, f.verdict),
      );
    case Verdict.AUDIT:
      return colors.notable(policyVerdict ? 'AUDITED' : 'AUDIT');
    case Verdict.TRACED:
    case Verdict.TRANSLATED:
      return colors.notable(enumName(Verdict, f.verdict));
    default:
      return enumName(Verdict, f.verdict);
  }
}

export function flowSummary(f: Flow, colors: Colors = NO_COLORS): string {
  let s = '';
  if (f.ipTraceId !== undefined && f.ipTraceId.traceId > 0) s += `IP Trace ID: ${f.ipTraceId.traceId}; `;
  s += escapeControl(f.Summary);
  if (f.authType !== AuthType.DISABLED) {
    const auth = enumName(AuthType, f.authType);
    s += `; ${f.authType === AuthType.TEST_ALWAYS_FAIL ? colors.authFailed(auth) : colors.authEnabled(auth)}`;
  }
  return s;
}

function identityLabel(id: number, colors: Colors): string {
  const name = reservedIdentityName(id);
  return colors.identity(name === undefined ? `(ID:${id})` : `(${name})`);
}

/** The node names of a status event, shortened with "(and N more)" past about 50 characters. */
function joinWithCutOff(names: readonly string[], sep: string, targetLength: number): string {
  let length = 0;
  let end = names.length;
  for (let i = 0; i < names.length; i++) {
    length += names[i]!.length + sep.length;
    if (length > targetLength && i > 0) {
      end = i;
      break;
    }
  }
  const joined = names.slice(0, end).join(sep);
  return end === names.length ? joined : `${joined} (and ${names.length - end} more)`;
}

/** Go's strconv.Quote for the plain strings node status messages carry. */
function goQuote(s: string): string {
  return JSON.stringify(s)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** One flow's compact output, part by part. */
export interface CompactColumns {
  time: string;
  /** Host (with port) and identity, e.g. "10.0.0.1:443 (world)". */
  source: string;
  arrow: '->' | '<-' | '<>';
  destination: string;
  type: string;
  verdict: string;
  summary: string;
}

export class FlowPrinter {
  private readonly timeFormat: TimeFormat;
  private readonly table?: TabWriter;
  private readonly colors: Colors;
  private line = 0;

  constructor(private readonly opts: FlowPrinterOptions) {
    this.timeFormat = opts.timeFormat ?? 'StampMilli';
    if (opts.output === 'table') this.table = new TabWriter(opts.out);
    this.colors = opts.color === true && opts.output !== 'table' ? new Colors(true) : NO_COLORS;
  }

  /** "pod", "ns/svc", "name1,name2" or the IP, with ":port" when there is a port; coloured as hubble colours it. */
  private hostname(ip: string, port: string, ns: string, pod: string, svc: string, names: readonly string[]): string {
    let host = ip;
    if (this.opts.ipTranslation !== false) {
      if (pod !== '') host = joinNamespaced(ns, pod);
      else if (svc !== '') host = joinNamespaced(ns, svc);
      else if (names.length > 0) host = names.join(',');
    }
    host = escapeControl(host);
    return this.colors.host(port !== '' && port !== '0' ? joinHostPort(host, this.colors.port(port)) : host);
  }

  private hostnames(f: Flow): [string, string] {
    if (f.IP === undefined) {
      if (f.ethernet === undefined) return ['', ''];
      return [
        this.colors.host(escapeControl(f.ethernet.source)),
        this.colors.host(escapeControl(f.ethernet.destination)),
      ];
    }
    let srcNs = f.source?.namespace ?? '';
    let dstNs = f.destination?.namespace ?? '';
    const srcPod = f.source?.podName ?? '';
    const dstPod = f.destination?.podName ?? '';
    let srcSvc = '';
    let dstSvc = '';
    if (f.sourceService !== undefined) {
      srcNs = f.sourceService.namespace;
      srcSvc = f.sourceService.name;
    }
    if (f.destinationService !== undefined) {
      dstNs = f.destinationService.namespace;
      dstSvc = f.destinationService.name;
    }
    const [srcPort, dstPort] = ports(f);
    return [
      this.hostname(f.IP.source, srcPort, srcNs, srcPod, srcSvc, f.sourceNames),
      this.hostname(f.IP.destination, dstPort, dstNs, dstPod, dstSvc, f.destinationNames),
    ];
  }

  /**
   * The parts of a compact line: "SOURCE (ID) ARROW DESTINATION (ID) TYPE VERDICT (SUMMARY)" after the time, a reply
   * turned around (arrow "<-"), a flow of unknown direction marked "<>". The web UI shows them as table columns.
   */
  compactColumns(f: Flow, time: string = formatTimestamp(f.time, this.timeFormat)): CompactColumns {
    let [src, dst] = this.hostnames(f);
    let srcId = identityLabel(f.source?.identity ?? 0, this.colors);
    let dstId = identityLabel(f.destination?.identity ?? 0, this.colors);
    let arrow: CompactColumns['arrow'] = '->';
    if (f.isReply === undefined) arrow = '<>';
    else if (f.isReply) {
      [src, dst] = [dst, src];
      [srcId, dstId] = [dstId, srcId];
      arrow = '<-';
    }
    return {
      time,
      source: `${src} ${srcId}`,
      arrow,
      destination: `${dst} ${dstId}`,
      type: escapeControl(flowType(f)),
      verdict: flowVerdict(f, this.colors, this.opts.policyNames),
      summary: flowSummary(f, this.colors),
    };
  }

  write(res: GetFlowsResponse): void {
    if (res.flow !== undefined) this.writeFlow(res, res.flow);
    else if (res.nodeStatus !== undefined) this.writeNodeStatus(res);
    else if (res.lostEvents !== undefined) this.writeLostEvents(res);
  }

  private writeFlow(res: GetFlowsResponse, f: Flow): void {
    const time = formatTimestamp(f.time, this.timeFormat);
    switch (this.opts.output) {
      case 'jsonpb':
        this.opts.out.write(goJsonLine(getFlowsResponseToJson(res)));
        return;
      case 'compact': {
        const c = this.compactColumns(f, time);
        const node = this.opts.nodeName ? ` [${escapeControl(f.nodeName)}]` : '';
        this.opts.out.write(
          `${c.time}${node}: ${c.source} ${c.arrow} ${c.destination} ${c.type} ${c.verdict} (${c.summary})\n`,
        );
        break;
      }
      case 'dict': {
        const [src, dst] = this.hostnames(f);
        let text = this.line !== 0 ? `${DICT_SEPARATOR}\n` : '';
        text += `  TIMESTAMP: ${time}\n`;
        if (this.opts.nodeName) text += `       NODE: ${escapeControl(f.nodeName)}\n`;
        text += `     SOURCE: ${src}\nDESTINATION: ${dst}\n       TYPE: ${escapeControl(flowType(f))}\n    VERDICT: ${flowVerdict(f, this.colors, this.opts.policyNames)}\n    SUMMARY: ${flowSummary(f, this.colors)}\n`;
        this.opts.out.write(text);
        break;
      }
      case 'table': {
        const [src, dst] = this.hostnames(f);
        this.tableHeader();
        const node = this.opts.nodeName ? `${escapeControl(f.nodeName)}\t` : '';
        this.table!.write(
          `${time}\t${node}${src}\t${dst}\t${escapeControl(flowType(f))}\t${flowVerdict(f, NO_COLORS, this.opts.policyNames)}\t${flowSummary(f)}\n`,
        );
        break;
      }
    }
    this.line++;
  }

  private tableHeader(): void {
    if (this.line !== 0) return;
    this.table!.write(`TIMESTAMP\t${this.opts.nodeName ? 'NODE\t' : ''}SOURCE\tDESTINATION\tTYPE\tVERDICT\tSUMMARY\n`);
  }

  private writeLostEvents(res: GetFlowsResponse): void {
    const lost = res.lostEvents!;
    const source = enumName(LostEventSource, lost.source);
    const cpu = lost.cpu ?? 0;
    switch (this.opts.output) {
      case 'jsonpb':
        this.opts.out.write(goJsonLine(getFlowsResponseToJson(res)));
        return;
      case 'compact':
        this.opts.out.write(`EVENTS LOST: ${source} CPU(${cpu}) ${lost.numEventsLost}\n`);
        break;
      case 'dict': {
        let text = this.line !== 0 ? `${DICT_SEPARATOR}\n` : '';
        text += '  TIMESTAMP: \n';
        if (this.opts.nodeName) text += '       NODE: \n';
        text += `     SOURCE: ${source}\n       TYPE: EVENTS LOST\n    VERDICT: \n    SUMMARY: CPU(${cpu}) - ${lost.numEventsLost}\n`;
        this.opts.out.write(text);
        break;
      }
      case 'table':
        this.tableHeader();
        this.table!.write(
          `\t${this.opts.nodeName ? '\t' : ''}${source}\t\tEVENTS LOST\t\tCPU(${cpu}) - ${lost.numEventsLost}\n`,
        );
        break;
    }
    this.line++;
  }

  private writeNodeStatus(res: GetFlowsResponse): void {
    const s = res.nodeStatus!;
    if (!this.opts.debug && s.stateChange !== NodeState.NODE_ERROR && s.stateChange !== NodeState.NODE_UNAVAILABLE)
      return;
    const names = escapeControl(joinWithCutOff(s.nodeNames, ', ', NODE_NAMES_CUT_OFF));
    const time = formatTimestamp(res.time, this.timeFormat);
    switch (this.opts.output) {
      case 'jsonpb':
        this.opts.err.write(goJsonLine(getFlowsResponseToJson(res)));
        return;
      case 'dict': {
        let text = '';
        if (this.line !== 0) text += `${DICT_SEPARATOR}\n`;
        else this.line++;
        text += `  TIMESTAMP: ${time}\n      STATE: ${enumName(NodeState, s.stateChange)}\n      NODES: ${names}\n    MESSAGE: ${s.message === '' ? 'N/A' : goQuote(s.message)}\n`;
        this.opts.err.write(text);
        return;
      }
      case 'compact':
      case 'table': {
        const prefix = `${time} [${escapeControl(res.nodeName)}]`;
        const n = s.nodeNames.length;
        let msg: string;
        switch (s.stateChange) {
          case NodeState.NODE_CONNECTED:
            msg = `${prefix}: Receiving flows from ${n} nodes: ${names}`;
            break;
          case NodeState.NODE_UNAVAILABLE:
            msg = `${prefix}: ${n} nodes are unavailable: ${names}`;
            break;
          case NodeState.NODE_GONE:
            msg = `${prefix}: ${n} nodes removed from cluster: ${names}`;
            break;
          case NodeState.NODE_ERROR:
            msg = `${prefix}: Error ${goQuote(s.message)} on ${n} nodes: ${names}`;
            break;
          default:
            msg = `${prefix}: unknown node status event: state_change:${enumName(NodeState, s.stateChange)} node_names:${goQuote(s.nodeNames.join(','))}`;
        }
        this.opts.err.write(`${msg}\n`);
        return;
      }
    }
  }

  /** Writes what the table buffered; other formats write as they go. */
  close(): void {
    this.table?.flush();
  }
}

// Prints GetAgentEvents and GetDebugEvents responses the way `hubble observe agent-events|debug-events` does: compact
// lines, dict blocks, a table, or one protojson object per line.
import {
  AgentEventType,
  DebugEventType,
  type AgentEvent,
  type DebugEvent,
  type Endpoint,
  type ServiceUpsertNotificationAddr,
} from '../api/flow/flow.js';
import { GetAgentEventsResponse, GetDebugEventsResponse } from '../api/observer/observer.js';
import type { OutputFormat, TextSink } from './flowPrinter.js';
import { goJsonLine, messageToJson } from '../protojson/protojson.js';
import { TabWriter } from './tabWriter.js';
import { escapeControl } from './terminalText.js';
import { formatTimestamp, type TimeFormat } from './timeFormats.js';

export interface EventPrinterOptions {
  output: OutputFormat;
  out: TextSink;
  timeFormat?: TimeFormat;
  nodeName?: boolean;
}

const DICT_SEPARATOR = '------------';

function enumName(e: Record<number, string>, value: number): string {
  return value >= 0 && e[value] !== undefined ? e[value]! : String(value);
}

/** Go's net.JoinHostPort. */
function serviceAddress(a: ServiceUpsertNotificationAddr): string {
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

/** The DETAILS column of an agent event, per notification kind, as hubble words it. */
export function agentEventDetails(e: AgentEvent, timeFormat: TimeFormat): string {
  switch (e.type) {
    case AgentEventType.AGENT_EVENT_UNKNOWN:
      if (e.unknown !== undefined) return `type: ${e.unknown.type}, notification: ${e.unknown.notification}`;
      break;
    case AgentEventType.AGENT_STARTED:
      if (e.agentStart !== undefined) return `start time: ${formatTimestamp(e.agentStart.time, timeFormat)}`;
      break;
    case AgentEventType.POLICY_UPDATED:
    case AgentEventType.POLICY_DELETED:
      if (e.policyUpdate !== undefined) {
        const p = e.policyUpdate;
        return `labels: [${p.labels.join(',')}], revision: ${p.revision}, count: ${p.ruleCount}`;
      }
      break;
    case AgentEventType.ENDPOINT_REGENERATE_SUCCESS:
    case AgentEventType.ENDPOINT_REGENERATE_FAILURE:
      if (e.endpointRegenerate !== undefined) {
        const r = e.endpointRegenerate;
        return `id: ${r.id}, labels: [${r.labels.join(',')}]${r.error !== '' ? `, error: ${r.error}` : ''}`;
      }
      break;
    case AgentEventType.ENDPOINT_CREATED:
    case AgentEventType.ENDPOINT_DELETED:
      if (e.endpointUpdate !== undefined) {
        const u = e.endpointUpdate;
        let text = `id: ${u.id}`;
        if (u.namespace !== '') text += `, namespace: ${u.namespace}`;
        if (u.podName !== '') text += `, pod name: ${u.podName}`;
        return text;
      }
      break;
    case AgentEventType.IPCACHE_UPSERTED:
    case AgentEventType.IPCACHE_DELETED:
      if (e.ipcacheUpdate !== undefined) {
        const i = e.ipcacheUpdate;
        let text = `cidr: ${i.cidr}, identity: ${i.identity}`;
        if (i.oldIdentity !== undefined) text += `, old identity: ${i.oldIdentity}`;
        if (i.hostIp !== '') text += `, host ip: ${i.hostIp}`;
        if (i.oldHostIp !== '') text += `, old host ip: ${i.oldHostIp}`;
        return `${text}, encrypt key: ${i.encryptKey}`;
      }
      break;
    case AgentEventType.SERVICE_UPSERTED:
      if (e.serviceUpsert !== undefined) {
        const s = e.serviceUpsert;
        let text = `id: ${s.id}`;
        if (s.frontendAddress !== undefined) text += `, frontend: ${serviceAddress(s.frontendAddress)}`;
        if (s.backendAddresses.length > 0) text += `, backends: [${s.backendAddresses.map(serviceAddress).join(',')}]`;
        if (s.type !== '') text += `, type: ${s.type}`;
        if (s.trafficPolicy !== '') text += `, traffic policy: ${s.trafficPolicy}`;
        if (s.namespace !== '') text += `, namespace: ${s.namespace}`;
        if (s.name !== '') text += `, name: ${s.name}`;
        return text;
      }
      break;
    case AgentEventType.SERVICE_DELETED:
      if (e.serviceDelete !== undefined) return `id: ${e.serviceDelete.id}`;
      break;
  }
  return 'UNKNOWN';
}

/** "ns/pod (ID: 7)", "reserved:host (ID: 1)" or "ID: 7"; "N/A" without a source. */
function endpointShort(ep: Endpoint | undefined): string {
  if (ep === undefined) return 'N/A';
  const id = `ID: ${ep.ID}`;
  if (ep.namespace !== '' && ep.podName !== '') return `${ep.namespace}/${ep.podName} (${id})`;
  if (ep.labels.length === 1 && ep.labels[0]!.startsWith('reserved:')) return `${ep.labels[0]} (${id})`;
  return id;
}

const hexMark = (v: number | undefined): string => (v === undefined ? 'N/A' : `0x${v.toString(16)}`);
const cpuText = (v: number | undefined): string => (v === undefined ? 'N/A' : String(v).padStart(2, '0'));

/** One printer per request; `close` flushes a table. */
export class EventPrinter {
  private readonly timeFormat: TimeFormat;
  private readonly table?: TabWriter;
  private line = 0;

  constructor(private readonly opts: EventPrinterOptions) {
    this.timeFormat = opts.timeFormat ?? 'StampMilli';
    if (opts.output === 'table') this.table = new TabWriter(opts.out);
  }

  private rows(time: string, nodeName: string, fields: readonly [header: string, value: string][]): void {
    const node = escapeControl(nodeName);
    switch (this.opts.output) {
      case 'dict': {
        let text = this.line !== 0 ? `${DICT_SEPARATOR}\n` : '';
        text += `  TIMESTAMP: ${time}\n`;
        if (this.opts.nodeName) text += `       NODE: ${node}\n`;
        for (const [header, value] of fields) text += `${header.padStart(11)}: ${value}\n`;
        this.opts.out.write(text);
        break;
      }
      case 'table': {
        if (this.line === 0) {
          const headers = fields.map(([h]) => h).join('\t');
          this.table!.write(`TIMESTAMP\t${this.opts.nodeName ? 'NODE\t' : ''}${headers}\n`);
        }
        this.table!.write(`${time}\t${this.opts.nodeName ? `${node}\t` : ''}${fields.map(([, v]) => v).join('\t')}\n`);
        break;
      }
      default:
        break;
    }
    this.line++;
  }

  writeAgentEvent(res: GetAgentEventsResponse): void {
    const e = res.agentEvent;
    if (e === undefined) return;
    if (this.opts.output === 'jsonpb') {
      this.opts.out.write(goJsonLine(messageToJson(GetAgentEventsResponse, 'observer.GetAgentEventsResponse', res)));
      return;
    }
    const time = formatTimestamp(res.time, this.timeFormat);
    const type = enumName(AgentEventType, e.type);
    const details = escapeControl(agentEventDetails(e, this.timeFormat));
    if (this.opts.output === 'compact') {
      const node = this.opts.nodeName ? ` [${escapeControl(res.nodeName)}]` : '';
      this.opts.out.write(`${time}${node}: ${type} (${details})\n`);
      this.line++;
      return;
    }
    this.rows(time, res.nodeName, [
      ['TYPE', type],
      ['DETAILS', details],
    ]);
  }

  writeDebugEvent(res: GetDebugEventsResponse): void {
    const e: DebugEvent | undefined = res.debugEvent;
    if (e === undefined) return;
    if (this.opts.output === 'jsonpb') {
      this.opts.out.write(goJsonLine(messageToJson(GetDebugEventsResponse, 'observer.GetDebugEventsResponse', res)));
      return;
    }
    const time = formatTimestamp(res.time, this.timeFormat);
    const type = enumName(DebugEventType, e.type);
    const from = escapeControl(endpointShort(e.source));
    const message = escapeControl(e.message);
    if (this.opts.output === 'compact') {
      const node = this.opts.nodeName ? ` [${escapeControl(res.nodeName)}]` : '';
      this.opts.out.write(
        `${time}${node}: ${from} ${type} MARK: ${hexMark(e.hash)} CPU: ${cpuText(e.cpu)} (${message})\n`,
      );
      this.line++;
      return;
    }
    if (this.opts.output === 'table') {
      this.rows(time, res.nodeName, [
        // hubble's table leaves an empty column after FROM.
        ['FROM\t', `${from}\t`],
        ['TYPE', type],
        ['CPU/MARK', `${cpuText(e.cpu)} ${hexMark(e.hash)}`],
        ['MESSAGE', message],
      ]);
      return;
    }
    this.rows(time, res.nodeName, [
      ['TYPE', type],
      ['FROM', from],
      ['MARK', hexMark(e.hash)],
      ['CPU', cpuText(e.cpu)],
      ['MESSAGE', message],
    ]);
  }

  close(): void {
    this.table?.flush();
  }
}

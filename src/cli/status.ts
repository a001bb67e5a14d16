// `hubble-ts status`: grpc.health.v1 check of the Observer service, then ServerStatus, printed
// as `hubble status` prints them.
import { Command, Option } from 'commander';
import * as grpc from '@grpc/grpc-js';
import type { ServerStatusResponse } from '../api/observer/observer.js';
import { ServerStatusResponse as ServerStatusResponseFns } from '../api/observer/observer.js';
import { goJsonLine, messageToJson } from '../protojson/protojson.js';
import {
  addConnectionOptions,
  CliError,
  connectionOptionsFrom,
  describeCallError,
  HubbleConnection,
} from './client.js';
import { PROCESS_IO, type CliIo } from './observe.js';
import { TabWriter } from './tabWriter.js';

/** The name Hubble's server registers the Observer's health under, and what `hubble status` asks about. */
const OBSERVER_HEALTH_NAME = 'hubble.server.Observer';

/** Thousands separators, as hubble's uint64Grouping prints counters. */
export function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Go's time.Duration String() for a whole number of nanoseconds (1h2m3.5s, 250ms, 0s). */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let rest = Math.abs(ns);
  if (rest < 1e9) {
    if (rest < 1e3) return `${sign}${rest}ns`;
    if (rest < 1e6) return `${sign}${trimFraction(rest / 1e3)}µs`;
    return `${sign}${trimFraction(rest / 1e6)}ms`;
  }
  const hours = Math.floor(rest / 3600e9);
  rest -= hours * 3600e9;
  const minutes = Math.floor(rest / 60e9);
  rest -= minutes * 60e9;
  const seconds = `${trimFraction(rest / 1e9)}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

function trimFraction(v: number): string {
  return v.toFixed(9).replace(/\.?0+$/, '');
}

export type StatusOutput = 'compact' | 'dict' | 'json' | 'table';

/** Prints a ServerStatusResponse in one of hubble's status layouts. */
export function formatServerStatus(res: ServerStatusResponse, output: StatusOutput): string {
  const connected = res.numConnectedNodes === undefined ? 'N/A' : String(res.numConnectedNodes);
  const unavailable = res.numUnavailableNodes === undefined ? 'N/A' : String(res.numUnavailableNodes);
  let flowsPerSec = res.flowsRate > 0 ? res.flowsRate.toFixed(2) : 'N/A';
  switch (output) {
    case 'json':
      return goJsonLine(messageToJson(ServerStatusResponseFns, 'observer.ServerStatusResponse', res));
    case 'dict':
      return [
        `          NUM FLOWS: ${groupDigits(res.numFlows)}`,
        `          MAX FLOWS: ${groupDigits(res.maxFlows)}`,
        `         SEEN FLOWS: ${groupDigits(res.seenFlows)}`,
        `   FLOWS PER SECOND: ${flowsPerSec}`,
        `             UPTIME: ${goDuration(res.uptimeNs)}`,
        `NUM CONNECTED NODES: ${connected}`,
        ` NUM UNAVAIL. NODES: ${unavailable}`,
        `            VERSION: ${res.version}`,
        '',
      ].join('\n');
    case 'table': {
      let text = '';
      const tw = new TabWriter({ write: (s: string) => (text += s) });
      tw.write(
        'NUM FLOWS\tMAX FLOWS\tSEEN FLOWS\tFLOWS PER SECOND\tUPTIME\tNUM CONNECTED NODES\tNUM UNAVAILABLE NODES\tVERSION\n',
      );
      tw.write(
        `${groupDigits(res.numFlows)}\t${groupDigits(res.maxFlows)}\t${groupDigits(res.seenFlows)}\t${flowsPerSec}\t${goDuration(res.uptimeNs)}\t${connected}\t${unavailable}\t${res.version}\n`,
      );
      tw.flush();
      return text;
    }
    case 'compact': {
      const ratio = res.maxFlows > 0 ? ` (${((res.numFlows / res.maxFlows) * 100).toFixed(2)}%)` : '';
      let text = `Current/Max Flows: ${groupDigits(res.numFlows)}/${groupDigits(res.maxFlows)}${ratio}\n`;
      const uptimeSeconds = res.uptimeNs / 1e9;
      if (flowsPerSec === 'N/A' && uptimeSeconds > 0) flowsPerSec = (res.seenFlows / uptimeSeconds).toFixed(2);
      text += `Flows/s: ${flowsPerSec}\n`;
      if (res.numConnectedNodes !== undefined) {
        const total =
          res.numUnavailableNodes === undefined ? '' : `/${res.numUnavailableNodes + res.numConnectedNodes}`;
        text += `Connected Nodes: ${res.numConnectedNodes}${total}\n`;
      }
      if (res.numUnavailableNodes !== undefined && res.numUnavailableNodes > 0) {
        const names = [...res.unavailableNodes].sort();
        if (names.length > 0) {
          if (res.numUnavailableNodes > names.length)
            names.push(`and ${res.numUnavailableNodes - names.length} more...`);
          text += `Unavailable Nodes: ${res.numUnavailableNodes}\n  - ${names.join('\n  - ')}\n`;
        } else {
          text += `Unavailable Nodes: ${res.numUnavailableNodes}\n`;
        }
      }
      return text;
    }
  }
}

function statusOutput(value: string): StatusOutput {
  switch (value) {
    case 'compact':
    case 'dict':
    case 'table':
      return value;
    case 'tab':
      return 'table';
    case 'json':
    case 'JSON':
    case 'jsonpb':
      return 'json';
    default:
      throw new CliError(`invalid output format: ${value} (one of compact, dict, json, table)`);
  }
}

function healthStatusName(status: string | number | undefined): string {
  if (typeof status === 'string') return status;
  return ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][status ?? 0] ?? String(status);
}

export async function runStatus(conn: HubbleConnection, output: StatusOutput, io: CliIo): Promise<void> {
  await conn.waitConnected();
  const health = await new Promise<string>((resolve, reject) => {
    conn.health().check({ service: OBSERVER_HEALTH_NAME }, { deadline: conn.unaryDeadline() }, (err, res) => {
      if (err)
        reject(new CliError(`failed getting status: ${describeCallError(err, conn.server, 'health check', conn.tls)}`));
      else resolve(healthStatusName(res?.status));
    });
  });
  const healthy = health === 'SERVING';
  if (output === 'compact')
    io.stdout.write(`Healthcheck (via ${conn.server}): ${healthy ? 'Ok' : `Unavailable: ${health}`}\n`);
  if (!healthy) throw new CliError('not healthy');
  const status = await new Promise<ServerStatusResponse>((resolve, reject) => {
    conn.observer.serverStatus({}, new grpc.Metadata(), { deadline: conn.unaryDeadline() }, (err, res) => {
      if (err)
        reject(
          new CliError(
            `failed to get hubble server status: ${describeCallError(err, conn.server, 'ServerStatus', conn.tls)}`,
          ),
        );
      else resolve(res!);
    });
  });
  io.stdout.write(formatServerStatus(status, output));
}

export function statusCommand(io: CliIo = PROCESS_IO): Command {
  const cmd = new Command('status')
    .description('display the status of a Hubble server (a basic connectivity health check)')
    .addOption(new Option('-o, --output <FORMAT>', 'output format: compact, dict, json, table').default('compact'));
  addConnectionOptions(cmd);
  return cmd.action(async (_opts: unknown, self: Command) => {
    const opts = self.opts();
    const output = statusOutput(String(opts['output']));
    const conn = HubbleConnection.open(connectionOptionsFrom(opts));
    try {
      await runStatus(conn, output, io);
    } finally {
      conn.close();
    }
  });
}

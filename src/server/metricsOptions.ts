// The metrics settings serve and relay share: where the Prometheus endpoint listens, and (serve only) which of Hubble's
// flow metrics to enable and how many label sets each may hold. Off unless --metrics-address is given.
import { createHandlers } from '../metrics/handlers/index.js';
import { DEFAULT_MAX_LABEL_SETS } from '../metrics/nodeMetrics.js';
import { MetricsOptionError, parseMetricsList, type MetricsHandlerSpec } from '../metrics/options.js';
import type { Registry } from 'prom-client';
import { MetricsListenError, startMetricsServer, type MetricsListen, type MetricsServer } from '../metrics/server.js';
import { joinHostPort } from '../peer/address.js';
import { ConfigError, type SettingSpec, type Settings } from './config.js';
import { tcpBindTarget } from './listeners.js';

export const METRICS_ADDRESS_SETTING: SettingSpec = {
  name: 'metrics-address',
  kind: 'string',
  value: 'HOST:PORT',
  description: 'serve Prometheus metrics on http://HOST:PORT/metrics, e.g. :9965 (off by default)',
};

export const METRICS_SETTINGS: readonly SettingSpec[] = [
  METRICS_ADDRESS_SETTING,
  {
    name: 'metrics',
    kind: 'strings',
    value: 'LIST',
    description:
      "Hubble's flow metrics to serve, separated by spaces or commas, options after ':' separated by ';' " +
      '(flow, drop, tcp, icmp, port-distribution, dns, http, httpV2; e.g. flow:sourceContext=namespace;destinationContext=pod); repeatable',
  },
  {
    name: 'metrics-label-sets-max',
    kind: 'integer',
    value: 'N',
    default: DEFAULT_MAX_LABEL_SETS,
    description: 'label sets each flow metric keeps; past this the least recently used one is dropped (and counted)',
  },
];

export interface NodeMetricsSettings {
  listen: MetricsListen;
  handlers: MetricsHandlerSpec[];
  maxLabelSets: number;
}

/** --metrics-address as host and port for node:http; ConfigError when it is not HOST:PORT. */
export function toMetricsListen(s: Settings): MetricsListen | undefined {
  const address = s['metrics-address'] as string | undefined;
  if (address === undefined || address === '') return undefined;
  let target: string;
  try {
    target = tcpBindTarget(address);
  } catch {
    throw new ConfigError(`--metrics-address "${address}" is not HOST:PORT (e.g. :9965 or 127.0.0.1:9965)`);
  }
  const colon = target.lastIndexOf(':');
  return { host: target.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(target.slice(colon + 1)) };
}

/** Validates serve's metrics settings; every refusal names the setting, the handler and the option. */
export function toNodeMetricsSettings(s: Settings): NodeMetricsSettings | undefined {
  const listen = toMetricsListen(s);
  const list = (s['metrics'] as string[] | undefined) ?? [];
  const maxLabelSets = s['metrics-label-sets-max'] as number;
  if (maxLabelSets < 1) throw new ConfigError('--metrics-label-sets-max: give at least 1');
  let handlers: MetricsHandlerSpec[];
  try {
    handlers = parseMetricsList(list);
    // Building them checks every option now, so a bad one stops serve before anything listens.
    createHandlers(handlers, { maxLabelSets });
  } catch (err) {
    if (err instanceof MetricsOptionError) throw new ConfigError(`--metrics: ${err.message}`);
    throw err;
  }
  if (listen === undefined) {
    if (handlers.length > 0) throw new ConfigError('--metrics needs --metrics-address (where to serve them)');
    return undefined;
  }
  return { listen, handlers, maxLabelSets };
}

/**
 * Starts the metrics endpoint, with its URL for the log; an address it cannot listen on is a ConfigError naming
 * --metrics-address.
 */
export async function listenForMetrics(
  registry: Registry,
  listen: MetricsListen,
  options: { instrument?: boolean } = {},
): Promise<MetricsServer & { url: string }> {
  try {
    const server = await startMetricsServer(registry, listen, options);
    return { ...server, url: `http://${joinHostPort(listen.host, server.port)}/metrics` };
  } catch (err) {
    if (err instanceof MetricsListenError) {
      throw new ConfigError(
        `--metrics-address: cannot listen on ${joinHostPort(listen.host, listen.port)}: ${err.message}`,
      );
    }
    throw err;
  }
}

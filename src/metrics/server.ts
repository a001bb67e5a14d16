// The metrics endpoint: GET /metrics answers with a registry in Prometheus' text format (as prom-client writes it);
// every other path is 404. Plain node:http, on the address --metrics-address names, nothing else on it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, type Registry } from 'prom-client';
import { describeListenError } from '../server/listeners.js';

export interface MetricsListen {
  /** An IP address or host name; "::" for every address. */
  host: string;
  port: number;
}

export interface MetricsServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/** The endpoint could not listen; the message says why in a user's words. */
export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
}

/**
 * Serves `registry` on http://host:port/metrics. With `instrument`, also counts its own requests as Hubble's metrics
 * server does (hubble_metrics_http_handler_requests_total and _request_duration_seconds, by status code).
 */
export async function startMetricsServer(
  registry: Registry,
  listen: MetricsListen,
  { instrument = false }: { instrument?: boolean } = {},
): Promise<MetricsServer> {
  const requests = instrument
    ? new Counter({
        name: 'hubble_metrics_http_handler_requests_total',
        help: 'A counter for requests to Hubble metrics handler.',
        labelNames: ['code'],
        registers: [registry],
      })
    : undefined;
  const duration = instrument
    ? new Histogram({
        name: 'hubble_metrics_http_handler_request_duration_seconds',
        help: 'A histogram of latencies of Hubble metrics handler.',
        labelNames: ['code'],
        registers: [registry],
      })
    : undefined;

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('method not allowed\n');
      return;
    }
    const started = performance.now();
    let body: string;
    try {
      body = await registry.metrics();
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(err as Error).message}\n`);
      requests?.inc({ code: '500' });
      return;
    }
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
    requests?.inc({ code: '200' });
    duration?.observe({ code: '200' }, (performance.now() - started) / 1000);
  };

  const server = createServer((req, res) => {
    serve(req, res).catch(() => res.destroy());
  });
  // A scraper keeps its connection alive between scrapes; shutdown must not wait for it.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new MetricsListenError(describeListenError(err))));
    server.listen(listen.port, listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

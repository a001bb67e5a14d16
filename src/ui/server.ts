// The web UI's HTTP side: one page (bundled at install time into dist/page, served from memory under a strict CSP),
// its JSON endpoints and the flow stream, in front of the server's own gRPC services (backend.ts). Plain node:http or
// node:https; authentication by a token (cookie or bearer) and/or client certificates; every refusal is a JSON
// sentence with the right status, and no request can crash the process.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { NodeState } from '../api/relay/relay.js';
import { FILTER_FLAGS } from '../cli/flowFilterFlags.js';
import type { UiBackend } from './backend.js';
import { FilterTextError, parseFlowsQuery } from './filterText.js';
import { FlowRowBuilder } from './flowRow.js';
import { relayFlows, StreamCounters } from './flowStream.js';
import { fromGrpc, HttpError } from './httpError.js';
import { UiRecordings } from './recordings.js';
import { describeListenError } from '../server/listeners.js';
import {
  FOLLOWS_HEADER,
  type ErrorBody,
  type FilterFlagHelp,
  type NamespaceInfo,
  type NodeInfo,
  type StatusInfo,
  type UiInfo,
} from './wire.js';

export interface UiListen {
  /** An IP address or host name; "::" for every address. */
  host: string;
  port: number;
}

export interface UiTls {
  cert: Buffer;
  key: Buffer;
  /** When set, browsers must present a certificate that chains to it. */
  clientCa: Buffer | undefined;
}

export interface UiAuth {
  /** When set, every API request must carry it (session cookie from /api/login, or `Authorization: Bearer`). */
  token: string | undefined;
}

export interface UiServerOptions {
  listen: UiListen;
  tls: UiTls | undefined;
  auth: UiAuth;
  /** The address is loopback: requests must then name a loopback host (no DNS rebinding onto this port). */
  loopback: boolean;
  maxStreams: number;
  clientQueueSize: number;
  recorder: UiInfo['recorder'];
}

export interface UiIdentity {
  mode: UiInfo['mode'];
  name: string;
  version: string;
}

export interface UiServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  url: string;
  counters: StreamCounters;
  close(): Promise<void>;
}

/** The UI could not start; the message says why in a user's words (the server turns it into a ConfigError). */
export class UiStartError extends Error {
  override readonly name = 'UiStartError';
}

/** Rows the page keeps and a request asks for by default. */
export const DEFAULT_LAST = 2000;
const MAX_BODY_BYTES = 16 * 1024;
const SESSION_COOKIE = 'hubblets_ui_session';
/** Header every request that changes something must carry: a cross-site form or script cannot send it unasked. */
export const CSRF_HEADER = 'x-hubble-ts-ui';
/** A wrong token waits this long before its answer, to slow guessing. */
const WRONG_TOKEN_DELAY_MS = 500;

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SELECTOR_HELP: readonly FilterFlagHelp[] = [
  { name: 'since', description: 'flows since this time: relative (30s, 5m, 1h) or absolute (RFC 3339)' },
  { name: 'until', description: 'flows until this time: relative or absolute' },
  { name: 'last', description: 'the last N flows in the buffer' },
  { name: 'first', description: 'the first N flows in the buffer' },
  { name: 'all', boolean: true, description: 'every flow in the buffer' },
  { name: 'follow', short: 'f', boolean: true, description: 'keep following new flows (the Follow switch does this)' },
];

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The page's files: dist/page beside the compiled server, or in the checkout when run from source. */
function loadAssets(): Map<string, Asset> {
  const candidates = [join(import.meta.dirname, '../page'), join(import.meta.dirname, '../../dist/page')];
  const dir = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (dir === undefined) {
    throw new UiStartError(
      `the web UI's page is not built (looked in ${candidates.join(' and ')}): run npm run build (npm install runs it)`,
    );
  }
  const files: [string, string, string][] = [
    ['/', 'index.html', 'text/html; charset=utf-8'],
    ['/assets/app.js', 'app.js', 'text/javascript; charset=utf-8'],
    ['/assets/app.css', 'app.css', 'text/css; charset=utf-8'],
    ['/assets/favicon.svg', 'favicon.svg', 'image/svg+xml'],
  ];
  const assets = new Map<string, Asset>();
  for (const [path, file, type] of files) {
    let body: Buffer;
    try {
      body = readFileSync(join(dir, file));
    } catch (err) {
      throw new UiStartError(`the web UI's page is incomplete (${(err as Error).message}): run npm run build`);
    }
    assets.set(path, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  assets.set('/index.html', assets.get('/')!);
  return assets;
}

function hostOfHeader(host: string | undefined): string {
  if (host === undefined) return '';
  const m = /^\[([^\]]*)\](?::\d*)?$/.exec(host) ?? /^([^:]*)(?::\d*)?$/.exec(host);
  return (m?.[1] ?? host).toLowerCase();
}

function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

function seconds(ns: number): number {
  return Math.floor(ns / 1e9);
}

export async function startUiServer(
  options: UiServerOptions,
  backend: UiBackend,
  identity: UiIdentity,
  logger: Logger,
): Promise<UiServer> {
  const assets = loadAssets();
  const counters = new StreamCounters();
  const rows = new FlowRowBuilder();
  const recordings =
    options.recorder.enabled && backend.recorder !== undefined ? new UiRecordings(backend.recorder) : undefined;
  const token = options.auth.token;
  // The session cookie proves the token without being it: rotating the token file (and restarting) ends every session.
  const session = token === undefined ? undefined : createHmac('sha256', token).update('hubble-ts ui').digest('hex');
  const secure = options.tls !== undefined;
  const info: UiInfo = {
    mode: identity.mode,
    name: identity.name,
    version: identity.version,
    recorder: recordings !== undefined ? { enabled: true } : options.recorder,
    defaultLast: DEFAULT_LAST,
    filterFlags: [
      ...FILTER_FLAGS.map((f) => ({
        name: f.name,
        ...(f.short !== undefined && { short: f.short }),
        ...(f.boolean && { boolean: true as const }),
        description: f.description,
      })),
      ...SELECTOR_HELP,
    ],
  };

  const headers = (res: ServerResponse) => {
    res.setHeader('content-security-policy', CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('cross-origin-opener-policy', 'same-origin');
    res.setHeader('cross-origin-resource-policy', 'same-origin');
    if (secure) res.setHeader('strict-transport-security', 'max-age=31536000');
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };

  const fail = (res: ServerResponse, err: HttpError) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    json(res, err.status, { error: err.message } satisfies ErrorBody);
  };

  /** Whether the request proves the token: 'none' when it tries nothing (a page that must log in first). */
  const authentication = (req: IncomingMessage): 'ok' | 'none' | 'wrong' => {
    if (session === undefined) return 'ok';
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) return safeEqual(bearer, token!) ? 'ok' : 'wrong';
    const cookie = cookieValue(req, SESSION_COOKIE);
    if (cookie === undefined) return 'none';
    return safeEqual(cookie, session) ? 'ok' : 'wrong';
  };

  const readJson = (req: IncomingMessage): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') {
        reject(new HttpError(415, 'send the request body as application/json'));
        req.resume();
        return;
      }
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > MAX_BODY_BYTES) {
        reject(new HttpError(413, `the request body is over ${MAX_BODY_BYTES} bytes`));
        req.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          reject(new HttpError(413, `the request body is over ${MAX_BODY_BYTES} bytes`));
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (size > MAX_BODY_BYTES) return;
        try {
          resolve(size === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new HttpError(400, 'the request body is not valid JSON'));
        }
      });
      req.on('error', reject);
    });

  const allow = (req: IncomingMessage, ...methods: string[]) => {
    if (!methods.includes(req.method ?? '')) {
      throw new HttpError(405, `${req.method} is not allowed here (use ${methods.join(' or ')})`);
    }
  };

  const serveAsset = (req: IncomingMessage, res: ServerResponse, asset: Asset) => {
    allow(req, 'GET', 'HEAD');
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, { etag: asset.etag }).end();
      return;
    }
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': asset.body.length,
      etag: asset.etag,
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };

  const requireRecordings = (): UiRecordings => {
    if (recordings === undefined) {
      throw new HttpError(404, options.recorder.enabled ? 'recordings are not served here' : options.recorder.reason);
    }
    return recordings;
  };

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL, parts: string[]): Promise<void> => {
    const route = parts.slice(1).join('/');
    if (route === 'login') {
      allow(req, 'POST');
      const body = (await readJson(req)) as { token?: unknown };
      if (session === undefined) {
        res.writeHead(204).end();
        return;
      }
      if (typeof body.token !== 'string' || !safeEqual(body.token.trim(), token!)) {
        await new Promise((r) => setTimeout(r, WRONG_TOKEN_DELAY_MS));
        throw new HttpError(401, 'that is not the token in --ui-token-file');
      }
      res.setHeader(
        'set-cookie',
        `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`,
      );
      res.writeHead(204).end();
      return;
    }
    const proof = authentication(req);
    if (proof !== 'ok') {
      // A wrong token or session waits, as a wrong login does: guessing is slow.
      if (proof === 'wrong') await new Promise((r) => setTimeout(r, WRONG_TOKEN_DELAY_MS));
      throw new HttpError(401, 'this web UI asks for a token: enter the one in --ui-token-file');
    }
    switch (route) {
      case 'info':
        allow(req, 'GET');
        return json(res, 200, info);
      case 'status': {
        allow(req, 'GET');
        const s = await backend.observer.serverStatus().catch((err: unknown) => {
          throw fromGrpc(err, 'asking for the server status');
        });
        const body: StatusInfo = {
          numFlows: s.numFlows,
          maxFlows: s.maxFlows,
          seenFlows: s.seenFlows,
          uptimeSeconds: seconds(s.uptimeNs),
          flowsRate: s.flowsRate,
          ...(s.numConnectedNodes !== undefined && { connectedNodes: s.numConnectedNodes }),
          ...(s.numUnavailableNodes !== undefined && { unavailableNodes: s.numUnavailableNodes }),
          version: s.version,
          ui: { streams: counters.streams, dropped: counters.dropped },
        };
        return json(res, 200, body);
      }
      case 'nodes': {
        allow(req, 'GET');
        const answer = await backend.observer.getNodes().catch((err: unknown) => {
          throw fromGrpc(err, 'listing nodes');
        });
        const nodes: NodeInfo[] = answer.nodes.map((n) => ({
          name: n.name,
          version: n.version,
          address: n.address,
          state: NodeState[n.state] ?? String(n.state),
          tls: n.tls?.enabled === true,
          uptimeSeconds: seconds(n.uptimeNs),
          numFlows: n.numFlows,
          maxFlows: n.maxFlows,
          seenFlows: n.seenFlows,
        }));
        return json(res, 200, nodes);
      }
      case 'namespaces': {
        allow(req, 'GET');
        const answer = await backend.observer.getNamespaces().catch((err: unknown) => {
          throw fromGrpc(err, 'listing namespaces');
        });
        return json(
          res,
          200,
          answer.namespaces.map((n): NamespaceInfo => ({ cluster: n.cluster, namespace: n.namespace })),
        );
      }
      case 'flows': {
        allow(req, 'GET');
        const follow = url.searchParams.get('follow') === '1';
        const namespace = url.searchParams.get('namespace') ?? '';
        let query;
        try {
          query = parseFlowsQuery(url.searchParams.get('filter') ?? '', {
            follow,
            defaultLast: DEFAULT_LAST,
            extra: namespace === '' ? [] : ['--namespace', namespace],
          });
        } catch (err) {
          if (err instanceof FilterTextError) throw new HttpError(400, `filter: ${err.message}`);
          throw err;
        }
        if (counters.streams >= options.maxStreams) {
          throw new HttpError(
            503,
            `${counters.streams} flow streams are open, the most this server serves (--ui-max-streams): close another tab and retry`,
          );
        }
        res.setHeader(FOLLOWS_HEADER, query.request.follow ? '1' : '0');
        await relayFlows(res, backend.observer.getFlows(query.request), rows, {
          queueSize: options.clientQueueSize,
          follow: query.request.follow,
          counters,
        });
        return;
      }
      case 'recordings': {
        allow(req, 'GET', 'POST');
        const store = requireRecordings();
        if (req.method === 'GET') return json(res, 200, await store.list());
        return json(res, 201, await store.start(await readJson(req)));
      }
    }
    if (parts[1] === 'recordings' && parts.length >= 3 && parts.length <= 4) {
      const store = requireRecordings();
      const name = parts[2]!;
      const action = parts[3];
      if (action === undefined) {
        allow(req, 'DELETE');
        return json(res, 200, await store.delete(name));
      }
      if (action === 'stop') {
        allow(req, 'POST');
        return json(res, 200, { stats: (await store.stop(name)) ?? null });
      }
      if (action === 'download') {
        allow(req, 'GET');
        return store.download(name, res);
      }
    }
    throw new HttpError(404, `no such endpoint: ${url.pathname}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    headers(res);
    // On loopback, a request naming another host is a page elsewhere that had its name resolve here (DNS rebinding).
    if (options.loopback && !isLoopbackName(hostOfHeader(req.headers.host))) {
      throw new HttpError(
        421,
        `this web UI answers only to loopback names (localhost, 127.0.0.1, [::1]), not "${req.headers.host ?? ''}"`,
      );
    }
    let url: URL;
    let parts: string[];
    try {
      url = new URL(req.url ?? '/', 'http://ui.invalid');
      parts = url.pathname
        .split('/')
        .filter((p) => p !== '')
        .map((p) => decodeURIComponent(p));
    } catch {
      throw new HttpError(400, 'the request path is not valid');
    }
    if (parts[0] === 'api') {
      // Whatever changes something must come from this page: a cross-site form or image cannot add this header.
      if (req.method !== 'GET' && req.method !== 'HEAD' && req.headers[CSRF_HEADER] !== '1') {
        throw new HttpError(403, `requests that change something must carry the header ${CSRF_HEADER}: 1`);
      }
      await api(req, res, url, parts);
      return;
    }
    if (url.pathname === '/favicon.ico') {
      serveAsset(req, res, assets.get('/assets/favicon.svg')!);
      return;
    }
    const asset = assets.get(url.pathname);
    if (asset === undefined) throw new HttpError(404, `no such page: ${url.pathname}`);
    serveAsset(req, res, asset);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, `internal error: ${(err as Error).message}`);
      if (e.status >= 500) logger.warn({ url: req.url, status: e.status, err: e.message }, 'web UI request failed');
      fail(res, e);
    });
  };

  const server: Server = options.tls
    ? createHttpsServer(
        {
          cert: options.tls.cert,
          key: options.tls.key,
          ...(options.tls.clientCa !== undefined && {
            ca: options.tls.clientCa,
            requestCert: true,
            rejectUnauthorized: true,
          }),
        },
        onRequest,
      )
    : createHttpServer(onRequest);
  server.keepAliveTimeout = 5_000;
  // A browser's connection errors (reset, TLS alerts) are the browser's business; they must not reach the process.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UiStartError(describeListenError(err))));
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  const url = `${secure ? 'https' : 'http'}://${host === '' || host === '[::]' ? 'localhost' : host}:${port}/`;
  return {
    port,
    url,
    counters,
    close: () =>
      new Promise<void>((resolve) => {
        recordings?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// The web UI's settings, shared by serve and relay: where it listens, its TLS and authentication, and how much it
// holds for each browser. Off unless --ui-address is given; on an address other than loopback it refuses to start
// without TLS and a token or client certificates, because the page shows every flow and (on a node) records packets.
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { joinHostPort } from '../peer/address.js';
import type { UiBackend } from '../ui/backend.js';
import {
  startUiServer,
  UiStartError,
  type UiAuth,
  type UiIdentity,
  type UiListen,
  type UiServer,
  type UiTls,
} from '../ui/server.js';
import { ConfigError, type SettingSpec, type Settings } from './config.js';
import { readCertificate, readKeyPair, tcpBindTarget } from './listeners.js';

export const DEFAULT_UI_MAX_STREAMS = 16;
export const DEFAULT_UI_CLIENT_QUEUE = 4096;
/** Shorter tokens are guessable; `openssl rand -hex 32` makes a good one. */
const MIN_TOKEN_LENGTH = 16;

export const UI_SETTINGS: readonly SettingSpec[] = [
  {
    name: 'ui-address',
    kind: 'string',
    value: 'HOST:PORT',
    description:
      'serve the web UI on http(s)://HOST:PORT, e.g. 127.0.0.1:12000 (off by default; an address other than loopback needs TLS and --ui-token-file or --ui-tls-client-ca-files)',
  },
  {
    name: 'ui-tls-cert-file',
    kind: 'string',
    value: 'FILE',
    description: 'certificate (PEM) the web UI serves HTTPS with',
  },
  { name: 'ui-tls-key-file', kind: 'string', value: 'FILE', description: 'private key (PEM) of --ui-tls-cert-file' },
  {
    name: 'ui-tls-client-ca-files',
    kind: 'strings',
    value: 'FILE',
    description: 'CA bundles browser client certificates must chain to (the web UI then requires one); repeatable',
  },
  {
    name: 'ui-token-file',
    kind: 'string',
    value: 'FILE',
    description: `file holding the token the web UI asks for (at least ${MIN_TOKEN_LENGTH} characters; the file readable by its owner only)`,
  },
  {
    name: 'ui-max-streams',
    kind: 'integer',
    value: 'N',
    default: DEFAULT_UI_MAX_STREAMS,
    description: 'flow streams the web UI serves at once (a browser tab following flows holds one)',
  },
  {
    name: 'ui-client-queue-size',
    kind: 'integer',
    value: 'N',
    default: DEFAULT_UI_CLIENT_QUEUE,
    description: 'flows the web UI holds for a browser that reads slowly; beyond this they are dropped and counted',
  },
];

/** serve only: the relay has no Recorder to offer. */
export const UI_RECORDER_SETTING: SettingSpec = {
  name: 'ui-disable-recorder',
  kind: 'boolean',
  default: false,
  description: 'do not offer recordings in the web UI (offered on loopback, or with client certificates)',
};

export interface UiOptions {
  listen: UiListen;
  tls: UiTls | undefined;
  auth: UiAuth;
  /** True when the address is a loopback one (or localhost): the page is local to this host. */
  loopback: boolean;
  maxStreams: number;
  clientQueueSize: number;
  /** Whether the page may record (node only), and why not when it may not. */
  recorder: { enabled: true } | { enabled: false; reason: string };
}

/** True for 127.0.0.0/8, ::1, IPv4-mapped loopback and "localhost" (RFC 6761 keeps it on this host). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{0,4}:){5}ffff:127\./.test(h) || /^::ffff:127\./.test(h);
  return false;
}

function parseListen(address: string): UiListen {
  let target: string;
  try {
    target = tcpBindTarget(address);
  } catch {
    throw new ConfigError(`--ui-address "${address}" is not HOST:PORT (e.g. 127.0.0.1:12000)`);
  }
  const colon = target.lastIndexOf(':');
  return { host: target.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(target.slice(colon + 1)) };
}

/** Reads the token file, refusing one others can read or one too short to resist guessing. */
function readToken(path: string): string {
  let mode: number;
  let text: string;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--ui-token-file: cannot read ${path}: ${(err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `--ui-token-file: ${path} is readable by other users (mode ${(mode & 0o777).toString(8)}): chmod 600 ${path}`,
    );
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError(
      `--ui-token-file: ${path} must hold one token of at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32 > ${path})`,
    );
  }
  return token;
}

/**
 * Validates the UI settings; undefined when --ui-address is not given. `withRecorder` is true on a node (the relay has
 * no Recorder): the page then records only on loopback or behind client certificates, as the gRPC side serves the
 * Recorder off the host only with mutual TLS.
 */
export function toUiOptions(s: Settings, withRecorder: boolean): UiOptions | undefined {
  const address = s['ui-address'] as string | undefined;
  const certFile = s['ui-tls-cert-file'] as string | undefined;
  const keyFile = s['ui-tls-key-file'] as string | undefined;
  const clientCaFiles = (s['ui-tls-client-ca-files'] as string[] | undefined) ?? [];
  const tokenFile = s['ui-token-file'] as string | undefined;
  if (address === undefined || address === '') {
    const orphan = [
      ['ui-tls-cert-file', certFile],
      ['ui-tls-key-file', keyFile],
      ['ui-token-file', tokenFile],
      ['ui-tls-client-ca-files', clientCaFiles.length > 0 ? 'set' : undefined],
    ].find(([, v]) => v !== undefined && v !== '');
    if (orphan !== undefined) throw new ConfigError(`--${orphan[0]} needs --ui-address`);
    return undefined;
  }
  const listen = parseListen(address);
  const loopback = isLoopbackHost(listen.host);

  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new ConfigError('--ui-tls-cert-file and --ui-tls-key-file go together (the web UI serves HTTPS with both)');
  }
  let tls: UiTls | undefined;
  if (certFile && keyFile) {
    const pair = readKeyPair('ui-tls-cert-file', certFile, 'ui-tls-key-file', keyFile, 'web UI');
    const clientCas = clientCaFiles.map((f) => readCertificate('ui-tls-client-ca-files', f, 'web UI client CA').pem);
    tls = { cert: pair.cert, key: pair.key, clientCa: clientCas.length > 0 ? Buffer.concat(clientCas) : undefined };
  } else if (clientCaFiles.length > 0) {
    throw new ConfigError('--ui-tls-client-ca-files needs --ui-tls-cert-file and --ui-tls-key-file (HTTPS)');
  }
  const token = tokenFile ? readToken(tokenFile) : undefined;

  if (!loopback) {
    // Flows name every peer of this host and recordings hold payloads: off the host, only over TLS to someone known.
    const where = `--ui-address ${address} is reachable from other hosts`;
    if (tls === undefined) {
      throw new ConfigError(
        `${where}: give --ui-tls-cert-file and --ui-tls-key-file, and --ui-token-file or --ui-tls-client-ca-files (or listen on 127.0.0.1)`,
      );
    }
    if (token === undefined && tls.clientCa === undefined) {
      throw new ConfigError(
        `${where}: give --ui-token-file or --ui-tls-client-ca-files so that only people you chose can open it (or listen on 127.0.0.1)`,
      );
    }
  }

  const maxStreams = s['ui-max-streams'] as number;
  if (maxStreams < 1) throw new ConfigError('--ui-max-streams: give at least 1');
  const clientQueueSize = s['ui-client-queue-size'] as number;
  if (clientQueueSize < 1) throw new ConfigError('--ui-client-queue-size: give at least 1');

  let recorder: UiOptions['recorder'];
  if (!withRecorder) {
    recorder = { enabled: false, reason: 'Hubble Relay does not serve the Recorder: record on a node’s own web UI' };
  } else if (s['ui-disable-recorder'] === true) {
    recorder = { enabled: false, reason: 'recordings are turned off here (--ui-disable-recorder)' };
  } else if (!loopback && tls?.clientCa === undefined) {
    recorder = {
      enabled: false,
      reason:
        'recordings hold packet payloads: off this host the web UI offers them only to client certificates (--ui-tls-client-ca-files)',
    };
  } else {
    recorder = { enabled: true };
  }

  return {
    listen,
    tls,
    auth: { token },
    loopback,
    maxStreams,
    clientQueueSize,
    recorder,
  };
}

/** Starts the web UI; a page that is not built or an address it cannot listen on is a ConfigError naming --ui-address. */
export async function listenForUi(
  options: UiOptions,
  backend: UiBackend,
  identity: UiIdentity,
  logger: Logger,
): Promise<UiServer> {
  try {
    return await startUiServer(options, backend, identity, logger);
  } catch (err) {
    if (err instanceof UiStartError) {
      throw new ConfigError(`--ui-address ${joinHostPort(options.listen.host, options.listen.port)}: ${err.message}`);
    }
    throw err;
  }
}

// Connecting the hubble-ts client commands to a Hubble API server, and turning every way that can
// fail into one line a person can act on.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import type { Command } from 'commander';
import { RecordingsClient } from '../api/hubblets/recordings/v1/recordings.js';
import { ObserverClient } from '../api/observer/observer.js';
import { PeerClient } from '../api/peer/peer.js';
import { RecorderClient } from '../api/recorder/recorder.js';
import { parseDurationMs } from '../server/config.js';
import { CONNECTION_SETTINGS, readSettingsFromEnvAndFile, type ClientConfigKey } from './clientConfig.js';

export const DEFAULT_SERVER = 'unix:///var/run/hubble-ts/hubble.sock';
/** hubble's `tls://` prefix: the address is a TCP one and TLS is implied. */
const TLS_PREFIX = 'tls://';
const DEFAULT_DIAL_TIMEOUT_MS = 5_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 12_000;
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The one error type of the client commands: main prints `hubble-ts: <message>` and exits non-zero. */
export class CliError extends Error {
  override readonly name = 'CliError';
  /** The code main.ts recognises as "print the message, no stack". */
  readonly code = 'ERR_HUBBLE_TS';
}

export interface ConnectionOptions {
  server: string;
  tls: boolean;
  tlsAllowInsecure: boolean;
  tlsCaCertFiles: string[];
  tlsClientCertFile?: string;
  tlsClientKeyFile?: string;
  tlsServerName?: string;
  /** How long to wait for the connection to come up. */
  dialTimeoutMs: number;
  /** Deadline of unary requests (status, list). */
  requestTimeoutMs: number;
}

/**
 * Adds hubble's server flags and `--config` to a client command; they, and the command's own `configurable`
 * settings, may also come from the environment and the config file (see clientConfig.ts).
 */
export function addConnectionOptions(cmd: Command, configurable: readonly ClientConfigKey[] = []): Command {
  cmd
    .option(
      '--server <ADDRESS>',
      `address of the Hubble API server: unix:///path, unix:path, host:port or tls://host:port`,
      DEFAULT_SERVER,
    )
    .option('--tls', 'use TLS to talk to the server', false)
    .option('--tls-allow-insecure', 'accept any server certificate (no verification)', false)
    .option(
      '--tls-ca-cert-files <FILES>',
      'CA certificates (PEM) to verify the server with; repeat or comma-separate',
      (v: string, prev: string[] = []) => [...prev, ...v.split(',').filter((s) => s !== '')],
    )
    .option('--tls-client-cert-file <FILE>', 'client certificate (PEM) for mutual TLS')
    .option('--tls-client-key-file <FILE>', 'client private key (PEM) for mutual TLS')
    .option('--tls-server-name <NAME>', 'name to expect in the server certificate (defaults to the host of --server)')
    .option(
      '--timeout <DURATION>',
      'how long to wait for the connection to the server',
      checkedDuration('timeout'),
      '5s',
    )
    .option('--request-timeout <DURATION>', 'deadline of unary requests', checkedDuration('request-timeout'), '12s');
  return readSettingsFromEnvAndFile(cmd, [...CONNECTION_SETTINGS, ...configurable]);
}

/** An argument parser that refuses what is not a duration when it is given, and keeps the text. */
function checkedDuration(flag: string): (text: string) => string {
  return (text) => {
    try {
      parseDurationMs(text, `--${flag}`);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    return text;
  };
}

/** Reads the server flags back from a command's parsed options. */
export function connectionOptionsFrom(opts: Record<string, unknown>): ConnectionOptions {
  const duration = (flag: string, value: unknown, fallback: number): number => {
    if (value === undefined) return fallback;
    try {
      return parseDurationMs(String(value), `--${flag}`);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  };
  const server = String(opts['server'] ?? DEFAULT_SERVER);
  return {
    server,
    tls: opts['tls'] === true || server.startsWith(TLS_PREFIX),
    tlsAllowInsecure: opts['tlsAllowInsecure'] === true,
    tlsCaCertFiles: (opts['tlsCaCertFiles'] as string[] | undefined) ?? [],
    tlsClientCertFile: opts['tlsClientCertFile'] as string | undefined,
    tlsClientKeyFile: opts['tlsClientKeyFile'] as string | undefined,
    tlsServerName: opts['tlsServerName'] as string | undefined,
    dialTimeoutMs: duration('timeout', opts['timeout'], DEFAULT_DIAL_TIMEOUT_MS),
    requestTimeoutMs: duration('request-timeout', opts['requestTimeout'], DEFAULT_REQUEST_TIMEOUT_MS),
  };
}

/** Turns the --server value into a grpc-js target; unix targets are passed through as grpc-js reads them. */
export function grpcTarget(server: string): string {
  const address = server.startsWith(TLS_PREFIX) ? server.slice(TLS_PREFIX.length) : server;
  if (address === '') throw new CliError('--server is empty');
  if (address.startsWith('unix:')) {
    if (address === 'unix:' || address === 'unix://') throw new CliError(`--server ${server}: missing socket path`);
    return address;
  }
  if (address.startsWith('/')) return `unix://${address}`;
  return address;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function channelCredentials(o: ConnectionOptions): grpc.ChannelCredentials {
  if (!o.tls) {
    if (
      o.tlsAllowInsecure ||
      o.tlsCaCertFiles.length > 0 ||
      o.tlsClientCertFile ||
      o.tlsClientKeyFile ||
      o.tlsServerName
    ) {
      throw new CliError('TLS options given without --tls (or a tls:// server address)');
    }
    return grpc.credentials.createInsecure();
  }
  if ((o.tlsClientCertFile === undefined) !== (o.tlsClientKeyFile === undefined)) {
    throw new CliError('--tls-client-cert-file and --tls-client-key-file must be given together');
  }
  const ca =
    o.tlsCaCertFiles.length === 0
      ? null
      : Buffer.concat(o.tlsCaCertFiles.map((f) => readPem(f, 'CA certificate file')));
  const key = o.tlsClientKeyFile === undefined ? null : readPem(o.tlsClientKeyFile, 'client key file');
  const cert = o.tlsClientCertFile === undefined ? null : readPem(o.tlsClientCertFile, 'client certificate file');
  const verify: grpc.VerifyOptions = o.tlsAllowInsecure
    ? { rejectUnauthorized: false, checkServerIdentity: () => undefined }
    : {};
  return grpc.credentials.createSsl(ca, key, cert, verify);
}

/** grpc.health.v1 client: the package ships only the service definition. */
interface HealthClient extends grpc.Client {
  check(
    request: { service: string },
    options: Partial<grpc.CallOptions>,
    callback: (err: grpc.ServiceError | null, response?: { status: string | number }) => void,
  ): grpc.ClientUnaryCall;
}
const HealthClientConstructor = grpc.makeGenericClientConstructor(
  healthService as unknown as grpc.ServiceDefinition,
  'grpc.health.v1.Health',
) as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => HealthClient;

/** One channel to the server with the clients the commands need. */
export class HubbleConnection {
  readonly observer: ObserverClient;
  private healthClient?: HealthClient;
  private recorderClient?: RecorderClient;
  private recordingsClient?: RecordingsClient;
  private peerClient?: PeerClient;

  private constructor(
    readonly options: ConnectionOptions,
    private readonly target: string,
    private readonly credentials: grpc.ChannelCredentials,
    private readonly channelOptions: grpc.ClientOptions,
  ) {
    this.observer = new ObserverClient(target, credentials, channelOptions);
  }

  static open(options: ConnectionOptions): HubbleConnection {
    const target = grpcTarget(options.server);
    const channelOptions: grpc.ClientOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    };
    if (options.tlsServerName !== undefined) {
      channelOptions['grpc.ssl_target_name_override'] = options.tlsServerName;
      channelOptions['grpc.default_authority'] = options.tlsServerName;
    }
    return new HubbleConnection(options, target, channelCredentials(options), channelOptions);
  }

  /** The server as the user named it, for messages. */
  get server(): string {
    return this.options.server;
  }

  /** Whether the connection is made over TLS. */
  get tls(): boolean {
    return this.options.tls;
  }

  health(): HealthClient {
    // Shares the observer client's channel so the health check proves the same connection.
    this.healthClient ??= new HealthClientConstructor(this.target, this.credentials, {
      ...this.channelOptions,
      channelOverride: this.observer.getChannel(),
    });
    return this.healthClient;
  }

  /** recorder.Recorder on the same channel. */
  recorder(): RecorderClient {
    this.recorderClient ??= new RecorderClient(this.target, this.credentials, {
      ...this.channelOptions,
      channelOverride: this.observer.getChannel(),
    });
    return this.recorderClient;
  }

  /** peer.Peer on the same channel. */
  peer(): PeerClient {
    this.peerClient ??= new PeerClient(this.target, this.credentials, {
      ...this.channelOptions,
      channelOverride: this.observer.getChannel(),
    });
    return this.peerClient;
  }

  /** hubblets.recordings.v1.Recordings on the same channel. */
  recordings(): RecordingsClient {
    this.recordingsClient ??= new RecordingsClient(this.target, this.credentials, {
      ...this.channelOptions,
      channelOverride: this.observer.getChannel(),
    });
    return this.recordingsClient;
  }

  /**
   * Waits until the channel is connected, up to the dial timeout. A connection that fails outright
   * returns early so the first call fails fast and carries the reason; only a server that neither
   * answers nor refuses ends in the timeout message.
   */
  async waitConnected(signal?: AbortSignal): Promise<void> {
    const channel = this.observer.getChannel();
    const deadline = Date.now() + this.options.dialTimeoutMs;
    let state = channel.getConnectivityState(true);
    while (state !== grpc.connectivityState.READY && state !== grpc.connectivityState.TRANSIENT_FAILURE) {
      if (signal?.aborted) return;
      if (state === grpc.connectivityState.SHUTDOWN) throw new CliError(`connection to ${this.server} was closed`);
      const changed = await new Promise<boolean>((resolve) => {
        channel.watchConnectivityState(state, deadline, (err) => resolve(err === undefined));
      });
      if (!changed) {
        throw new CliError(
          `timed out after ${this.options.dialTimeoutMs / 1000}s connecting to ${this.server} (see --timeout)`,
        );
      }
      state = channel.getConnectivityState(true);
    }
  }

  /** Deadline for one unary request. */
  unaryDeadline(): Date {
    return new Date(Date.now() + this.options.requestTimeoutMs);
  }

  close(): void {
    this.healthClient?.close();
    this.recorderClient?.close();
    this.recordingsClient?.close();
    this.peerClient?.close();
    this.observer.close();
  }
}

/** Opens a connection from the command's flags, waits for it, runs `body`, and always closes it. */
export async function withConnection(
  opts: Record<string, unknown>,
  body: (conn: HubbleConnection) => Promise<void>,
): Promise<void> {
  const conn = HubbleConnection.open(connectionOptionsFrom(opts));
  try {
    await conn.waitConnected();
    await body(conn);
  } finally {
    conn.close();
  }
}

/**
 * One unary call as a promise; a failure becomes a CliError worded by `describe` (by default the generic
 * describeCallError, which names the server and the method).
 */
export function unaryCall<T>(
  conn: HubbleConnection,
  what: string,
  call: (cb: (err: grpc.ServiceError | null, res?: T) => void) => void,
  describe: (err: grpc.ServiceError, server: string, what: string) => string = describeCallError,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    call((err, res) => (err ? reject(new CliError(describe(err, conn.server, what))) : resolve(res!)));
  });
}

/** True for a gRPC status error (what grpc-js hands to callbacks and stream 'error' events). */
export function isServiceError(err: unknown): err is grpc.ServiceError {
  return (
    typeof err === 'object' && err !== null && typeof (err as grpc.ServiceError).code === 'number' && 'details' in err
  );
}

const TLS_FAILURE =
  /certificate|ssl|tls|handshake|wrong version number|self[- ]signed|unable to verify|alert|ERR_TLS|ERR_SSL|CERT_/i;

/** The underlying socket/TLS error grpc-js folds into an UNAVAILABLE status, without its prefixes. */
function lastConnectionError(details: string): string {
  const m = /Last error: (?:Error: )?(.*)$/s.exec(details);
  // grpc-js appends " (<time>). Resolution note: ..." and OpenSSL's messages end in a newline: one line is the rule.
  return (m?.[1] ?? details)
    .replace(/(\s*\(\d{4}-\d\d-\d\dT[^)]*\))?\.?\s*Resolution note:.*$/s, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Turns a failed call into one line: what failed and, where we know it, what to do. */
export function describeCallError(
  err: unknown,
  server: string,
  what: string,
  tls = server.startsWith(TLS_PREFIX),
): string {
  if (!isServiceError(err)) return `${what} failed: ${(err as Error).message ?? String(err)}`;
  const details = err.details || err.message;
  switch (err.code) {
    case grpc.status.UNAVAILABLE: {
      const cause = lastConnectionError(details);
      if (/ECONNREFUSED/.test(cause)) return `connection refused at ${server} (is the server running?)`;
      if (/ENOENT/.test(cause)) return `no socket at ${server} (is hubble-ts serve running, and is --server right?)`;
      if (/EACCES|EPERM/.test(cause)) return `permission denied opening ${server} (try sudo, or a socket you can read)`;
      if (/ENOTFOUND|EAI_AGAIN|Name resolution failed|DNS resolution failed/i.test(cause))
        return `cannot resolve the host of ${server}: ${cause}`;
      if (
        /ECONNRESET|socket hang up|Connection dropped|GOAWAY|^Failed to connect$/i.test(cause) &&
        !TLS_FAILURE.test(cause)
      ) {
        // Over TLS, a server that refuses our client certificate (TLS 1.3) closes the connection once its handshake is
        // done: grpc-js then reports no alert, only the closed connection.
        return tls
          ? `${server} closed the connection during or right after the TLS handshake (${cause}); if it requires client certificates, give one signed by a CA it trusts (--tls-client-cert-file, --tls-client-key-file)`
          : `${server} closed the connection (${cause}); does it expect TLS (--tls or a tls:// address)?`;
      }
      // nghttp2's word for a peer that answered our HTTP/2 preface with something else: "HTTP/1.1 400 ...".
      if (/^Protocol error$/i.test(cause)) {
        return `${server} is not a gRPC server (it answered in HTTP/1.x, not HTTP/2: a metrics or web UI port?): check --server`;
      }
      if (/wrong version number|packet length too long|unknown protocol/i.test(cause)) {
        return `TLS handshake with ${server} failed: the server does not speak TLS (drop --tls and the tls:// prefix)`;
      }
      // Alerts the server sent: about our client certificate, not its own.
      if (/alert certificate required|SSL alert number 116\b/i.test(cause)) {
        return `TLS handshake with ${server} failed: the server requires a client certificate (give --tls-client-cert-file and --tls-client-key-file)`;
      }
      if (/alert (unknown ca|bad certificate|certificate unknown)|SSL alert number (42|46|48)\b/i.test(cause)) {
        return `TLS handshake with ${server} failed: the server refused our client certificate (give one signed by a CA the server trusts, with --tls-client-cert-file and --tls-client-key-file)`;
      }
      if (/self[- ]signed|unable to (get|verify)|UNABLE_TO_VERIFY|unknown ca/i.test(cause)) {
        return `TLS handshake with ${server} failed: ${cause} (give the CA that signed its certificate with --tls-ca-cert-files)`;
      }
      if (/ALTNAME|does not match certificate/i.test(cause)) {
        return `TLS handshake with ${server} failed: ${cause} (connect by a name the certificate holds, or set --tls-server-name)`;
      }
      if (TLS_FAILURE.test(cause)) return `TLS handshake with ${server} failed: ${cause}`;
      return `${server} is unavailable: ${cause}`;
    }
    case grpc.status.DEADLINE_EXCEEDED:
      return `${what} timed out waiting for ${server} (${details})`;
    case grpc.status.UNIMPLEMENTED:
      if (/^Received HTTP status code \d+/.test(details)) {
        return `${server} is not a gRPC server (${details.replace('Received ', 'it answered with ')}): check --server`;
      }
      return `${server} does not implement ${what}: ${details}`;
    case grpc.status.UNAUTHENTICATED:
      return `${server} refused our credentials for ${what}: ${details}`;
    case grpc.status.PERMISSION_DENIED:
      return `${server} denied ${what}: ${details}`;
    case grpc.status.INVALID_ARGUMENT:
      return `${server} rejected the ${what} request: ${details}`;
    case grpc.status.RESOURCE_EXHAUSTED:
      return `${what} exceeded a server or message size limit: ${details}`;
    case grpc.status.UNKNOWN:
      // hubble prints the server's own message for UNKNOWN: that is where servers put free text.
      return details;
    default:
      return `${what} failed with ${grpc.status[err.code] ?? err.code}: ${details}`;
  }
}

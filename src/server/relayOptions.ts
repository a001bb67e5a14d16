// The settings of `hubble-ts relay` (hubble-relay's, by the same names and defaults): their table (flags and YAML
// keys) and the validated options they produce, certificates read, so a bad setting stops the relay before it starts.
import { pino } from 'pino';
import { parseHostPort } from '../peer/address.js';
import type { ClientTls } from '../relay/peerManager.js';
import { ConfigError, type SettingSpec, type Settings } from './config.js';
import { checkServerTls, readCertificate, readKeyPair, tcpBindTarget } from './listeners.js';
import { DEFAULT_SOCKET_PATH } from './serveOptions.js';
import { METRICS_ADDRESS_SETTING, toMetricsListen } from './metricsOptions.js';
import type { MetricsListen } from '../metrics/server.js';
import { toUiOptions, UI_SETTINGS, type UiOptions } from './uiOptions.js';

export const RELAY_SETTINGS: readonly SettingSpec[] = [
  {
    name: 'cluster-name',
    kind: 'string',
    value: 'NAME',
    default: 'default',
    description: 'name of the cluster: TLS server names of nodes (and of a remote Peer service) are derived from it',
  },
  {
    name: 'peer-service',
    kind: 'string',
    value: 'ADDRESS',
    default: `unix://${DEFAULT_SOCKET_PATH}`,
    description: 'address of the Peer service listing the nodes: unix:///path or HOST:PORT',
  },
  {
    name: 'listen-address',
    kind: 'string',
    value: 'HOST:PORT',
    default: ':4245',
    description: 'where the relay serves the Observer API for the whole cluster',
  },
  {
    name: 'dial-timeout',
    kind: 'duration',
    value: 'DURATION',
    default: '30s',
    description: 'how long connecting to a node may take before it counts as unavailable',
  },
  {
    name: 'retry-timeout',
    kind: 'duration',
    value: 'DURATION',
    default: '30s',
    description: 'longest wait between attempts to reach a node or the Peer service (backoff from 1s up to this)',
  },
  {
    name: 'sort-buffer-len-max',
    kind: 'integer',
    value: 'N',
    default: 100,
    description: 'most flows each request holds for sorting by time before sending the oldest',
  },
  {
    name: 'sort-buffer-drain-timeout',
    kind: 'duration',
    value: 'DURATION',
    default: '1s',
    description: 'longest a flow waits for older ones from slower nodes before it is sent',
  },
  {
    name: 'tls-client-cert-file',
    kind: 'string',
    value: 'FILE',
    description: 'client certificate (PEM) the relay presents to nodes (mTLS)',
  },
  {
    name: 'tls-client-key-file',
    kind: 'string',
    value: 'FILE',
    description: 'private key (PEM) of --tls-client-cert-file',
  },
  {
    name: 'tls-hubble-server-ca-files',
    kind: 'strings',
    value: 'FILE',
    description: "CA bundles nodes' certificates must chain to (default: the system's); repeatable",
  },
  {
    name: 'disable-client-tls',
    kind: 'boolean',
    default: false,
    description: 'connect to nodes (and a TCP Peer service) in plaintext',
  },
  {
    name: 'tls-relay-server-cert-file',
    kind: 'string',
    value: 'FILE',
    description: "the relay's server certificate (PEM)",
  },
  {
    name: 'tls-relay-server-key-file',
    kind: 'string',
    value: 'FILE',
    description: "the relay's server private key (PEM)",
  },
  {
    name: 'tls-relay-client-ca-files',
    kind: 'strings',
    value: 'FILE',
    description: 'CA bundles that client certificates must chain to (enables mTLS); repeatable',
  },
  {
    name: 'disable-server-tls',
    kind: 'boolean',
    default: false,
    description: 'serve the relay in plaintext (required to serve without --tls-relay-server-cert-file)',
  },
  METRICS_ADDRESS_SETTING,
  ...UI_SETTINGS,
  {
    name: 'log-level',
    kind: 'string',
    value: 'LEVEL',
    default: 'info',
    description: 'trace, debug, info, warn or error',
  },
];

export interface RelayOptions {
  clusterName: string;
  /** gRPC target of the Peer service. */
  peerService: string;
  /** grpc-js bind target of the relay's listener. */
  bindTarget: string;
  dialTimeoutMs: number;
  retryTimeoutMs: number;
  sortBufferLenMax: number;
  sortBufferDrainTimeoutMs: number;
  /** undefined: plaintext to the nodes. */
  clientTls: ClientTls | undefined;
  /** undefined: the relay serves plaintext. */
  serverTls: { certFile: string; keyFile: string; clientCaFiles: string[] } | undefined;
  logLevel: string;
  /** Where to serve Prometheus metrics; undefined: not at all. */
  metrics: MetricsListen | undefined;
  /** The web UI; undefined unless --ui-address is given. */
  ui?: UiOptions | undefined;
}

/** Validates resolved settings into options; every refusal names the setting and says what to do. */
export function toRelayOptions(s: Settings): RelayOptions {
  const logLevel = s['log-level'] as string;
  const levels = [...Object.keys(pino.levels.values), 'silent'];
  if (!levels.includes(logLevel))
    throw new ConfigError(`--log-level: "${logLevel}" is not one of ${levels.join(', ')}`);

  const peerService = checkPeerService(s['peer-service'] as string);
  const bindTarget = checkListenAddress(s['listen-address'] as string);

  const positive = (name: string): number => {
    const v = s[name] as number;
    if (!(v > 0)) throw new ConfigError(`--${name}: must be greater than 0`);
    return v;
  };
  const dialTimeoutMs = positive('dial-timeout');
  const retryTimeoutMs = positive('retry-timeout');
  const sortBufferLenMax = positive('sort-buffer-len-max');
  const sortBufferDrainTimeoutMs = positive('sort-buffer-drain-timeout');

  const certFile = s['tls-client-cert-file'] as string | undefined;
  const keyFile = s['tls-client-key-file'] as string | undefined;
  const caFiles = (s['tls-hubble-server-ca-files'] as string[] | undefined) ?? [];
  let clientTls: ClientTls | undefined;
  if (s['disable-client-tls'] === true) {
    if (certFile || keyFile || caFiles.length > 0) {
      throw new ConfigError(
        '--disable-client-tls contradicts --tls-client-cert-file/--tls-client-key-file/--tls-hubble-server-ca-files: drop one or the other',
      );
    }
  } else {
    if (Boolean(certFile) !== Boolean(keyFile)) {
      throw new ConfigError('--tls-client-cert-file and --tls-client-key-file go together (the relay presents both)');
    }
    const pair =
      certFile && keyFile
        ? readKeyPair('tls-client-cert-file', certFile, 'tls-client-key-file', keyFile, 'client')
        : undefined;
    const cas = caFiles.map((f) => readCertificate('tls-hubble-server-ca-files', f, 'hubble server CA').pem);
    clientTls = { ca: cas.length > 0 ? Buffer.concat(cas) : undefined, cert: pair?.cert, key: pair?.key };
  }

  const serverCert = s['tls-relay-server-cert-file'] as string | undefined;
  const serverKey = s['tls-relay-server-key-file'] as string | undefined;
  const clientCaFiles = (s['tls-relay-client-ca-files'] as string[] | undefined) ?? [];
  let serverTls: RelayOptions['serverTls'];
  if (s['disable-server-tls'] === true) {
    if (serverCert || serverKey || clientCaFiles.length > 0) {
      throw new ConfigError(
        '--disable-server-tls contradicts --tls-relay-server-cert-file/--tls-relay-server-key-file/--tls-relay-client-ca-files: drop one or the other',
      );
    }
  } else {
    serverTls = checkServerTls({
      server: 'the relay',
      what: { pair: 'relay server', clientCa: 'relay client CA' },
      cert: ['tls-relay-server-cert-file', serverCert],
      key: ['tls-relay-server-key-file', serverKey],
      clientCas: ['tls-relay-client-ca-files', clientCaFiles],
    });
  }

  return {
    clusterName: s['cluster-name'] as string,
    peerService,
    bindTarget,
    dialTimeoutMs,
    retryTimeoutMs,
    sortBufferLenMax,
    sortBufferDrainTimeoutMs,
    clientTls,
    serverTls,
    logLevel,
    metrics: toMetricsListen(s),
    ui: toUiOptions(s, false),
  };
}

function checkListenAddress(address: string): string {
  try {
    return tcpBindTarget(address);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(`--listen-address "${address}" is not HOST:PORT (e.g. :4245 or 127.0.0.1:4245)`);
  }
}

function checkPeerService(address: string): string {
  if (address.startsWith('unix:')) {
    const path = address.replace(/^unix:(\/\/)?/, '');
    if (!path.startsWith('/')) {
      throw new ConfigError(`--peer-service "${address}": give the socket as unix:///absolute/path`);
    }
    return `unix://${path}`;
  }
  const hp = parseHostPort(address);
  if ('error' in hp) {
    throw new ConfigError(`--peer-service: ${hp.error} (use unix:///path/to/hubble.sock or HOST:PORT)`);
  }
  return address;
}

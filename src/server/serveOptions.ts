// The settings of `hubble-ts serve`: their table (flags and YAML keys) and the validated options they produce.
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError, type SettingSpec, type Settings } from './config.js';
import type { ExportOptions } from '../exporter/exporter.js';
import { ExportSettingError, parseFieldMaskPaths, parseFlowFilterList } from '../exporter/flowFilterList.js';
import { FieldMaskError, FlowFieldMask } from '../observer/fieldMask.js';
import { compileEventFilters, FilterError } from '../observer/filters/index.js';
import { parseRingCapacity } from '../observer/ring.js';
import { L7_PROTOCOLS, type L7Protocol, type SevenParserOptions } from '../observer/parser/seven/index.js';
import { parseHostPort } from '../peer/address.js';
import {
  DEFAULT_CAPTURE_BUFFER_SIZE,
  DEFAULT_CAPTURE_TIMEOUT_MS,
  type LiveCaptureTuning,
} from '../source/liveCapture.js';
import { checkServerTls, tcpBindTarget } from './listeners.js';
import { METRICS_SETTINGS, toNodeMetricsSettings, type NodeMetricsSettings } from './metricsOptions.js';
import { toUiOptions, UI_RECORDER_SETTING, UI_SETTINGS, type UiOptions } from './uiOptions.js';

export const DEFAULT_SOCKET_PATH = '/var/run/hubble-ts/hubble.sock';
/** Under /var/lib, not /var/run (Hubble's choice): recordings are data to keep across reboots, and /run is RAM. */
export const DEFAULT_RECORDINGS_DIR = '/var/lib/hubble-ts/recordings';
export const DEFAULT_SINK_QUEUE_SIZE = 1024;

export const SERVE_SETTINGS: readonly SettingSpec[] = [
  {
    name: 'source',
    kind: 'strings',
    value: 'SPEC',
    default: ['live:any'],
    description: 'where events come from: live:IFACE[:BPF], pcap:PATH (pcap or pcapng); repeatable',
  },
  {
    name: 'socket-path',
    kind: 'string',
    value: 'PATH',
    default: DEFAULT_SOCKET_PATH,
    description: 'unix socket serving the full local API',
  },
  {
    name: 'listen-address',
    kind: 'string',
    value: 'HOST:PORT',
    description: 'also serve the Observer API on TCP (off by default; TLS unless --disable-server-tls)',
  },
  {
    name: 'tls-cert-file',
    kind: 'string',
    value: 'FILE',
    description: 'server certificate (PEM) for the TCP listener',
  },
  { name: 'tls-key-file', kind: 'string', value: 'FILE', description: 'server private key (PEM) for the TCP listener' },
  {
    name: 'tls-client-ca-files',
    kind: 'strings',
    value: 'FILE',
    description: 'CA bundles that client certificates must chain to (enables mTLS); repeatable',
  },
  {
    name: 'disable-server-tls',
    kind: 'boolean',
    default: false,
    description: 'serve the TCP listener in plaintext (required to use TCP without TLS files)',
  },
  {
    name: 'buffer-capacity',
    kind: 'integer',
    value: 'N',
    default: 4095,
    description: 'flows kept in the ring buffer: 2^n - 1, up to 65535',
  },
  { name: 'node-name', kind: 'string', value: 'NAME', description: 'name of this node (default: hostname)' },
  {
    name: 'cluster-name',
    kind: 'string',
    value: 'NAME',
    default: 'default',
    description: 'name of the cluster this node is in',
  },
  {
    name: 'endpoints',
    kind: 'string',
    value: 'FILE',
    description: 'YAML inventory mapping IPs/CIDRs to namespaces, pods, labels, identities and services',
  },
  {
    name: 'l7',
    kind: 'strings',
    value: 'PROTOCOLS',
    default: ['dns', 'http'],
    description:
      'L7 protocols read from packets into L7 flows: dns, http (comma-separated or repeated); none: L3/L4 only',
  },
  {
    name: 'l7-http-ports',
    kind: 'strings',
    value: 'PORTS',
    description: 'look for HTTP/1.x only on these TCP ports, at either end (e.g. 80,8080); default: any port',
  },
  {
    name: 'l7-thread',
    kind: 'string',
    value: 'THREAD',
    description:
      'where L7 parsing runs: worker (a thread of its own, on another core) or observer (the ingest thread); default: worker with two or more CPUs',
  },
  {
    name: 'l7-keep-secrets',
    kind: 'boolean',
    default: false,
    description: 'show Authorization, Cookie, Set-Cookie and Proxy-Authorization values (redacted by default)',
  },
  {
    name: 'recordings-dir',
    kind: 'string',
    value: 'DIR',
    default: DEFAULT_RECORDINGS_DIR,
    description: 'where recordings (pcap files) are written; created 0700, refused if open to other users',
  },
  {
    name: 'capture-buffer-size',
    kind: 'size',
    value: 'SIZE',
    default: DEFAULT_CAPTURE_BUFFER_SIZE,
    description: "live sources: libpcap's kernel ring (e.g. 64MiB); a larger one rides out longer bursts",
  },
  {
    name: 'capture-timeout',
    kind: 'integer',
    value: 'MS',
    default: DEFAULT_CAPTURE_TIMEOUT_MS,
    description:
      'live sources: the kernel packs packets into blocks handed over when full or within about MS ms, so the ring holds about 32 × MS ms of traffic, more when packets fill blocks sooner (bursts are not lost), at that much more latency; 0 hands each packet over at once (immediate mode: the ring holds about 120 packets, and every few packets cost a wakeup)',
  },
  {
    name: 'sink-queue-size',
    kind: 'integer',
    value: 'N',
    default: DEFAULT_SINK_QUEUE_SIZE,
    description: 'packets each recording may hold while its file is written; beyond this they are dropped and counted',
  },
  {
    name: 'recordings-max-bytes',
    kind: 'size',
    value: 'SIZE',
    default: 0,
    description: 'keep recordings within this total size (e.g. 10GiB), removing the oldest finished ones; 0: no limit',
  },
  {
    name: 'recordings-max-age',
    kind: 'duration',
    value: 'DURATION',
    default: '0',
    description: 'remove finished recordings last written longer ago than this (e.g. 168h); 0: keep them',
  },
  {
    name: 'enable-recorder-api-on-tcp',
    kind: 'boolean',
    default: false,
    description:
      'also serve the Recorder and recordings store on --listen-address (requires mTLS: --tls-client-ca-files, or --disable-server-tls)',
  },
  {
    name: 'peers-file',
    kind: 'string',
    value: 'FILE',
    description:
      'YAML list of other nodes (name, address, tls-server-name) the Peer service announces; re-read when it changes',
  },
  {
    name: 'advertise-address',
    kind: 'string',
    value: 'HOST[:PORT]',
    description:
      "address other machines reach this node's --listen-address on, announced by the Peer service (default: the listen host, or this host's primary IP when it listens on all addresses)",
  },
  // Flow export: Hubble's --hubble-export-* agent flags, without the prefix.
  {
    name: 'export-file-path',
    kind: 'string',
    value: 'FILE',
    description: 'write every event as a JSON line (Hubble ExportEvent) to FILE, created 0600; off by default',
  },
  {
    name: 'export-file-max-size-mb',
    kind: 'integer',
    value: 'N',
    default: 10,
    description: 'rotate the export file before it grows past N megabytes',
  },
  {
    name: 'export-file-max-backups',
    kind: 'integer',
    value: 'N',
    default: 5,
    description: 'rotated export files to keep (0: keep all)',
  },
  { name: 'export-file-compress', kind: 'boolean', default: false, description: 'gzip rotated export files' },
  {
    name: 'export-allowlist',
    kind: 'strings',
    value: 'JSON',
    description:
      'export only events matching one of these FlowFilters (JSON objects, e.g. \'{"verdict":["DROPPED"]}\')',
  },
  {
    name: 'export-denylist',
    kind: 'strings',
    value: 'JSON',
    description: 'do not export events matching any of these FlowFilters (JSON objects)',
  },
  {
    name: 'export-fieldmask',
    kind: 'strings',
    value: 'PATHS',
    description: 'keep only these flow fields in exported flows (e.g. time,verdict,source.identity); repeatable',
  },
  ...METRICS_SETTINGS,
  ...UI_SETTINGS,
  UI_RECORDER_SETTING,
  {
    name: 'log-level',
    kind: 'string',
    value: 'LEVEL',
    default: 'info',
    description: 'trace, debug, info, warn or error',
  },
];

export interface ServeOptions {
  sources: string[];
  /** How live sources use libpcap's kernel ring. */
  capture: LiveCaptureTuning;
  socketPath: string;
  tcp?: { bindTarget: string; tls?: { certFile: string; keyFile: string; clientCaFiles: string[] } } | undefined;
  bufferCapacity: number;
  nodeName: string;
  clusterName: string;
  endpointsFile?: string | undefined;
  /** L7 flows from packets; undefined with --l7 none. */
  l7: SevenParserOptions | undefined;
  logLevel: string;
  recordings: RecordingsOptions;
  peers: PeersOptions;
  /** Flow export to a file; undefined when --export-file-path is not given. */
  export?: ExportOptions | undefined;
  /** Prometheus metrics; undefined unless --metrics-address is given. */
  metrics: NodeMetricsSettings | undefined;
  /** The web UI; undefined unless --ui-address is given. */
  ui?: UiOptions | undefined;
}

export interface PeersOptions {
  /** --peers-file: other nodes, watched for changes. */
  file?: string | undefined;
  /** --advertise-address: how this node's TCP listener is announced; the port defaults to the bound one. */
  advertise?: { host: string; port: number | undefined } | undefined;
}

export interface RecordingsOptions {
  dir: string;
  sinkQueueSize: number;
  /** 0: no limit. */
  maxBytes: number;
  /** 0: no limit. */
  maxAgeMs: number;
  /** Serve recorder.Recorder and the recordings store on the TCP listener too. */
  onTcp: boolean;
}

const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** Validates resolved settings into options; every refusal names the flag and says what to do. */
export function toServeOptions(s: Settings): ServeOptions {
  const sources = s['source'] as string[];
  if (sources.length === 0)
    throw new ConfigError('--source: give at least one source (e.g. live:any or pcap:capture.pcap)');

  const capacity = s['buffer-capacity'] as number;
  try {
    parseRingCapacity(capacity);
  } catch (err) {
    throw new ConfigError(`--buffer-capacity: ${(err as Error).message}`);
  }

  const logLevel = s['log-level'] as string;
  if (!LOG_LEVELS.has(logLevel))
    throw new ConfigError(`--log-level: "${logLevel}" is not one of ${[...LOG_LEVELS].join(', ')}`);

  let tcp: ServeOptions['tcp'];
  const listen = s['listen-address'] as string | undefined;
  const certFile = s['tls-cert-file'] as string | undefined;
  const keyFile = s['tls-key-file'] as string | undefined;
  const clientCaFiles = (s['tls-client-ca-files'] as string[] | undefined) ?? [];
  if (listen !== undefined && listen !== '') {
    const bindTarget = tcpBindTarget(listen);
    if (s['disable-server-tls'] === true) {
      tcp = { bindTarget };
    } else {
      const tls = checkServerTls({
        server: '--listen-address',
        what: { pair: 'server', clientCa: 'client CA' },
        cert: ['tls-cert-file', certFile],
        key: ['tls-key-file', keyFile],
        clientCas: ['tls-client-ca-files', clientCaFiles],
      });
      tcp = { bindTarget, tls };
    }
  }

  const captureBufferSize = s['capture-buffer-size'] as number;
  // libpcap takes the size as a C int; beyond 1 GiB the kernel refuses the ring anyway.
  if (captureBufferSize < 64 * 1024 || captureBufferSize > 2 ** 30)
    throw new ConfigError('--capture-buffer-size: give 64KiB to 1GiB');
  const captureTimeout = s['capture-timeout'] as number;
  if (captureTimeout < 0 || captureTimeout > 10_000)
    throw new ConfigError('--capture-timeout: give 0 (immediate mode) to 10000 ms');

  const sinkQueueSize = s['sink-queue-size'] as number;
  if (sinkQueueSize < 1) throw new ConfigError('--sink-queue-size: give at least 1');
  const onTcp = s['enable-recorder-api-on-tcp'] === true;
  if (onTcp) {
    // Recordings hold packet payloads and the Recorder writes files on this node: off the host, only for clients
    // that prove who they are, unless the operator explicitly chose plaintext.
    if (tcp === undefined) throw new ConfigError('--enable-recorder-api-on-tcp needs --listen-address');
    if (tcp.tls !== undefined && tcp.tls.clientCaFiles.length === 0) {
      throw new ConfigError(
        '--enable-recorder-api-on-tcp requires mutual TLS: give --tls-client-ca-files (or --disable-server-tls to serve it in plaintext)',
      );
    }
  }

  const peersFile = s['peers-file'] as string | undefined;
  const advertiseText = s['advertise-address'] as string | undefined;
  let advertise: PeersOptions['advertise'];
  if (advertiseText !== undefined && advertiseText !== '') {
    // Without TCP this node is announced by its unix socket, which has no address to advertise.
    if (tcp === undefined) throw new ConfigError('--advertise-address needs --listen-address');
    const parsed = parseHostPort(advertiseText, true);
    if ('error' in parsed) {
      throw new ConfigError(
        `--advertise-address: ${parsed.error} (give HOST or HOST:PORT, e.g. 10.0.0.1 or 10.0.0.1:4244)`,
      );
    }
    advertise = parsed;
  }

  return {
    sources,
    capture: { bufferSize: captureBufferSize, timeoutMs: captureTimeout },
    socketPath: resolve(s['socket-path'] as string), // gRPC's unix:// takes an absolute path; peers are told it too
    tcp,
    bufferCapacity: capacity,
    nodeName: (s['node-name'] as string | undefined) || hostname(),
    clusterName: s['cluster-name'] as string,
    endpointsFile: s['endpoints'] as string | undefined,
    l7: toL7Options(s),
    logLevel,
    recordings: {
      dir: s['recordings-dir'] as string,
      sinkQueueSize,
      maxBytes: s['recordings-max-bytes'] as number,
      maxAgeMs: s['recordings-max-age'] as number,
      onTcp,
    },
    peers: { file: peersFile || undefined, advertise },
    export: toExportOptions(s),
    metrics: toNodeMetricsSettings(s),
    ui: toUiOptions(s, true),
  };
}

/** --l7, --l7-http-ports, --l7-thread and --l7-keep-secrets, checked. */
function toL7Options(s: Settings): SevenParserOptions | undefined {
  const words = (s['l7'] as string[]).flatMap((text) => text.split(',')).map((word) => word.trim().toLowerCase());
  const known: readonly string[] = L7_PROTOCOLS;
  const protocols: L7Protocol[] = [];
  for (const word of words) {
    if (word === '' || word === 'none') continue;
    if (!known.includes(word)) {
      throw new ConfigError(`--l7: "${word}" is not an L7 protocol read from packets (give dns, http, or none)`);
    }
    if (!protocols.includes(word as L7Protocol)) protocols.push(word as L7Protocol);
  }
  const portTexts = ((s['l7-http-ports'] as string[] | undefined) ?? []).flatMap((text) => text.split(','));
  const httpPorts: number[] = [];
  for (const text of portTexts.map((t) => t.trim()).filter((t) => t !== '')) {
    const port = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      throw new ConfigError(
        `--l7-http-ports: "${text}" is not a TCP port (give numbers from 1 to 65535, e.g. 80,8080)`,
      );
    }
    httpPorts.push(port);
  }
  if (httpPorts.length > 0 && !protocols.includes('http')) {
    throw new ConfigError('--l7-http-ports needs http in --l7');
  }
  const thread = (s['l7-thread'] as string | undefined) ?? (availableParallelism() > 1 ? 'worker' : 'observer');
  if (thread !== 'worker' && thread !== 'observer') {
    throw new ConfigError(`--l7-thread: "${thread}" is not where L7 parsing can run (give worker or observer)`);
  }
  if (protocols.length === 0) return undefined;
  return { protocols, httpPorts, keepSecrets: s['l7-keep-secrets'] === true, worker: thread === 'worker' };
}

/** The --export-* settings, checked: a bad filter or field mask stops serve with one line naming the flag. */
function toExportOptions(s: Settings): ExportOptions | undefined {
  const filePath = s['export-file-path'] as string | undefined;
  const allowTexts = (s['export-allowlist'] as string[] | undefined) ?? [];
  const denyTexts = (s['export-denylist'] as string[] | undefined) ?? [];
  const fieldMask = parseFieldMaskPaths((s['export-fieldmask'] as string[] | undefined) ?? []);
  if (filePath === undefined || filePath === '') {
    const orphan = [
      ['export-allowlist', allowTexts.length],
      ['export-denylist', denyTexts.length],
      ['export-fieldmask', fieldMask.length],
    ].find(([, n]) => n !== 0);
    if (orphan !== undefined) throw new ConfigError(`--${orphan[0]} needs --export-file-path`);
    return undefined;
  }
  if (filePath === 'stdout') {
    throw new ConfigError(
      '--export-file-path: "stdout" is not supported (hubble-ts logs on stdout); give a file path, e.g. /var/log/hubble-ts/events.log',
    );
  }
  const maxSizeMb = s['export-file-max-size-mb'] as number;
  if (maxSizeMb < 1) throw new ConfigError('--export-file-max-size-mb: give at least 1 (megabytes)');
  const filterList = (flag: string, texts: string[]) => {
    try {
      const filters = texts.flatMap(parseFlowFilterList);
      compileEventFilters(filters, []);
      return filters;
    } catch (err) {
      if (err instanceof ExportSettingError) throw new ConfigError(`--${flag}: ${err.message}`);
      if (err instanceof FilterError) throw new ConfigError(`--${flag}: invalid flow filter: ${err.message}`);
      throw err;
    }
  };
  const allow = filterList('export-allowlist', allowTexts);
  const deny = filterList('export-denylist', denyTexts);
  try {
    FlowFieldMask.compile(fieldMask);
  } catch (err) {
    if (err instanceof FieldMaskError) throw new ConfigError(`--export-fieldmask: ${err.message}`);
    throw err;
  }
  return {
    filePath: resolve(filePath),
    maxSizeBytes: maxSizeMb * 1024 * 1024,
    maxBackups: s['export-file-max-backups'] as number,
    compress: s['export-file-compress'] === true,
    allow,
    deny,
    fieldMask,
  };
}

// The relay's settings as a user meets them: hubble-relay's names and defaults, a YAML --config under typed flags, and
// refusals in one line naming the setting, from toRelayOptions and from `hubble-ts relay` run as a process.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveSettings, type Settings } from '../../src/server/config.js';
import { RELAY_SETTINGS, toRelayOptions, type RelayOptions } from '../../src/server/relayOptions.js';
import { DEFAULT_SOCKET_PATH, SERVE_SETTINGS } from '../../src/server/serveOptions.js';
import { makeTestCa } from '../harness/certs.js';
import { runCli, spawnCli } from '../harness/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-relay-settings-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

// Made once at load so the refusal tables below can name real files.
const ca = makeTestCa('relay settings CA');
const otherCa = makeTestCa('another CA');
const relayServer = ca.issue('relay-server', ['127.0.0.1', 'localhost'], 'server');
const relayClient = ca.issue('relay-client', ['relay-client.hubble-relay.cilium.io'], 'client');
const strangerKey = otherCa.issue('stranger', ['stranger.example'], 'client').key;
const notPem = file('notes.txt', 'this is not a certificate\n');
const missing = join(dir, 'no-such.crt');

/** Settings as typed on the command line, optionally over a --config file. */
function relayOptions(typed: Settings, configFile?: string): RelayOptions {
  return toRelayOptions(resolveSettings(RELAY_SETTINGS, typed, configFile));
}

describe('relay settings', () => {
  it("defaults to hubble-relay's values, the Peer service on hubble-ts serve's socket, TLS on both sides", () => {
    const opts = relayOptions({ 'disable-server-tls': true });
    expect(opts).toEqual({
      clusterName: 'default',
      peerService: `unix://${DEFAULT_SOCKET_PATH}`,
      bindTarget: '[::]:4245',
      dialTimeoutMs: 30_000, // today's hubble-relay DialTimeout (older releases had 5s)
      retryTimeoutMs: 30_000,
      sortBufferLenMax: 100,
      sortBufferDrainTimeoutMs: 1_000,
      // TLS towards the nodes, verified against the system's CAs, no client certificate.
      clientTls: { ca: undefined, cert: undefined, key: undefined },
      serverTls: undefined,
      logLevel: 'info',
    });
    // The relay finds a node on this host where `hubble-ts serve` listens by default.
    const serveSocket = SERVE_SETTINGS.find((s) => s.name === 'socket-path')!.default;
    expect(opts.peerService).toBe(`unix://${serveSocket as string}`);
  });

  it('reads every setting from a YAML --config file, with typed flags winning over it', () => {
    const config = file(
      'relay.yaml',
      [
        'cluster-name: prod',
        'peer-service: hubble-peer.kube-system.svc.cluster.local:443',
        'listen-address: 127.0.0.1:4300',
        'dial-timeout: 10s',
        'retry-timeout: 2m',
        'sort-buffer-len-max: 500',
        'sort-buffer-drain-timeout: 250ms',
        `tls-client-cert-file: ${relayClient.cert}`,
        `tls-client-key-file: ${relayClient.key}`,
        'tls-hubble-server-ca-files:',
        `  - ${ca.cert}`,
        `tls-relay-server-cert-file: ${relayServer.cert}`,
        `tls-relay-server-key-file: ${relayServer.key}`,
        `tls-relay-client-ca-files: ${ca.cert}`,
        'log-level: debug',
        '',
      ].join('\n'),
    );

    const fromFile = relayOptions({}, config);
    expect(fromFile).toEqual({
      clusterName: 'prod',
      peerService: 'hubble-peer.kube-system.svc.cluster.local:443',
      bindTarget: '127.0.0.1:4300',
      dialTimeoutMs: 10_000,
      retryTimeoutMs: 120_000,
      sortBufferLenMax: 500,
      sortBufferDrainTimeoutMs: 250,
      clientTls: {
        ca: readFileSync(ca.cert),
        cert: readFileSync(relayClient.cert),
        key: readFileSync(relayClient.key),
      },
      serverTls: { certFile: relayServer.cert, keyFile: relayServer.key, clientCaFiles: [ca.cert] },
      logLevel: 'debug',
    });

    const overridden = relayOptions(
      { 'cluster-name': 'staging', 'dial-timeout': '1s', 'sort-buffer-len-max': '7', 'log-level': 'warn' },
      config,
    );
    expect(overridden).toMatchObject({
      clusterName: 'staging',
      dialTimeoutMs: 1_000,
      sortBufferLenMax: 7,
      logLevel: 'warn',
      retryTimeoutMs: 120_000,
      peerService: 'hubble-peer.kube-system.svc.cluster.local:443',
    });
  });

  it('serves and dials in plaintext when the file says so', () => {
    const config = file(
      'plain.yaml',
      'disable-server-tls: true\ndisable-client-tls: true\npeer-service: 10.0.0.1:4244\n',
    );
    const opts = relayOptions({}, config);
    expect(opts.serverTls).toBeUndefined();
    expect(opts.clientTls).toBeUndefined();
  });

  it.each([
    ['unix:///run/hubble-ts/hubble.sock', 'unix:///run/hubble-ts/hubble.sock'],
    ['unix:/run/hubble-ts/hubble.sock', 'unix:///run/hubble-ts/hubble.sock'],
    ['10.0.0.1:4244', '10.0.0.1:4244'],
    ['[fd00::1]:4244', '[fd00::1]:4244'],
    ['hubble-peer.kube-system.svc.cluster.local:443', 'hubble-peer.kube-system.svc.cluster.local:443'],
  ])('takes the Peer service %s', (given, target) => {
    expect(relayOptions({ 'peer-service': given, 'disable-server-tls': true }).peerService).toBe(target);
  });

  const plain: Settings = { 'disable-server-tls': true };
  it.each<[string, Settings, RegExp]>([
    [
      'a TLS server without certificate files',
      {},
      /--tls-relay-server-cert-file and --tls-relay-server-key-file, or --disable-server-tls/,
    ],
    [
      'a server certificate without its key',
      { 'tls-relay-server-cert-file': relayServer.cert },
      /--tls-relay-server-key-file, or --disable-server-tls/,
    ],
    [
      '--disable-server-tls with server certificate files',
      { 'disable-server-tls': true, 'tls-relay-server-cert-file': relayServer.cert },
      /--disable-server-tls contradicts/,
    ],
    [
      '--disable-client-tls with a client certificate',
      {
        ...plain,
        'disable-client-tls': true,
        'tls-client-cert-file': relayClient.cert,
        'tls-client-key-file': relayClient.key,
      },
      /--disable-client-tls contradicts/,
    ],
    [
      '--disable-client-tls with a CA for the nodes',
      { ...plain, 'disable-client-tls': true, 'tls-hubble-server-ca-files': [ca.cert] },
      /--disable-client-tls contradicts/,
    ],
    [
      'a client certificate without its key',
      { ...plain, 'tls-client-cert-file': relayClient.cert },
      /--tls-client-cert-file and --tls-client-key-file go together/,
    ],
    [
      'a client key without its certificate',
      { ...plain, 'tls-client-key-file': relayClient.key },
      /--tls-client-cert-file and --tls-client-key-file go together/,
    ],
    [
      'a missing client certificate file',
      { ...plain, 'tls-client-cert-file': missing, 'tls-client-key-file': relayClient.key },
      new RegExp(`client certificate file ${missing}: ENOENT`),
    ],
    [
      'a missing relay server key file',
      { 'tls-relay-server-cert-file': relayServer.cert, 'tls-relay-server-key-file': missing },
      new RegExp(`relay server private key file ${missing}: ENOENT`),
    ],
    [
      'a CA file that is not PEM',
      { ...plain, 'tls-hubble-server-ca-files': [notPem] },
      new RegExp(`hubble server CA file ${notPem}: not a PEM file`),
    ],
    [
      'a relay client CA file that is not PEM',
      {
        'tls-relay-server-cert-file': relayServer.cert,
        'tls-relay-server-key-file': relayServer.key,
        'tls-relay-client-ca-files': [notPem],
      },
      new RegExp(`relay client CA file ${notPem}: not a PEM file`),
    ],
    [
      'a client certificate and key given the wrong way round',
      { ...plain, 'tls-client-cert-file': relayClient.key, 'tls-client-key-file': relayClient.cert },
      new RegExp(`--tls-client-cert-file: ${relayClient.key} holds no PEM certificate`),
    ],
    [
      "a client key that is not the certificate's",
      { ...plain, 'tls-client-cert-file': relayClient.cert, 'tls-client-key-file': strangerKey },
      new RegExp(`--tls-client-key-file: ${strangerKey} is not the private key of ${relayClient.cert}`),
    ],
    [
      "a relay server key that is not the certificate's",
      { 'tls-relay-server-cert-file': relayServer.cert, 'tls-relay-server-key-file': relayClient.key },
      /--tls-relay-server-key-file: .* is not the private key of/,
    ],
    [
      'a private key given as the CA of the nodes',
      { ...plain, 'tls-hubble-server-ca-files': [ca.key] },
      new RegExp(`--tls-hubble-server-ca-files: ${ca.key} holds no PEM certificate`),
    ],
    [
      'a private key given as the CA of clients',
      {
        'tls-relay-server-cert-file': relayServer.cert,
        'tls-relay-server-key-file': relayServer.key,
        'tls-relay-client-ca-files': [ca.key],
      },
      /--tls-relay-client-ca-files: .* holds no PEM certificate/,
    ],
    [
      'a relative unix socket',
      { ...plain, 'peer-service': 'unix:hubble.sock' },
      /--peer-service "unix:hubble.sock": give the socket as unix:\/\/\/absolute\/path/,
    ],
    [
      'a unix socket with two slashes',
      { ...plain, 'peer-service': 'unix://var/run/hubble.sock' },
      /--peer-service .*unix:\/\/\/absolute\/path/,
    ],
    [
      'a Peer service that is no host',
      { ...plain, 'peer-service': 'not a host:4244' },
      /--peer-service: "not a host" is not an IP address or host name/,
    ],
    [
      'a Peer service without a port',
      { ...plain, 'peer-service': 'hubble-peer' },
      /--peer-service: "hubble-peer" has no port/,
    ],
    [
      'a Peer service on port 99999',
      { ...plain, 'peer-service': '10.0.0.1:99999' },
      /--peer-service: "99999" is not a port number/,
    ],
    ['an empty Peer service', { ...plain, 'peer-service': '' }, /--peer-service/],
    [
      'a listen address without a host part',
      { ...plain, 'listen-address': '4245' },
      /--listen-address "4245" is not HOST:PORT/,
    ],
    [
      'a listen address on port 70000',
      { ...plain, 'listen-address': ':70000' },
      /--listen-address ":70000" is not HOST:PORT/,
    ],
    ['a zero dial timeout', { ...plain, 'dial-timeout': '0s' }, /--dial-timeout: must be greater than 0/],
    ['a negative dial timeout', { ...plain, 'dial-timeout': '-5s' }, /--dial-timeout: "-5s" is not a duration/],
    ['a zero retry timeout', { ...plain, 'retry-timeout': '0' }, /--retry-timeout: must be greater than 0/],
    [
      'a retry timeout without a unit it knows',
      { ...plain, 'retry-timeout': '30 seconds' },
      /--retry-timeout: "30 seconds" is not a duration/,
    ],
    [
      'a zero drain timeout',
      { ...plain, 'sort-buffer-drain-timeout': '0ms' },
      /--sort-buffer-drain-timeout: must be greater than 0/,
    ],
    [
      'a sort buffer of 0 flows',
      { ...plain, 'sort-buffer-len-max': '0' },
      /--sort-buffer-len-max: must be greater than 0/,
    ],
    [
      'a negative sort buffer',
      { ...plain, 'sort-buffer-len-max': '-1' },
      /--sort-buffer-len-max: expected a non-negative integer, got "-1"/,
    ],
    [
      'a sort buffer of 1.5 flows',
      { ...plain, 'sort-buffer-len-max': '1.5' },
      /--sort-buffer-len-max: expected a non-negative integer/,
    ],
    [
      'an unknown log level',
      { ...plain, 'log-level': 'loud' },
      /--log-level: "loud" is not one of trace, debug, info, warn, error/,
    ],
  ])('refuses %s in one line naming it', (_case, typed, message) => {
    let error: unknown;
    try {
      relayOptions(typed);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it.each([
    ['a duration that is none', 'dial-timeout: soon\n', /bad\.yaml: dial-timeout: "soon" is not a duration/],
    ['a zero duration', 'retry-timeout: 0s\n', /retry-timeout: must be greater than 0/],
    ['a list where one value goes', 'cluster-name: [a, b]\n', /bad\.yaml: cluster-name: expected a string/],
    ["a setting of hubble-ts serve's", 'socket-path: /run/x.sock\n', /bad\.yaml: unknown setting "socket-path"/],
    ['broken YAML', 'peer-service: [unix\n', /config file .*bad\.yaml/],
  ])('refuses a config file with %s, naming the file or the key', (_case, text, message) => {
    const config = file('bad.yaml', `disable-server-tls: true\n${text}`);
    expect(() => relayOptions({}, config)).toThrow(message);
  });

  it('refuses a --config file that does not exist, naming it', () => {
    const config = join(dir, 'absent.yaml');
    expect(() => relayOptions({}, config)).toThrow(`cannot read config file ${config}`);
  });
});

/** `hubble-ts relay ARGS` to its end. */
const runRelay = (args: readonly string[]) => runCli(['relay', ...args], 15_000);

describe('hubble-ts relay, run as a user runs it', () => {
  it.concurrent.each<[string, string[], RegExp]>([
    ['no server certificate', [], /--disable-server-tls to serve plaintext/],
    ['a zero dial timeout', ['--disable-server-tls', '--dial-timeout', '0s'], /--dial-timeout: must be greater than 0/],
    ['a relative unix socket', ['--disable-server-tls', '--peer-service', 'unix:hubble.sock'], /--peer-service/],
    ['an unknown log level', ['--disable-server-tls', '--log-level', 'loud'], /--log-level/],
    [
      // Before the relay parsed TLS files itself, this one served, then died at the first dial with a stack trace.
      "a client key that is not the certificate's",
      [
        '--disable-server-tls',
        '--peer-service',
        '127.0.0.1:1',
        '--tls-client-cert-file',
        relayClient.cert,
        '--tls-client-key-file',
        strangerKey,
      ],
      /--tls-client-key-file: .* is not the private key of/,
    ],
    [
      'a bad setting in its --config file',
      ['--config', file('cli-bad.yaml', 'disable-server-tls: true\nsort-buffer-len-max: lots\n')],
      /cli-bad\.yaml: sort-buffer-len-max: expected a non-negative integer/,
    ],
  ])('exits 2 with one line and no stack trace for %s', async (_case, args, message) => {
    const ran = await runRelay(args);
    expect(ran.code).toBe(2);
    expect(ran.stdout).toBe('');
    const lines = ran.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^hubble-ts: /);
    expect(lines[0]).toMatch(message);
  });

  it.concurrent('names a mistyped flag and the one meant, without a stack trace', async () => {
    const ran = await runRelay(['--dial-timout', '5s']);
    expect(ran.code).not.toBe(0);
    expect(ran.stderr).toMatch(/unknown option '--dial-timout'/);
    expect(ran.stderr).toMatch(/Did you mean --dial-timeout\?/);
    expect(ran.stderr).not.toMatch(/^\s+at /m);
  });

  it.concurrent('lists every relay setting and its default in --help', async () => {
    const ran = await runRelay(['--help']);
    expect(ran.code).toBe(0);
    for (const spec of RELAY_SETTINGS) {
      expect(ran.stdout).toContain(`--${spec.name}`);
      if (spec.default !== undefined) expect(ran.stdout).toContain(`(default: ${String(spec.default)})`);
    }
    expect(ran.stdout).toContain('--config <FILE>');
  });

  it.concurrent('serves with the settings of its --config file, a typed flag winning', async () => {
    const config = file(
      'cli-good.yaml',
      'disable-server-tls: true\ndisable-client-tls: true\npeer-service: 127.0.0.1:1\nlisten-address: 127.0.0.1:1\n',
    );
    const relay = spawnCli(['relay', '--config', config, '--listen-address', '127.0.0.1:0']);
    try {
      await relay.waitFor((out) => out.includes('serving Hubble Relay API'), 15_000, 'the relay to serve');
      const line = relay
        .stdout()
        .split('\n')
        .find((l) => l.includes('serving Hubble Relay API'))!;
      const serving = JSON.parse(line) as Record<string, unknown>;
      expect(serving).toMatchObject({
        listen: '127.0.0.1:0',
        peerService: '127.0.0.1:1',
        tls: false,
        clientTls: false,
      });
      expect(serving['port']).toBeGreaterThan(0);
    } finally {
      await relay.stop('SIGTERM');
    }
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseDurationMs, parseSize, resolveSettings } from '../../src/server/config.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';
import { makeTestCa } from '../harness/certs.js';

function configFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-cfg-')), 'config.yaml');
  writeFileSync(path, text);
  return path;
}

describe('serve settings', () => {
  it('uses the documented defaults when nothing is given', () => {
    const opts = toServeOptions(resolveSettings(SERVE_SETTINGS, {}));
    expect(opts.sources).toEqual(['live:any']);
    expect(opts.socketPath).toBe('/var/run/hubble-ts/hubble.sock');
    expect(opts.bufferCapacity).toBe(4095);
    expect(opts.clusterName).toBe('default');
    expect(opts.tcp).toBeUndefined();
    expect(opts.nodeName.length).toBeGreaterThan(0);
    expect(opts.recordings).toEqual({
      dir: '/var/lib/hubble-ts/recordings',
      sinkQueueSize: 1024,
      maxBytes: 0,
      maxAgeMs: 0,
      onTcp: false,
    });
  });

  it('reads the recordings settings from flags and YAML', () => {
    const file = configFile('recordings-dir: /srv/rec\nrecordings-max-bytes: 10GiB\nrecordings-max-age: 168h\n');
    const opts = toServeOptions(resolveSettings(SERVE_SETTINGS, { 'sink-queue-size': 64 }, file));
    expect(opts.recordings).toEqual({
      dir: '/srv/rec',
      sinkQueueSize: 64,
      maxBytes: 10 * 1024 ** 3,
      maxAgeMs: 168 * 3_600_000,
      onTcp: false,
    });
  });

  it('reads how live sources use the kernel ring: a 1 ms read timeout and 8 MiB by default, --capture-* from flags and YAML', () => {
    expect(toServeOptions(resolveSettings(SERVE_SETTINGS, {})).capture).toEqual({
      bufferSize: 8 * 2 ** 20,
      timeoutMs: 1,
    });
    const file = configFile('capture-buffer-size: 64MiB\n');
    expect(toServeOptions(resolveSettings(SERVE_SETTINGS, { 'capture-timeout': 5 }, file)).capture).toEqual({
      bufferSize: 64 * 2 ** 20,
      timeoutMs: 5,
    });
  });

  it.each([
    [{ 'capture-buffer-size': '1KiB' }, /--capture-buffer-size: give 64KiB to 1GiB/],
    [{ 'capture-buffer-size': '4GiB' }, /--capture-buffer-size: give 64KiB to 1GiB/],
    [{ 'capture-timeout': 60_000 }, /--capture-timeout: give 0 \(immediate mode\) to 10000 ms/],
    [{ 'sink-queue-size': 0 }, /--sink-queue-size: give at least 1/],
    [{ 'recordings-max-bytes': 'lots' }, /--recordings-max-bytes: expected a size in bytes/],
    [{ 'recordings-max-age': 'forever' }, /--recordings-max-age: "forever" is not a duration/],
  ])('refuses the recordings setting %j', (settings, message) => {
    expect(() => toServeOptions(resolveSettings(SERVE_SETTINGS, settings))).toThrow(message);
  });

  it('reads DNS and HTTP from packets by default, and --l7, --l7-http-ports, --l7-thread, --l7-keep-secrets from flags and YAML', () => {
    // In a worker thread of its own by default, given a second CPU to run on.
    expect(toServeOptions(resolveSettings(SERVE_SETTINGS, {})).l7).toEqual({
      protocols: ['dns', 'http'],
      httpPorts: [],
      keepSecrets: false,
      worker: availableParallelism() > 1,
    });
    const flags = toServeOptions(
      resolveSettings(SERVE_SETTINGS, {
        l7: ['http'],
        'l7-http-ports': ['80,8080', '9000'],
        'l7-keep-secrets': true,
        'l7-thread': 'observer',
      }),
    );
    expect(flags.l7).toEqual({ protocols: ['http'], httpPorts: [80, 8080, 9000], keepSecrets: true, worker: false });
    expect(toServeOptions(resolveSettings(SERVE_SETTINGS, {}, configFile('l7-thread: worker\n'))).l7?.worker).toBe(
      true,
    );
    const yaml = configFile('l7: [dns]\n');
    expect(toServeOptions(resolveSettings(SERVE_SETTINGS, {}, yaml)).l7?.protocols).toEqual(['dns']);
    const ports = configFile('l7-http-ports: [80, 8080]\n');
    expect(toServeOptions(resolveSettings(SERVE_SETTINGS, {}, ports)).l7?.httpPorts).toEqual([80, 8080]);
    expect(toServeOptions(resolveSettings(SERVE_SETTINGS, { l7: ['none'] })).l7).toBeUndefined();
  });

  it.each([
    [{ l7: ['dns,kafka'] }, /--l7: "kafka" is not an L7 protocol read from packets \(give dns, http, or none\)/],
    [{ 'l7-http-ports': ['80,http'] }, /--l7-http-ports: "http" is not a TCP port/],
    [{ 'l7-http-ports': ['70000'] }, /--l7-http-ports: "70000" is not a TCP port/],
    [{ l7: ['dns'], 'l7-http-ports': ['80'] }, /--l7-http-ports needs http in --l7/],
    [{ 'l7-thread': 'main' }, /--l7-thread: "main" is not where L7 parsing can run \(give worker or observer\)/],
  ])('refuses the L7 setting %j', (settings, message) => {
    expect(() => toServeOptions(resolveSettings(SERVE_SETTINGS, settings))).toThrow(message);
  });

  it('reads the YAML config file and lets typed flags win over it', () => {
    const file = configFile(
      'buffer-capacity: 8191\nnode-name: from-file\nsource:\n  - pcap:/a.pcap\n  - pcap:/b.pcap\n',
    );
    const opts = toServeOptions(resolveSettings(SERVE_SETTINGS, { 'node-name': 'from-flag' }, file));
    expect(opts.bufferCapacity).toBe(8191);
    expect(opts.nodeName).toBe('from-flag');
    expect(opts.sources).toEqual(['pcap:/a.pcap', 'pcap:/b.pcap']);
  });

  it.each([
    ['an unknown key', 'buffer-capacty: 3\n', /unknown setting "buffer-capacty"/],
    ['a wrong type', 'buffer-capacity: lots\n', /buffer-capacity: expected a non-negative integer/],
    ['broken YAML', 'source: [a\n', /config\.yaml/],
  ])('refuses a config file with %s', (_case, text, message) => {
    expect(() => resolveSettings(SERVE_SETTINGS, {}, configFile(text))).toThrow(message);
  });

  it.each([4096, 0, 65536 * 2 - 1])('refuses a buffer capacity of %i, which is not 2^n - 1 up to 65535', (n) => {
    expect(() => toServeOptions(resolveSettings(SERVE_SETTINGS, { 'buffer-capacity': n }))).toThrow(
      /--buffer-capacity/,
    );
  });

  it('requires TLS files or --disable-server-tls for a TCP listener', () => {
    expect(() => toServeOptions(resolveSettings(SERVE_SETTINGS, { 'listen-address': ':4244' }))).toThrow(
      /--tls-cert-file and --tls-key-file, or --disable-server-tls/,
    );
    const plain = toServeOptions(
      resolveSettings(SERVE_SETTINGS, { 'listen-address': ':4244', 'disable-server-tls': true }),
    );
    expect(plain.tcp).toEqual({ bindTarget: '[::]:4244' });
  });

  it("checks the TLS files before serving: a key that is not the certificate's, a key given as client CA", () => {
    const ca = makeTestCa();
    const a = ca.issue('a', ['a.example'], 'server');
    const b = ca.issue('b', ['b.example'], 'server');
    const tls = (cert: string, key: string, clientCa = ca.cert) =>
      toServeOptions(
        resolveSettings(SERVE_SETTINGS, {
          'listen-address': ':4244',
          'tls-cert-file': cert,
          'tls-key-file': key,
          'tls-client-ca-files': [clientCa],
        }),
      );
    expect(tls(a.cert, a.key).tcp?.tls).toEqual({ certFile: a.cert, keyFile: a.key, clientCaFiles: [ca.cert] });
    expect(() => tls(a.cert, b.key)).toThrow(`--tls-key-file: ${b.key} is not the private key of ${a.cert}`);
    expect(() => tls(a.cert, a.key, a.key)).toThrow(`--tls-client-ca-files: ${a.key} holds no PEM certificate`);
  });

  it.each(['4244', 'host:', 'host:99999', 'a:b:c'])('refuses the listen address %s', (addr) => {
    expect(() =>
      toServeOptions(resolveSettings(SERVE_SETTINGS, { 'listen-address': addr, 'disable-server-tls': true })),
    ).toThrow(ConfigError);
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['3', 3000],
  ])('parses %s', (text, ms) => expect(parseDurationMs(text)).toBe(ms));

  it.each(['', '10x', 's', '5m junk'])('refuses %j', (text) =>
    expect(() => parseDurationMs(text)).toThrow(ConfigError),
  );
});

describe('sizes', () => {
  it.each([
    ['1048576', 1048576],
    ['512MiB', 512 * 1024 ** 2],
    ['10G', 10 * 1024 ** 3],
    ['2tib', 2 * 1024 ** 4],
    ['64k', 65536],
    ['100B', 100],
  ])('parses %s', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(['', 'MiB', '1.5G', '-1', '10 parsecs'])('refuses %j', (text) => expect(parseSize(text)).toBeUndefined());
});

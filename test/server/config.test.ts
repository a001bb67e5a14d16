import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseDurationMs, resolveSettings } from '../../src/server/config.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';

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

// The web UI's settings: off unless asked, local-only unless TLS and a token or client certificates, recordings only
// where the Recorder is; each refusal one line naming the setting, on the command line too.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveSettings, type Settings } from '../../src/server/config.js';
import { RELAY_SETTINGS, toRelayOptions } from '../../src/server/relayOptions.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';
import { isLoopbackHost } from '../../src/server/uiOptions.js';
import { makeTestCa, type CertFiles, type TestCa } from '../harness/certs.js';
import { runCli } from '../harness/cli.js';

describe('web UI settings', () => {
  let dir: string;
  let ca: TestCa;
  let server: CertFiles;
  let token: string;
  let openToken: string;
  let shortToken: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-ui-options-'));
    ca = makeTestCa('ui options CA');
    server = ca.issue('ui', ['127.0.0.1', 'localhost'], 'server');
    token = join(dir, 'token');
    writeFileSync(token, 'c2f1e0a9b8d7c6f5e4d3c2b1a0\n', { mode: 0o600 });
    openToken = join(dir, 'open-token');
    writeFileSync(openToken, 'c2f1e0a9b8d7c6f5e4d3c2b1a0\n');
    chmodSync(openToken, 0o644);
    shortToken = join(dir, 'short-token');
    writeFileSync(shortToken, 'secret\n', { mode: 0o600 });
  });

  const serve = (ui: Settings) =>
    toServeOptions(resolveSettings(SERVE_SETTINGS, { source: ['pcap:/dev/null'], ...ui })).ui;
  const tls = () => ({ 'ui-tls-cert-file': server.cert, 'ui-tls-key-file': server.key });

  it('is off unless --ui-address is given', () => {
    expect(serve({})).toBeUndefined();
  });

  it('serves loopback addresses without TLS or a token, recordings included', () => {
    for (const address of ['127.0.0.1:12000', 'localhost:12000', '[::1]:12000', '127.3.2.1:0']) {
      const ui = serve({ 'ui-address': address })!;
      expect(ui.loopback, address).toBe(true);
      expect(ui.tls).toBeUndefined();
      expect(ui.recorder).toEqual({ enabled: true });
    }
    expect(serve({ 'ui-address': '127.0.0.1:12000' })!.listen).toEqual({ host: '127.0.0.1', port: 12000 });
  });

  it('tells loopback hosts from others', () => {
    const cases: [string, boolean][] = [
      ['127.0.0.1', true],
      ['127.255.0.9', true],
      ['::1', true],
      ['::ffff:127.0.0.1', true],
      ['localhost', true],
      ['LOCALHOST', true],
      ['0.0.0.0', false],
      ['::', false],
      ['', false],
      ['10.0.0.1', false],
      ['128.0.0.1', false],
      ['example.com', false],
      ['localhost.example.com', false],
    ];
    for (const [host, loopback] of cases) expect(isLoopbackHost(host), host).toBe(loopback);
  });

  it('refuses what it cannot serve safely, naming the setting and what to add', () => {
    const cases: [Settings, string][] = [
      [
        { 'ui-address': '0.0.0.0:12000' },
        '--ui-address 0.0.0.0:12000 is reachable from other hosts: give --ui-tls-cert-file and --ui-tls-key-file, and --ui-token-file or --ui-tls-client-ca-files (or listen on 127.0.0.1)',
      ],
      [
        { 'ui-address': ':12000', 'ui-token-file': token },
        '--ui-address :12000 is reachable from other hosts: give --ui-tls-cert-file and --ui-tls-key-file, and --ui-token-file or --ui-tls-client-ca-files (or listen on 127.0.0.1)',
      ],
      [
        { 'ui-address': '10.1.2.3:12000', ...tls() },
        '--ui-address 10.1.2.3:12000 is reachable from other hosts: give --ui-token-file or --ui-tls-client-ca-files so that only people you chose can open it (or listen on 127.0.0.1)',
      ],
      [{ 'ui-address': '12000' }, '--ui-address "12000" is not HOST:PORT (e.g. 127.0.0.1:12000)'],
      [{ 'ui-token-file': token }, '--ui-token-file needs --ui-address'],
      [{ ...tls() }, '--ui-tls-cert-file needs --ui-address'],
      [
        { 'ui-address': '127.0.0.1:1', 'ui-tls-cert-file': server.cert },
        '--ui-tls-cert-file and --ui-tls-key-file go together (the web UI serves HTTPS with both)',
      ],
      [
        { 'ui-address': '127.0.0.1:1', 'ui-tls-client-ca-files': [ca.cert] },
        '--ui-tls-client-ca-files needs --ui-tls-cert-file and --ui-tls-key-file (HTTPS)',
      ],
      [
        { 'ui-address': '127.0.0.1:1', 'ui-tls-cert-file': server.cert, 'ui-tls-key-file': ca.key },
        `--ui-tls-key-file: ${ca.key} is not the private key of ${server.cert} (--ui-tls-cert-file)`,
      ],
      [
        { 'ui-address': '127.0.0.1:1', 'ui-token-file': openToken },
        `--ui-token-file: ${openToken} is readable by other users (mode 644): chmod 600 ${openToken}`,
      ],
      [
        { 'ui-address': '127.0.0.1:1', 'ui-token-file': shortToken },
        `--ui-token-file: ${shortToken} must hold one token of at least 16 characters without spaces (e.g. openssl rand -hex 32 > ${shortToken})`,
      ],
      [{ 'ui-address': '127.0.0.1:1', 'ui-max-streams': 0 }, '--ui-max-streams: give at least 1'],
      [{ 'ui-address': '127.0.0.1:1', 'ui-client-queue-size': 0 }, '--ui-client-queue-size: give at least 1'],
    ];
    for (const [settings, message] of cases) {
      expect(() => serve(settings), JSON.stringify(settings)).toThrow(new ConfigError(message));
    }
  });

  it('serves other addresses over TLS to a token holder, recordings only to client certificates', () => {
    const withToken = serve({ 'ui-address': '0.0.0.0:12000', ...tls(), 'ui-token-file': token })!;
    expect(withToken.loopback).toBe(false);
    expect(withToken.auth.token).toBe('c2f1e0a9b8d7c6f5e4d3c2b1a0');
    expect(withToken.recorder).toEqual({
      enabled: false,
      reason:
        'recordings hold packet payloads: off this host the web UI offers them only to client certificates (--ui-tls-client-ca-files)',
    });
    const withCerts = serve({ 'ui-address': '0.0.0.0:12000', ...tls(), 'ui-tls-client-ca-files': [ca.cert] })!;
    expect(withCerts.tls?.clientCa).toBeDefined();
    expect(withCerts.recorder).toEqual({ enabled: true });
    expect(serve({ 'ui-address': '127.0.0.1:12000', 'ui-disable-recorder': true })!.recorder).toEqual({
      enabled: false,
      reason: 'recordings are turned off here (--ui-disable-recorder)',
    });
  });

  it('never offers recordings through the relay', () => {
    const relay = toRelayOptions(
      resolveSettings(RELAY_SETTINGS, { 'disable-server-tls': true, 'ui-address': '127.0.0.1:12000' }),
    );
    expect(relay.ui?.recorder).toEqual({
      enabled: false,
      reason: 'Hubble Relay does not serve the Recorder: record on a node’s own web UI',
    });
    expect(() =>
      toRelayOptions(resolveSettings(RELAY_SETTINGS, { 'disable-server-tls': true, 'ui-address': '[::]:12000' })),
    ).toThrow('--ui-address [::]:12000 is reachable from other hosts');
  });

  describe('on the command line', () => {
    let busy: Server;
    let busyPort: number;

    beforeAll(async () => {
      busy = createServer();
      await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
      busyPort = (busy.address() as { port: number }).port;
    });
    afterAll(() => busy?.close());

    it('stops serve and relay with one line before anything listens', async () => {
      const served = await runCli(['serve', '--source', 'pcap:/dev/null', '--ui-address', '0.0.0.0:0']);
      expect(served.code).toBe(2);
      expect(served.stderr).toBe(
        'hubble-ts: --ui-address 0.0.0.0:0 is reachable from other hosts: give --ui-tls-cert-file and --ui-tls-key-file, and --ui-token-file or --ui-tls-client-ca-files (or listen on 127.0.0.1)\n',
      );
      const relayed = await runCli(['relay', '--disable-server-tls', '--ui-address', ':0']);
      expect(relayed.code).toBe(2);
      expect(relayed.stderr).toMatch(/^hubble-ts: --ui-address :0 is reachable from other hosts: .*\n$/);
    });

    it('says which address is taken when the UI cannot listen', async () => {
      const capture = join(dir, 'empty.pcap');
      writeFileSync(capture, Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex'));
      const ran = await runCli([
        'serve',
        '--source',
        `pcap:${capture}`,
        '--socket-path',
        join(dir, 'busy.sock'),
        '--recordings-dir',
        join(dir, 'recordings'),
        '--ui-address',
        `127.0.0.1:${busyPort}`,
      ]);
      expect(ran.code).toBe(2);
      expect(ran.stderr).toBe(
        `hubble-ts: --ui-address 127.0.0.1:${busyPort}: the address is already in use (another process listens there)\n`,
      );
    });
  });
});

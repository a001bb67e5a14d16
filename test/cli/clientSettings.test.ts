// The client commands as a user runs them: settings from HUBBLE_TS_* variables and ~/.config/hubble-ts/config.yaml
// (flags win over the environment, which wins over the file), `observe --print-raw-filters` feeding a config file,
// and `observe --input-file` reading back what `observe -o json` saved.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/server/version.js';
import { runCli, spawnCli, type CliProcess } from '../harness/cli.js';
import { craftCapture, craftedPort, jsonLines, tempDir } from '../relay/harness.js';

const COUNT = 6;

describe('client settings, raw filters and saved flows', () => {
  let dir: string;
  let socket: string;
  let node: CliProcess;
  /** An environment with an empty home: no config file unless a test writes one. */
  let home: string;
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    PATH: process.env['PATH'],
    HOME: home,
    ...extra,
  });

  beforeAll(async () => {
    dir = tempDir('client-settings');
    socket = join(dir, 'hubble.sock');
    home = join(dir, 'home');
    mkdirSync(home);
    node = spawnCli([
      'serve',
      '--source',
      `pcap:${craftCapture(dir, 0, 1, COUNT)}`,
      '--socket-path',
      socket,
      '--recordings-dir',
      join(dir, 'rec'),
      '--node-name',
      'settings-node',
    ]);
    await node.waitFor((out) => out.includes('source ended'), 20_000, 'the capture to be replayed');
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('prints a flow as hubble observe -o json and compact print it, written out by hand', async () => {
    const ran = await runCli(['observe', '--server', `unix://${socket}`, '--first', '1', '-o', 'json']);
    const line = ran.stdout.replace(/"uuid":"[0-9a-f-]{36}"/, '"uuid":"UUID"');
    // The first datagram craftCapture writes: 10.0.0.1:30000 -> 10.9.9.9:7000 UDP at 1700000000 s, arriving from the
    // network. proto3 JSON with proto field names, enums by name, set fields only, in the order flow.proto declares
    // them (Go's protojson order: uuid and emitter right after time, trace_reason before is_reply).
    expect(line).toBe(
      '{"flow":{"time":"2023-11-14T22:13:20Z","uuid":"UUID",' +
        `"emitter":{"name":"hubble-ts","version":"${VERSION}"},"verdict":"FORWARDED",` +
        '"ethernet":{"source":"02:00:00:00:00:01","destination":"02:00:00:00:00:02"},' +
        '"IP":{"source":"10.0.0.1","destination":"10.9.9.9","ipVersion":"IPv4"},' +
        '"l4":{"UDP":{"source_port":30000,"destination_port":7000}},' +
        '"source":{"identity":2,"labels":["reserved:world"]},"destination":{"identity":2,"labels":["reserved:world"]},' +
        '"Type":"L3_L4","node_name":"settings-node","event_type":{"type":4,"sub_type":10},' +
        '"traffic_direction":"INGRESS","trace_observation_point":"FROM_NETWORK","trace_reason":"NEW","is_reply":false,' +
        '"Summary":"UDP"},"node_name":"settings-node","time":"2023-11-14T22:13:20Z"}\n',
    );
    const compact = await runCli(['observe', '--server', `unix://${socket}`, '--first', '1', '--color', 'never']);
    expect(compact.stdout).toBe(
      'Nov 14 22:13:20.000: 10.0.0.1:30000 (world) -> 10.9.9.9:7000 (world) from-network FORWARDED (UDP)\n',
    );
  });

  it('takes the server from HUBBLE_TS_SERVER, and a typed --server over it', async () => {
    const viaEnv = await runCli(['status'], 20_000, { env: env({ HUBBLE_TS_SERVER: `unix://${socket}` }) });
    expect(viaEnv.stdout).toContain(`Healthcheck (via unix://${socket}): Ok`);
    const typed = await runCli(['status', '--server', `unix://${socket}`], 20_000, {
      env: env({ HUBBLE_TS_SERVER: `unix://${join(dir, 'nothing-here.sock')}` }),
    });
    expect(typed.stdout).toContain(`Healthcheck (via unix://${socket}): Ok`);
  });

  it('reads ~/.config/hubble-ts/config.yaml, and the environment wins over it', async () => {
    mkdirSync(join(home, '.config', 'hubble-ts'), { recursive: true });
    const configFile = join(home, '.config', 'hubble-ts', 'config.yaml');
    writeFileSync(configFile, `server: unix://${socket}\ntimeout: 3s\n`);
    try {
      const fromFile = await runCli(['list', 'nodes'], 20_000, { env: env() });
      expect(fromFile.stdout).toMatch(/^NAME\s+STATUS.*\nsettings-node\s+Connected/);
      const envWins = await runCli(['status'], 20_000, {
        env: env({ HUBBLE_TS_SERVER: `unix://${join(dir, 'nothing-here.sock')}` }),
      });
      expect(envWins.code).not.toBe(0);
      expect(envWins.stderr.trim()).toBe(
        `hubble-ts: failed getting status: no socket at unix://${join(dir, 'nothing-here.sock')} (is hubble-ts serve running, and is --server right?)`,
      );
    } finally {
      writeFileSync(configFile, '');
    }
  });

  it('refuses a config file key no command knows, and a bad value, naming the file or variable', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `server: unix://${socket}\nsevrer: typo\n`);
    const unknownKey = await runCli(['status', '--config', file], 20_000, { env: env() });
    expect(unknownKey.code).toBe(1);
    expect(unknownKey.stderr).toMatch(
      new RegExp(`^hubble-ts: config file ${file}: unknown setting "sevrer" \\(known: `),
    );
    const badTimeout = await runCli(['status'], 20_000, {
      env: env({ HUBBLE_TS_SERVER: `unix://${socket}`, HUBBLE_TS_TIMEOUT: 'soon' }),
    });
    expect(badTimeout.code).toBe(1);
    expect(badTimeout.stderr).toMatch(/^hubble-ts: HUBBLE_TS_TIMEOUT: "soon" is not a duration \(use e\.g\. /);
    const badBool = await runCli(['status'], 20_000, { env: env({ HUBBLE_TS_TLS: 'maybe' }) });
    expect(badBool.stderr.trim()).toBe('hubble-ts: HUBBLE_TS_TLS: expected true or false, got "maybe"');
    const missing = await runCli(['status', '--config', join(dir, 'missing.yaml')], 20_000, { env: env() });
    expect(missing.stderr).toContain(`cannot read config file ${join(dir, 'missing.yaml')}`);
  });

  it('prints the filters as YAML that, given back as --config, selects the same flows', async () => {
    const printed = await runCli(['observe', '--print-raw-filters', '--port', '30002', '--not', '--protocol', 'tcp']);
    // Written by hand: yaml.v3's layout of the FlowFilters as Go's json.Marshal writes them (proto field names).
    expect(printed.stdout).toBe(
      'allowlist:\n' +
        `    - '{"source_port":["30002"]}'\n` +
        `    - '{"destination_port":["30002"]}'\n` +
        'denylist:\n' +
        `    - '{"protocol":["tcp"]}'\n`,
    );
    expect(printed.code).toBe(0);
    const file = join(dir, 'filters.yaml');
    writeFileSync(file, `server: unix://${socket}\n${printed.stdout}`);
    const viaConfig = await runCli(['observe', '--config', file, '-o', 'json', '--all'], 20_000, { env: env() });
    expect(jsonLines(viaConfig.stdout).map((r) => r['flow'].l4.UDP.source_port)).toEqual([craftedPort(0, 2)]);
  });

  it('prints times in each --time-format as hubble does: any case, and .999 fractions without trailing zeros', async () => {
    const file = join(dir, 'times.json');
    const flowAt = (time: string) =>
      JSON.stringify({ flow: { time, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' } } });
    writeFileSync(file, [flowAt('2026-12-07T04:53:53.120Z'), flowAt('2026-12-07T04:53:53Z')].join('\n') + '\n');
    const times = async (format: string) => {
      const r = await runCli(['observe', '--input-file', file, '--time-format', format]);
      expect(r.stderr).toBe('');
      return r.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(': ')[0]);
    };
    expect(await times('rfc3339milli')).toEqual(['2026-12-07T04:53:53.12Z', '2026-12-07T04:53:53Z']);
    expect(await times('RFC3339Micro')).toEqual(['2026-12-07T04:53:53.12Z', '2026-12-07T04:53:53Z']);
    expect(await times('RFC3339Nano')).toEqual(['2026-12-07T04:53:53.12Z', '2026-12-07T04:53:53Z']);
    expect(await times('StampMilli')).toEqual(['Dec  7 04:53:53.120', 'Dec  7 04:53:53.000']);
  });

  it('reads flows saved with -o json back from a file and from stdin, filtered, with --last', async () => {
    const saved = await runCli(['observe', '--server', `unix://${socket}`, '--all', '-o', 'json']);
    expect(jsonLines(saved.stdout)).toHaveLength(COUNT);
    const file = join(dir, 'saved.json');
    writeFileSync(file, `${saved.stdout}this line is not a flow\n`);

    const compact = await runCli(['observe', '--input-file', file, '--all', '--to-port', '7000', '--last', '2']);
    // `--last` and `--all` conflict for a server request too; with --last alone: the newest two, in file order.
    expect(compact.code).not.toBe(0);
    const last2 = await runCli(['observe', '--input-file', file, '--last', '2', '-o', 'json']);
    expect(jsonLines(last2.stdout).map((r) => r['flow'].l4.UDP.source_port)).toEqual([
      craftedPort(0, COUNT - 2),
      craftedPort(0, COUNT - 1),
    ]);
    expect(last2.stderr).toMatch(
      new RegExp(`^hubble-ts: --input-file ${file}: line ${COUNT + 1}: not JSON \\(.+\\), skipped\n$`),
    );
    const silent = await runCli(['observe', '--input-file', file, '--last', '2', '-s']);
    expect(silent.stderr).toBe('');

    const fromStdin = await runCli(['observe', '--input-file', '-', '--port', '30001', '-o', 'json'], 20_000, {
      input: saved.stdout,
    });
    expect(fromStdin.stdout).toBe(saved.stdout.split('\n')[1] + '\n');
    const first = await runCli(['observe', '--input-file', file, '--first', '1']);
    expect(first.stdout.trim().split('\n')).toHaveLength(1);
    expect(first.stdout).toContain(`10.0.0.1:${craftedPort(0, 0)}`);
  });
});

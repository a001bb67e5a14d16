// Command lines as hubble users type them, run as processes against a node: `observe flows` with its own flags, the
// server flags before the command, pflag's `--flag=true|false` and `-o=json` forms, several JSON filters in one
// --allowlist, a saved file printed whole, policy names, and exit status 1 on failure.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type CliProcess } from '../harness/cli.js';
import { craftCapture, jsonLines, tempDir } from '../relay/harness.js';

/** More than observe's default of 20, so a file printed whole shows. */
const COUNT = 30;

describe('hubble command lines', () => {
  let dir: string;
  let server: string;
  let node: CliProcess;
  /** No HUBBLE_TS_* settings and an empty home: only the command line says where the server is. */
  const env = (): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'], HOME: dir });

  beforeAll(async () => {
    dir = tempDir('command-lines');
    server = `unix://${join(dir, 'hubble.sock')}`;
    node = spawnCli([
      'serve',
      '--source',
      `pcap:${craftCapture(dir, 0, 1, COUNT)}`,
      '--socket-path',
      join(dir, 'hubble.sock'),
      '--recordings-dir',
      join(dir, 'rec'),
      '--node-name',
      'lines-node',
    ]);
    await node.waitFor((out) => out.includes('source ended'), 20_000, 'the capture to be replayed');
  });

  afterAll(async () => {
    await node?.stop();
  });

  const run = (args: string[]) => runCli(args, 20_000, { env: env() });

  it('gives the flags after `observe flows` and `observe agent-events` to them', async () => {
    const flows = await run(['observe', 'flows', '--server', server, '-o', 'json', '--last', '2']);
    expect(flows.stderr).toBe('');
    expect(jsonLines(flows.stdout).map((r) => r['flow'].l4.UDP.source_port)).toEqual([30_028, 30_029]);
    // Checked before connecting, so the bad format is what is reported, not the default socket.
    const events = await run(['observe', 'agent-events', '--server', server, '-o', 'bogus']);
    expect(events.stderr).toBe('hubble-ts: invalid output format: bogus (one of compact, dict, json, jsonpb, table)\n');
    expect(events.code).toBe(1);
  });

  it('takes the server flags before the command, as hubble`s root command does', async () => {
    const r = await run(['--server', server, 'observe', '--last', '3', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout)).toHaveLength(3);
    const status = await run(['--server', server, '--timeout', '5s', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('Healthcheck (via');
  });

  it('reads --flag=true|false, -f=false and -o=json as pflag does', async () => {
    const r = await run([
      'observe',
      `--server=${server}`,
      '--follow=false',
      '-f=0',
      '--numeric=false',
      '--print-node-name=true',
      '--last=1',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^\w{3} +\d+ [\d:.]+ \[lines-node\]: 10\.0\.0\.1:30029 /);
    const json = await run(['observe', '--server', server, '--last', '1', '-o=json', '--print-node-name=false']);
    expect(jsonLines(json.stdout)[0]!['flow'].l4.UDP.source_port).toBe(30_029);
    const raw = await run(['observe', '-n=shop', '--print-raw-filters']);
    expect(raw.stdout).toContain(`- '{"source_pod":["shop/"]}'`);
    const bad = await run(['observe', '--server', server, '--follow=maybe']);
    expect(bad.stderr).toBe('hubble-ts: invalid argument "maybe" for "--follow" flag: expected true or false\n');
    expect(bad.code).toBe(1);
  });

  it('takes several JSON filters in one --allowlist value, as a JSON stream', async () => {
    const r = await run([
      'observe',
      '--print-raw-filters',
      '--allowlist',
      '{"source_port":["30001"]} {"destination_port":["7000"]}{"source_ip":["10.0.0.1"]}',
    ]);
    expect(r.stdout).toBe(
      'allowlist:\n' +
        `    - '{"source_port":["30001"]}'\n` +
        `    - '{"destination_port":["7000"]}'\n` +
        `    - '{"source_ip":["10.0.0.1"]}'\n`,
    );
    const broken = await run(['observe', '--print-raw-filters', '--allowlist', '{"source_port":["1"]} {"x":']);
    expect(broken.stderr).toMatch(/^hubble-ts: invalid --allowlist flag: failed to decode '\{"x":': /);
    expect(broken.code).toBe(1);
  });

  it('prints a saved file whole without --last, and its last N with it', async () => {
    const saved = await run(['observe', '--server', server, '--all', '-o', 'json']);
    const file = join(dir, 'saved.json');
    writeFileSync(file, saved.stdout);
    const whole = await run(['observe', '--input-file', file, '-o', 'json']);
    expect(jsonLines(whole.stdout)).toHaveLength(COUNT);
    const last = await run(['observe', '--input-file', file, '-o', 'json', '--last', '4']);
    expect(jsonLines(last.stdout).map((r) => r['flow'].l4.UDP.source_port)).toEqual([30_026, 30_027, 30_028, 30_029]);
  });

  it('names the policies of a policy verdict with --print-policy-names', async () => {
    // A policy verdict as Cilium's Hubble reports one (event type 5), allowed on ingress by two policies; written by
    // hand, with hubble's compact line for it.
    const file = join(dir, 'verdict.json');
    const policy = (name: string, kind: string) => ({ name, namespace: 'shop', kind });
    writeFileSync(
      file,
      JSON.stringify({
        flow: {
          time: '2026-12-07T10:00:00Z',
          verdict: 'FORWARDED',
          IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
          l4: { TCP: { source_port: 40000, destination_port: 80 } },
          event_type: { type: 5 },
          traffic_direction: 'INGRESS',
          policy_match_type: 1,
          is_reply: false,
          ingress_allowed_by: [policy('allow-web', 'CiliumNetworkPolicy'), policy('', 'CiliumNetworkPolicy')],
          egress_allowed_by: [policy('not-this-way', 'NetworkPolicy')],
        },
      }) + '\n',
    );
    const plain = await run(['observe', '--input-file', file]);
    expect(plain.stdout).toBe(
      'Dec  7 10:00:00.000: 10.0.0.1:40000 (unknown) -> 10.0.0.2:80 (unknown) policy-verdict:L3-Only INGRESS ALLOWED ()\n',
    );
    const named = await run(['observe', '--input-file', file, '--print-policy-names']);
    expect(named.stdout).toBe(
      'Dec  7 10:00:00.000: 10.0.0.1:40000 (unknown) -> 10.0.0.2:80 (unknown) policy-verdict:L3-Only INGRESS ' +
        'ALLOWED BY allow-web (CiliumNetworkPolicy) ()\n',
    );
  });

  it('exits 1 when the server is not there, as hubble does', async () => {
    const r = await run(['status', '--server', `unix://${join(dir, 'gone.sock')}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hubble-ts: failed getting status: no socket at /);
  });
});

// Clients that vanish mid-stream: `hubble-ts observe --follow` and `hubble-ts record` processes killed with SIGKILL
// (no goodbye, the socket just closes) while `hubble-ts serve` captures live traffic. The server releases everything
// they held: the GetFlows clients gauge goes back to 0, every recording stops and leaves a valid file holding what it
// captured, and the server carries on serving.
import { readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type CliProcess } from '../harness/cli.js';
import { tsharkFields } from '../harness/tshark.js';
import { waitUntil } from '../soak/flowCounter.js';
import { startServe, type ServedProcess } from '../soak/processes.js';
import { healthCheck } from '../fuzz/wire.js';
import { metricOf, UdpTarget } from './load.js';

describe('clients that vanish mid-stream', () => {
  let dir: string;
  let serve: ServedProcess;
  let target: UdpTarget;
  const clients: CliProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-fault-vanish-'));
    target = await UdpTarget.open();
    serve = await startServe({ name: 'vanish', dir, sources: [`live:lo:udp dst port ${target.port}`] });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop('SIGKILL')));
    target?.close();
    await serve?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('releases every stream and stops every recording of a SIGKILLed client, leaving valid files', async () => {
    const server = `unix://${serve.socket}`;
    const observers = Array.from({ length: 4 }, () =>
      spawnCli(['observe', '--server', server, '--follow', '-o', 'json']),
    );
    const recorders = Array.from({ length: 3 }, (_, i) =>
      spawnCli([
        'record',
        '--server',
        server,
        '--file-prefix',
        `gone${i}`,
        `127.0.0.1/32 0 127.0.0.1/32 ${target.port} UDP`,
      ]),
    );
    clients.push(...observers, ...recorders);
    await waitUntil(
      async () =>
        (await metricOf(serve, 'hubblets_getflows_clients')) === 4 &&
        (await metricOf(serve, 'hubblets_recordings_running')) === 3,
      'four followers and three recordings',
      30_000,
    );
    // Traffic flows into all of them; each follower has printed some of it when the clients are killed.
    const stop = { stopped: false };
    const sending = target.send(1_000_000, 500, 100, stop);
    await waitUntil(
      () => observers.every((o) => o.stdout().includes('"flow"')),
      'every follower to print flows',
      15_000,
    );
    for (const c of [...observers, ...recorders]) c.child.kill('SIGKILL');
    await Promise.all([...observers, ...recorders].map((c) => c.exited));

    // Resources are released though traffic goes on.
    await waitUntil(
      async () =>
        (await metricOf(serve, 'hubblets_getflows_clients')) === 0 &&
        (await metricOf(serve, 'hubblets_recordings_running')) === 0,
      'the server to release the streams and stop the recordings',
      10_000,
    );
    stop.stopped = true;
    await sending;
    expect(await healthCheck(server)).toBe('SERVING');

    // Three files, each a valid pcap that holds the datagrams it captured before its client vanished.
    const files = readdirSync(join(dir, 'vanish-recordings')).filter((f) => f.endsWith('.pcap'));
    expect(files.map((f) => f.replace(/_.*/, '')).sort()).toEqual(['gone0', 'gone1', 'gone2']);
    for (const f of files) {
      const rows = await tsharkFields(join(dir, 'vanish-recordings', f), ['udp.dstport']);
      expect(rows.length, f).toBeGreaterThan(0);
      for (const [port] of rows) expect(port).toBe(String(target.port));
    }
    // The store lists them as finished.
    const listed = await runCli(['recordings', 'list', '--server', server, '-o', 'json']);
    expect(listed.code, listed.stderr).toBe(0);
    const recordings = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; running?: boolean });
    expect(recordings).toHaveLength(3);
    for (const r of recordings) expect(r.running ?? false, r.name).toBe(false);
  }, 90_000);
});

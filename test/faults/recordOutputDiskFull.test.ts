// `hubble-ts record -o FILE` while the server's disk fills up: the recording fails RESOURCE_EXHAUSTED, and the pcap
// the client downloaded while it ran is kept (a valid pcap holding what the server's file holds), the error saying so.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliProcess } from '../harness/cli.js';
import { mountTmpfs, type Tmpfs } from '../harness/tmpfs.js';
import { tsharkFields } from '../harness/tshark.js';
import { startServe, type ServedProcess } from '../soak/processes.js';
import { UdpTarget } from './load.js';

describe('record -o FILE when the server runs out of disk', () => {
  let dir: string;
  let recordingsFs: Tmpfs;
  let serve: ServedProcess;
  let target: UdpTarget;
  let record: CliProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-fault-record-output-'));
    recordingsFs = mountTmpfs(256, 'record-output');
    target = await UdpTarget.open();
    serve = await startServe({
      name: 'recordout',
      dir,
      sources: [`live:lo:udp dst port ${target.port}`],
      extra: ['--recordings-dir', join(recordingsFs.dir, 'recordings')],
    });
  });

  afterAll(async () => {
    await record?.stop('SIGKILL');
    target?.close();
    await serve?.stop('SIGKILL');
    recordingsFs?.unmount();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails RESOURCE_EXHAUSTED and keeps the downloaded pcap, saying where', async () => {
    const local = join(dir, 'downloaded.pcap');
    record = spawnCli([
      'record',
      '--server',
      `unix://${serve.socket}`,
      '--file-prefix',
      'full',
      '-o',
      local,
      `127.0.0.1/32 0 127.0.0.1/32 ${target.port} UDP`,
    ]);
    await record.waitFor((_out, err) => err.includes('Started recording'), 15_000, 'the recording to start');
    // 1 KB datagrams: about 240 fill the 256 KiB the server records into.
    await target.send(1000, 500, 1000);
    const code = await record.exited;
    expect(code).not.toBe(0);
    expect(record.stderr()).toMatch(/RESOURCE_EXHAUSTED/);
    expect(record.stderr(), record.stderr()).toContain(`${local} holds the `);
    expect(existsSync(local)).toBe(true);
    // What was downloaded is the server's file as it stopped: the same packets, and tshark reads it whole.
    const onServer = readdirSync(join(recordingsFs.dir, 'recordings')).filter((f) => f.startsWith('full'));
    expect(onServer).toHaveLength(1);
    const serverRows = await tsharkFields(join(recordingsFs.dir, 'recordings', onServer[0]!), ['udp.dstport']);
    const localRows = await tsharkFields(local, ['udp.dstport']);
    expect(localRows.length).toBeGreaterThan(0);
    expect(localRows.length).toBe(serverRows.length);
  });
});

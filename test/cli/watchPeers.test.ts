// `hubble-ts watch peers` and `hubble-ts version` as a user runs them: the Peer service's notifications printed as
// `hubble watch peers` prints them, following edits of the node's peers file, until Ctrl-C.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type CliProcess } from '../harness/cli.js';
import { craftCapture, tempDir, writePeersFile } from '../relay/harness.js';

describe('hubble-ts watch peers', () => {
  let dir: string;
  let socket: string;
  let peersFile: string;
  let node: CliProcess;

  beforeAll(async () => {
    dir = tempDir('watch-peers');
    socket = join(dir, 'hubble.sock');
    peersFile = join(dir, 'peers.yaml');
    writePeersFile(peersFile, [{ name: 'beta', address: '10.0.0.2:4244' }]);
    node = spawnCli([
      'serve',
      '--source',
      `pcap:${craftCapture(dir, 0, 1, 1)}`,
      '--socket-path',
      socket,
      '--recordings-dir',
      join(dir, 'rec'),
      '--node-name',
      'alpha',
      '--peers-file',
      peersFile,
    ]);
    await node.waitFor((out) => out.includes('serving Hubble API'), 20_000, 'the node to serve');
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('prints every peer, then each change, and stops cleanly on Ctrl-C', async () => {
    const watch = spawnCli(['watch', 'peers', '--server', `unix://${socket}`]);
    try {
      // Written by hand from hubble's "%-12s %s %s%s" layout.
      await watch.waitFor((out) => out.split('\n').length > 2, 15_000, 'the known peers');
      expect(watch.stdout()).toBe(`PEER_ADDED   10.0.0.2:4244 beta\nPEER_ADDED   unix://${socket} alpha\n`);
      writePeersFile(peersFile, [
        { name: 'beta', address: '10.0.0.2:4244', tlsServerName: 'beta.default.hubble-grpc.cilium.io' },
        { name: 'gamma', address: '10.0.0.3:4244' },
      ]);
      await watch.waitFor((out) => out.split('\n').length > 4, 15_000, 'the edit');
      const changes = watch.stdout().split('\n').slice(2, 4).sort();
      expect(changes).toEqual([
        'PEER_ADDED   10.0.0.3:4244 gamma',
        'PEER_UPDATED 10.0.0.2:4244 beta (TLS.ServerName: beta.default.hubble-grpc.cilium.io)',
      ]);
      expect(await watch.stop('SIGINT')).toBe(0);
      expect(watch.stderr()).toBe('');
    } finally {
      await watch.stop('SIGKILL');
    }
  });

  it('says which server is not there, in one line', async () => {
    const ran = await runCli(['watch', 'peers', '--server', `unix://${join(dir, 'none.sock')}`]);
    expect(ran.code).not.toBe(0);
    expect(ran.stderr.trim()).toBe(
      `hubble-ts: no socket at unix://${join(dir, 'none.sock')} (is hubble-ts serve running, and is --server right?)`,
    );
  });
});

describe('hubble-ts version', () => {
  it('names the version and the runtime, as hubble version does', async () => {
    const ran = await runCli(['version']);
    expect(ran.stdout).toBe(
      `hubble-ts v0.1.0+hubble-ts running on Node.js ${process.version} on linux/${process.arch}\n`,
    );
  });
});

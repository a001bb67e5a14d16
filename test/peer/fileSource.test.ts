// A real peers file edited on disk while a relay-like client follows Notify over the unix socket: every edit yields
// exactly the notifications it implies, in order, however the editor writes the file; a bad edit is logged and
// changes nothing until a good one comes.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PeerService as PeerServiceDefinition } from '../../src/api/peer/peer.js';
import { PeerDirectory } from '../../src/peer/directory.js';
import { PeersFileSource } from '../../src/peer/fileSource.js';
import { PeerService } from '../../src/peer/service.js';
import { ConfigError } from '../../src/server/config.js';
import { createApiServer, shutdownApiServer, type ApiServer } from '../../src/server/grpcServer.js';
import { bindUnixSocket } from '../../src/server/listeners.js';
import { NotifySubscriber, unixPeerClient } from './notifyClient.js';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function peersYaml(...peers: [name: string, address: string, tls?: string][]): string {
  if (peers.length === 0) return 'peers: []\n';
  return (
    'peers:\n' +
    peers
      .map(
        ([name, address, tls]) =>
          `  - name: ${name}\n    address: "${address}"\n` + (tls === undefined ? '' : `    tls-server-name: ${tls}\n`),
      )
      .join('')
  );
}

/** How vim writes with its default settings: probe file, original renamed to a backup, new file, backup removed. */
function writeLikeVim(path: string, text: string): void {
  const dir = join(path, '..');
  writeFileSync(join(dir, '4913'), '');
  unlinkSync(join(dir, '4913'));
  renameSync(path, `${path}~`);
  writeFileSync(path, text);
  unlinkSync(`${path}~`);
}

/** How atomic writers (and sed -i) replace a file: a temporary file renamed over it. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

describe('a peers file edited while Notify streams', () => {
  let dir: string;
  let file: string;
  let logs: LogLine[];
  let source: PeersFileSource;
  let directory: PeerDirectory;
  let service: PeerService;
  let api: ApiServer;
  let sub: NotifySubscriber;

  async function start(text: string, pollIntervalMs = 60_000, path = file): Promise<void> {
    writeFileSync(file, text);
    logs = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as LogLine) });
    source = new PeersFileSource(path, { logger, debounceMs: 30, pollIntervalMs });
    directory = new PeerDirectory([source], logger);
    await directory.start();
    service = new PeerService(directory);
    api = createApiServer([
      { name: 'peer.Peer', definition: PeerServiceDefinition, implementation: service.implementation },
    ]);
    const socket = join(dir, 'hubble.sock');
    await bindUnixSocket(api.server, socket);
    sub = new NotifySubscriber(unixPeerClient(socket));
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-peers-'));
    file = join(dir, 'peers.yaml');
  });

  afterEach(async () => {
    sub?.cancel();
    sub?.client.close();
    service?.close();
    directory?.close();
    if (api) await shutdownApiServer(api, 500);
  });

  it('turns each edit into exactly its notifications, in order, however the file is written', async () => {
    await start(peersYaml(['alpha', '10.0.0.1:4244'], ['beta', '10.0.0.2:4244']));
    expect(await sub.waitForCount(2)).toEqual(['ADDED alpha 10.0.0.1:4244', 'ADDED beta 10.0.0.2:4244']);

    const steps: {
      edit: string;
      write: (path: string, text: string) => void | Promise<void>;
      text: string;
      expected: string[];
    }[] = [
      {
        edit: 'a peer added (written in place)',
        write: writeFileSync,
        text: peersYaml(['alpha', '10.0.0.1:4244'], ['beta', '10.0.0.2:4244'], ['gamma', '10.0.0.3:4244']),
        expected: ['ADDED gamma 10.0.0.3:4244'],
      },
      {
        edit: 'a peer removed',
        write: writeFileSync,
        text: peersYaml(['alpha', '10.0.0.1:4244'], ['gamma', '10.0.0.3:4244']),
        expected: ['DELETED beta 10.0.0.2:4244'],
      },
      {
        edit: 'an address changed',
        write: writeFileSync,
        text: peersYaml(['alpha', '10.0.0.11:4244'], ['gamma', '10.0.0.3:4244']),
        expected: ['UPDATED alpha 10.0.0.11:4244'],
      },
      {
        edit: 'a TLS server name set',
        write: writeFileSync,
        text: peersYaml(['alpha', '10.0.0.11:4244'], ['gamma', '10.0.0.3:4244', 'gamma.default.hubble-grpc.cilium.io']),
        expected: ['UPDATED gamma 10.0.0.3:4244 tls=gamma.default.hubble-grpc.cilium.io'],
      },
      {
        edit: 'a TLS server name changed, saved by vim (rename to a backup, write anew)',
        write: writeLikeVim,
        text: peersYaml(['alpha', '10.0.0.11:4244'], ['gamma', '10.0.0.3:4244', 'gamma.prod.hubble-grpc.cilium.io']),
        expected: ['UPDATED gamma 10.0.0.3:4244 tls=gamma.prod.hubble-grpc.cilium.io'],
      },
      {
        edit: 'several changes replaced atomically (temporary file renamed over it)',
        write: writeAtomically,
        text: peersYaml(['gamma', '10.0.0.3:4244'], ['delta', '[fd00::4]:4244'], ['alpha', '10.0.0.1:4244']),
        expected: ['UPDATED gamma 10.0.0.3:4244', 'ADDED delta [fd00::4]:4244', 'UPDATED alpha 10.0.0.1:4244'],
      },
      {
        edit: 'a peer renamed',
        write: writeLikeVim,
        text: peersYaml(['gamma', '10.0.0.3:4244'], ['delta', '[fd00::4]:4244'], ['alpha-1', '10.0.0.1:4244']),
        expected: ['DELETED alpha 10.0.0.1:4244', 'ADDED alpha-1 10.0.0.1:4244'],
      },
      {
        edit: 'only comments and order changed, then a sentinel added',
        write: (path, text) => {
          writeFileSync(
            path,
            `# reordered\n${peersYaml(['alpha-1', '10.0.0.1:4244'], ['delta', '[FD00::4]:4244'], ['gamma', '10.0.0.3:4244'])}`,
          );
          return new Promise((r) => setTimeout(r, 150)).then(() => writeFileSync(path, text));
        },
        text: peersYaml(
          ['alpha-1', '10.0.0.1:4244'],
          ['delta', '[fd00::4]:4244'],
          ['gamma', '10.0.0.3:4244'],
          ['sentinel', '10.9.9.9:4244'],
        ),
        expected: ['ADDED sentinel 10.9.9.9:4244'],
      },
      {
        edit: 'every peer removed',
        write: writeFileSync,
        text: peersYaml(),
        expected: [
          'DELETED alpha-1 10.0.0.1:4244',
          'DELETED delta [fd00::4]:4244',
          'DELETED gamma 10.0.0.3:4244',
          'DELETED sentinel 10.9.9.9:4244',
        ],
      },
    ];
    for (const step of steps) {
      await step.write(file, step.text);
      await expect(sub.next(step.expected.length), step.edit).resolves.toEqual(step.expected);
    }
    // Nothing more than asked for.
    await new Promise((r) => setTimeout(r, 200));
    expect(sub.received).toHaveLength(2 + steps.reduce((n, s) => n + s.expected.length, 0));
  });

  it('keeps the last good peers through a bad edit, says so in the log, and applies the next good edit', async () => {
    await start(peersYaml(['alpha', '10.0.0.1:4244'], ['beta', '10.0.0.2:4244']));
    await sub.waitForCount(2);

    writeFileSync(file, peersYaml(['alpha', '10.0.0.1:4244'], ['alpha', '10.0.0.5:4244']));
    const refused = await waitForLog(() => logs.find((l) => l.level === 50));
    expect(refused.msg).toMatch(
      new RegExp(
        `^peers file ${file}:4: peers\\[1\\]\\.name: "alpha" is already the name of the peer on line 2; keeping the last good peers until the file is fixed$`,
      ),
    );
    expect(refused['peers']).toBe(2);

    // The next good edit is diffed against the last good file, not the bad one.
    writeLikeVim(file, peersYaml(['alpha', '10.0.0.1:4244'], ['gamma', '10.0.0.3:4244']));
    expect(await sub.next(2)).toEqual(['DELETED beta 10.0.0.2:4244', 'ADDED gamma 10.0.0.3:4244']);
    expect(sub.received).toHaveLength(4);
    expect(logs.filter((l) => l.msg === 'peers file reloaded').at(-1)).toMatchObject({
      added: 1,
      deleted: 1,
      updated: 0,
    });
  });

  it('keeps the peers when the file disappears, and reads it again when it is back', async () => {
    await start(peersYaml(['alpha', '10.0.0.1:4244']));
    await sub.waitForCount(1);
    unlinkSync(file);
    const warned = await waitForLog(() => logs.find((l) => l.level === 40));
    expect(warned).toMatchObject({
      msg: 'cannot read the peers file; keeping the last good peers',
      err: 'no such file',
    });
    writeFileSync(file, peersYaml(['alpha', '10.0.0.1:4244'], ['beta', '10.0.0.2:4244']));
    expect(await sub.next(1)).toEqual(['ADDED beta 10.0.0.2:4244']);
  });

  it('notices a file swapped behind a symlink, as Kubernetes updates a mounted ConfigMap, by checking periodically', async () => {
    // peers.yaml -> ..data/peers.yaml, ..data -> ..v1: an update writes ..v2 and renames a new ..data link over the
    // old one. Nothing named peers.yaml changes in the directory, so only the periodic check can see it.
    mkdirSync(join(dir, '..v1'));
    writeFileSync(join(dir, '..v1', 'peers.yaml'), peersYaml(['alpha', '10.0.0.1:4244']));
    symlinkSync('..v1', join(dir, '..data'));
    const link = join(dir, 'mounted.yaml');
    symlinkSync(join('..data', 'peers.yaml'), link);
    await start(peersYaml(), 100, link);
    expect(await sub.waitForCount(1)).toEqual(['ADDED alpha 10.0.0.1:4244']);

    mkdirSync(join(dir, '..v2'));
    writeFileSync(join(dir, '..v2', 'peers.yaml'), peersYaml(['alpha', '10.0.0.1:4244', 'alpha.example']));
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, '..v1'), { recursive: true });
    expect(await sub.next(1)).toEqual(['UPDATED alpha 10.0.0.1:4244 tls=alpha.example']);
  });

  it('refuses to start on a bad file, naming the line', async () => {
    writeFileSync(file, 'peers:\n  - name: alpha\n    address: 10.0.0.1\n');
    const bad = new PeerDirectory([new PeersFileSource(file)]);
    await expect(bad.start()).rejects.toThrow(ConfigError);
    await expect(new PeerDirectory([new PeersFileSource(file)]).start()).rejects.toThrow(
      `peers file ${file}:3: peers[0].address: "10.0.0.1" has no port (write it as 10.0.0.1:4244)`,
    );
    await expect(new PeerDirectory([new PeersFileSource(join(dir, 'missing.yaml'))]).start()).rejects.toThrow(
      `peers file ${join(dir, 'missing.yaml')}: cannot read it: no such file`,
    );
  });

  async function waitForLog(find: () => LogLine | undefined, timeoutMs = 5000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = find();
      if (line) return line;
      if (Date.now() > deadline) throw new Error(`log line not seen; logs:\n${logs.map((l) => l.msg).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
});

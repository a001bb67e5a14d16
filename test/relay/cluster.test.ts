// What a user of a cluster sees: three hubble-ts nodes replaying captures (mTLS on their TCP API), the first one's Peer
// service listing all three (itself plus a peers file), `hubble-ts relay` as a process with mTLS on both sides, and
// `hubble-ts observe/status/list` against the relay. Then the TLS refusals, both between relay and nodes and between
// client and relay.
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObserverClient } from '../../src/api/observer/observer.js';
import type { RunningNode } from '../../src/server/node.js';
import { resolveSettings, type Settings } from '../../src/server/config.js';
import { startRelay, type RunningRelay } from '../../src/server/relay.js';
import { RELAY_SETTINGS, toRelayOptions } from '../../src/server/relayOptions.js';
import {
  craftCapture,
  craftedPort,
  jsonLines,
  makeClusterPki,
  startPeerService,
  startPlainRelay,
  startRelayProcess,
  startTestNode,
  tempDir,
  writePeersFile,
  type ClusterPki,
  type TestPeerService,
} from './harness.js';
import { runCli, type CliProcess } from '../harness/cli.js';

const NAMES = ['alpha', 'beta', 'gamma'] as const;
const PER_NODE = 8;
const TOTAL = NAMES.length * PER_NODE;

/** The global sequence: position g is packet floor(g / 3) of node g % 3. */
function portAt(g: number): number {
  return craftedPort(g % NAMES.length, Math.floor(g / NAMES.length));
}

describe('hubble-ts relay over three nodes, mTLS everywhere', () => {
  let pki: ClusterPki;
  const nodes: RunningNode[] = [];
  let relay: CliProcess & { port: number };
  let dir: string;
  let client: (extra?: string[]) => string[];

  beforeAll(async () => {
    dir = tempDir('cluster');
    pki = makeClusterPki(NAMES);
    // beta and gamma first: alpha's peers file needs their ports.
    for (const [i, name] of NAMES.entries()) {
      if (i === 0) continue;
      nodes[i] = await startTestNode({
        name,
        dir,
        source: `pcap:${craftCapture(dir, i, NAMES.length, PER_NODE)}`,
        tls: { cert: pki.nodes[name]!, clientCa: pki.ca.cert },
      });
    }
    const peersFile = join(dir, 'peers.yaml');
    writePeersFile(peersFile, [
      // No tls-server-name: the relay derives beta.default.hubble-grpc.cilium.io, as Hubble does.
      { name: 'beta', address: `127.0.0.1:${nodes[1]!.tcpPort}` },
      {
        name: 'gamma',
        address: `127.0.0.1:${nodes[2]!.tcpPort}`,
        tlsServerName: 'gamma.default.hubble-grpc.cilium.io',
      },
    ]);
    nodes[0] = await startTestNode({
      name: 'alpha',
      dir,
      source: `pcap:${craftCapture(dir, 0, NAMES.length, PER_NODE)}`,
      tls: { cert: pki.nodes['alpha']!, clientCa: pki.ca.cert },
      peersFile,
    });
    relay = await startRelayProcess([
      '--peer-service',
      `unix://${join(dir, 'alpha.sock')}`,
      '--tls-client-cert-file',
      pki.relayClient.cert,
      '--tls-client-key-file',
      pki.relayClient.key,
      '--tls-hubble-server-ca-files',
      pki.ca.cert,
      '--tls-relay-server-cert-file',
      pki.relayServer.cert,
      '--tls-relay-server-key-file',
      pki.relayServer.key,
      '--tls-relay-client-ca-files',
      pki.ca.cert,
      '--sort-buffer-drain-timeout',
      '200ms',
    ]);
    await relay.waitFor(
      (out) => (out.match(/"msg":"connected to peer"/g) ?? []).length === 3,
      15_000,
      'the relay to connect to all three nodes',
    );
    client = (extra = []) => [
      '--server',
      `127.0.0.1:${relay.port}`,
      '--tls',
      '--tls-ca-cert-files',
      pki.ca.cert,
      '--tls-client-cert-file',
      pki.user.cert,
      '--tls-client-key-file',
      pki.user.key,
      ...extra,
    ];
  });

  afterAll(async () => {
    await relay?.stop();
    await Promise.all(nodes.map((n) => n?.close()));
  });

  it("merges every node's flows in time order (observe --all --print-node-name)", async () => {
    const [json, compact] = await Promise.all([
      runCli(['observe', '--all', '-o', 'json', ...client()]),
      runCli(['observe', '--all', '--print-node-name', ...client()]),
    ]);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const flows = jsonLines(json.stdout).map((l) => l['flow']);
    expect(flows).toHaveLength(TOTAL);
    // Interleaved in capture time across the nodes: alpha, beta, gamma, alpha, ...
    expect(flows.map((f) => f.node_name)).toEqual(Array.from({ length: TOTAL }, (_, g) => NAMES[g % 3]));
    expect(flows.map((f) => f.l4.UDP.source_port)).toEqual(Array.from({ length: TOTAL }, (_, g) => portAt(g)));
    const times = flows.map((f) => Date.parse(f.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));

    expect(compact.code).toBe(0);
    const lines = compact.stdout.trim().split('\n');
    expect(lines).toHaveLength(TOTAL);
    expect(lines[0]).toMatch(/\[alpha\]: 10\.0\.0\.1:30000 .* -> 10\.9\.9\.9:7000/);
    expect(lines[1]).toMatch(/\[beta\]: 10\.0\.1\.1:31000/);
    expect(lines[2]).toMatch(/\[gamma\]: 10\.0\.2\.1:32000/);
  });

  it('answers --last N with the last N of the cluster, --first N with its first N, not N per node', async () => {
    const [last, first, dflt] = await Promise.all([
      runCli(['observe', '--last', '5', '-o', 'json', ...client()]),
      runCli(['observe', '--first', '4', '-o', 'json', ...client()]),
      runCli(['observe', '-o', 'json', ...client()]), // hubble's default: the last 20
    ]);
    const ports = (r: { stdout: string }) => jsonLines(r.stdout).map((l) => l['flow'].l4.UDP.source_port);
    expect(ports(last)).toEqual([19, 20, 21, 22, 23].map(portAt));
    expect(ports(first)).toEqual([0, 1, 2, 3].map(portAt));
    expect(ports(dflt)).toEqual(Array.from({ length: 20 }, (_, i) => portAt(TOTAL - 20 + i)));
  });

  it('applies filters on every node before taking the last N (--last 3 --from-ip, --node-name)', async () => {
    const [gamma, beta] = await Promise.all([
      runCli(['observe', '--last', '3', '--from-ip', '10.0.2.1', '-o', 'json', ...client()]),
      runCli(['observe', '--last', '2', '--node-name', 'beta', '-o', 'json', ...client()]),
    ]);
    expect(gamma.code).toBe(0);
    expect(jsonLines(gamma.stdout).map((l) => l['flow'].l4.UDP.source_port)).toEqual(
      [5, 6, 7].map((k) => craftedPort(2, k)),
    );
    expect(jsonLines(beta.stdout).map((l) => l['flow'].node_name)).toEqual(['beta', 'beta']);
    expect(jsonLines(beta.stdout).map((l) => l['flow'].l4.UDP.source_port)).toEqual(
      [6, 7].map((k) => craftedPort(1, k)),
    );
  });

  it('passes field masks to the nodes and still sorts by time', async () => {
    const r = await runCli(['observe', '--last', '4', '-o', 'json', '--field-mask', 'node_name,time', ...client()]);
    expect(r.code).toBe(0);
    const flows = jsonLines(r.stdout).map((l) => l['flow']);
    expect(flows.map((f) => Object.keys(f).sort())).toEqual(Array(4).fill(['node_name', 'time']));
    expect(flows.map((f) => f.node_name)).toEqual([20, 21, 22, 23].map((g) => NAMES[g % 3]));
  });

  it('lists every node with its state, address and TLS (list nodes), and sums them up (status)', async () => {
    const [list, wide, status] = await Promise.all([
      runCli(['list', 'nodes', ...client()]),
      runCli(['list', 'nodes', '-o', 'wide', ...client()]),
      runCli(['status', ...client()]),
    ]);
    expect(list.code).toBe(0);
    for (const name of NAMES) expect(list.stdout).toMatch(new RegExp(`${name}\\s+Connected\\s+\\S+\\s+\\S+\\s+8/4095`));
    expect(wide.stdout).toMatch(new RegExp(`beta\\s+Connected.*127\\.0\\.0\\.1:${nodes[1]!.tcpPort}\\s+Enabled`));
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/Healthcheck \(via 127\.0\.0\.1:\d+\): Ok/);
    expect(status.stdout).toMatch(/Current\/Max Flows: 24\/12,285/);
    expect(status.stdout).toMatch(/Connected Nodes: 3\/3/);
    expect(status.stdout).not.toMatch(/Unavailable/);
  });

  it('refuses clients without a certificate, with one from another CA, and clients that trust another CA or name', async () => {
    const base = ['observe', '--last', '1', '--server', `127.0.0.1:${relay.port}`, '--tls'];
    const [noCert, stranger, wrongCa, wrongName, ok] = await Promise.all([
      runCli([...base, '--tls-ca-cert-files', pki.ca.cert]),
      runCli([
        ...base,
        '--tls-ca-cert-files',
        pki.ca.cert,
        '--tls-client-cert-file',
        pki.strangerUser.cert,
        '--tls-client-key-file',
        pki.strangerUser.key,
      ]),
      runCli([
        ...base,
        '--tls-ca-cert-files',
        pki.otherCa.cert,
        '--tls-client-cert-file',
        pki.user.cert,
        '--tls-client-key-file',
        pki.user.key,
      ]),
      runCli(['observe', '--last', '1', ...client(['--tls-server-name', 'not-the-relay.example'])]),
      runCli(['observe', '--last', '1', '-o', 'json', ...client()]),
    ]);
    for (const refused of [noCert, stranger, wrongCa, wrongName]) {
      expect(refused.code).not.toBe(0);
      expect(refused.stdout).toBe('');
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(wrongCa.stderr).toMatch(/TLS|certificate/i);
    expect(wrongName.stderr).toMatch(/TLS|certificate|altnames|not-the-relay/i);
    expect(ok.code).toBe(0);
    expect(jsonLines(ok.stdout).map((l) => l['flow'].l4.UDP.source_port)).toEqual([portAt(TOTAL - 1)]);
  });

  it('serves health and reflection, and answers GetAgentEvents and GetDebugEvents UNIMPLEMENTED as upstream relay does', async () => {
    const creds = grpc.credentials.createSsl(
      readFileSync(pki.ca.cert),
      readFileSync(pki.user.key),
      readFileSync(pki.user.cert),
    );
    const observer = new ObserverClient(`127.0.0.1:${relay.port}`, creds);
    const failure = (method: 'getAgentEvents' | 'getDebugEvents') =>
      new Promise<grpc.ServiceError>((resolve) => {
        const call = observer[method]({ number: '1', first: false, follow: false, since: undefined, until: undefined });
        call.on('data', () => undefined);
        call.on('error', resolve);
      });
    expect(await failure('getAgentEvents')).toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    expect(await failure('getDebugEvents')).toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    observer.close();

    const reflectionProto = createRequire(import.meta.url).resolve(
      '@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto',
    );
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto, { keepCase: true })) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
    };
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${relay.port}`, creds);
    const listed = await new Promise<Record<string, any>>((resolve, reject) => {
      const call = (
        reflection as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, Record<string, any>> }
      ).ServerReflectionInfo();
      call.on('data', (res) => {
        resolve(res);
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
    reflection.close();
    expect(listed['list_services_response'].service.map((s: { name: string }) => s.name)).toContain(
      'observer.Observer',
    );
  });

  describe('refusals between the relay and the nodes', () => {
    let peers: TestPeerService;
    const relays: RunningRelay[] = [];

    beforeAll(async () => {
      // alpha announced with beta's server name: its certificate does not carry it.
      peers = await startPeerService(join(dir, 'peers-for-refusals.sock'), [
        {
          name: 'alpha',
          address: `127.0.0.1:${nodes[0]!.tcpPort}`,
          tlsServerName: 'beta.default.hubble-grpc.cilium.io',
        },
        { name: 'beta', address: `127.0.0.1:${nodes[1]!.tcpPort}` },
      ]);
    });

    afterAll(async () => {
      await Promise.all(relays.map((r) => r.close()));
      await peers?.close();
    });

    async function relayWith(settings: Settings): Promise<RunningRelay> {
      const opts = toRelayOptions(
        resolveSettings(RELAY_SETTINGS, {
          'peer-service': peers.target,
          'listen-address': '127.0.0.1:0',
          'disable-server-tls': true,
          'retry-timeout': '1s',
          'dial-timeout': '2s',
          ...settings,
        }),
      );
      const r = await startRelay(opts, pino({ level: 'silent' }));
      relays.push(r);
      return r;
    }

    async function settledStates(r: RunningRelay): Promise<Record<string, string>> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const list = r.peers.list();
        if (list.length === 2 && list.every((p) => p.state !== 'connecting')) {
          return Object.fromEntries(list.map((p) => [p.name, p.state]));
        }
        if (Date.now() > deadline) throw new Error(`peers did not settle: ${JSON.stringify(list)}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }

    it('connects with the right CA and client certificate, but not to a node whose certificate lacks the announced name', async () => {
      const r = await relayWith({
        'tls-client-cert-file': pki.relayClient.cert,
        'tls-client-key-file': pki.relayClient.key,
        'tls-hubble-server-ca-files': [pki.ca.cert],
      });
      expect(await settledStates(r)).toEqual({ alpha: 'unavailable', beta: 'connected' });
    });

    it('is refused by nodes requiring mTLS when it presents no client certificate', async () => {
      const r = await relayWith({ 'tls-hubble-server-ca-files': [pki.ca.cert] });
      expect(await settledStates(r)).toEqual({ alpha: 'unavailable', beta: 'unavailable' });
    });

    it('follows a Peer service over TCP with mTLS, verified as hubble-peer.<cluster>, and no node that lacks that name', async () => {
      const clientTls = {
        'tls-client-cert-file': pki.relayClient.cert,
        'tls-client-key-file': pki.relayClient.key,
        'tls-hubble-server-ca-files': [pki.ca.cert],
      };
      const viaAlpha = await relayWith({ ...clientTls, 'peer-service': `127.0.0.1:${nodes[0]!.tcpPort}` });
      const viaBeta = await relayWith({ ...clientTls, 'peer-service': `127.0.0.1:${nodes[1]!.tcpPort}` });
      const deadline = Date.now() + 10_000;
      while (viaAlpha.peers.list().filter((p) => p.state === 'connected').length < 3) {
        if (Date.now() > deadline) throw new Error(`not all connected: ${JSON.stringify(viaAlpha.peers.list())}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      expect(viaAlpha.peers.peerServiceConnected).toBe(true);
      expect(viaAlpha.peers.list().map((p) => p.name)).toEqual(['alpha', 'beta', 'gamma']);
      // beta's certificate is only beta's: the relay does not take it for the Peer service.
      expect(viaBeta.peers.peerServiceConnected).toBe(false);
      expect(viaBeta.peers.list()).toEqual([]);
    });

    it('refuses nodes whose certificates chain to a CA it does not trust', async () => {
      const r = await relayWith({
        'tls-client-cert-file': pki.relayClient.cert,
        'tls-client-key-file': pki.relayClient.key,
        'tls-hubble-server-ca-files': [pki.otherCa.cert],
      });
      expect(await settledStates(r)).toEqual({ alpha: 'unavailable', beta: 'unavailable' });
    });
  });
});

describe('relay --all over full rings', () => {
  const PER = 3000;
  const names = ['alpha', 'beta', 'gamma'];
  let dir: string;
  let nodes: RunningNode[] = [];
  let peers: TestPeerService;
  let relay: CliProcess & { port: number };

  beforeAll(async () => {
    dir = tempDir('hubble-ts-relay-merge-');
    nodes = await Promise.all(
      names.map((name, i) => startTestNode({ name, dir, source: `pcap:${craftCapture(dir, i, names.length, PER)}` })),
    );
    peers = await startPeerService(
      join(dir, 'peers.sock'),
      nodes.map((n, i) => ({ name: names[i]!, address: `127.0.0.1:${n.tcpPort}` })),
    );
    relay = await startRelayProcess(['--peer-service', peers.target, '--disable-client-tls', '--disable-server-tls']);
    await relay.waitFor(
      (out) => (out.match(/"msg":"connected to peer"/g) ?? []).length === 3,
      15_000,
      'the relay to connect to all three nodes',
    );
  });

  afterAll(async () => {
    await relay?.stop();
    await peers?.close();
    await Promise.all(nodes.map((n) => n?.close()));
  });

  it('merges every flow in time order, though each node sends its ring far faster than a sort buffer holds', async () => {
    // The default sort buffer holds 100 responses; each node answers with 3000 at once.
    const r = await runCli(['observe', '--all', '-o', 'json', '--server', `127.0.0.1:${relay.port}`]);
    expect(r.code).toBe(0);
    const flows = jsonLines(r.stdout).flatMap((l) => (l['flow'] === undefined ? [] : [l['flow']]));
    expect(flows).toHaveLength(PER * names.length);
    expect(flows.map((f) => f.node_name)).toEqual(Array.from({ length: flows.length }, (_, g) => names[g % 3]));
    expect(flows.map((f) => f.l4.UDP.source_port)).toEqual(
      Array.from({ length: flows.length }, (_, g) => craftedPort(g % 3, Math.floor(g / 3))),
    );
  });
});

describe('relay and a Peer service that comes back without a peer', () => {
  it('drops the peer the Peer service no longer lists once it answers again', async () => {
    const dir = tempDir('hubble-ts-relay-resync-');
    const nodes = await Promise.all(
      ['alpha', 'beta'].map((name, i) => startTestNode({ name, dir, source: `pcap:${craftCapture(dir, i, 2, 4)}` })),
    );
    const socket = join(dir, 'peers.sock');
    const both = nodes.map((n, i) => ({ name: ['alpha', 'beta'][i]!, address: `127.0.0.1:${n.tcpPort}` }));
    let peers = await startPeerService(socket, both);
    const relay = await startPlainRelay(peers.target, { 'retry-timeout': '1s' });
    const names = () => relay.peers.list().map((p) => p.name);
    const until = async (what: string, ok: () => boolean) => {
      const deadline = Date.now() + 15_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(names())}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await until('both peers', () => names().join() === 'alpha,beta');
      // The Peer service goes away; beta is retired meanwhile; the Peer service comes back listing alpha alone.
      await peers.close();
      rmSync(socket, { force: true });
      await until('the relay to lose the Peer service', () => !relay.peers.peerServiceConnected);
      peers = await startPeerService(socket, both.slice(0, 1));
      await until('beta to be dropped', () => names().join() === 'alpha');
    } finally {
      await relay.close();
      await peers.close();
      await Promise.all(nodes.map((n) => n.close()));
    }
  }, 40_000);
});

// A small cluster on loopback for the relay tests: crafted captures whose flows interleave in time across nodes, a test
// PKI, hubble-ts nodes (in-process or as processes), a Peer service, the relay, and the CLI run as a user runs it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { PeerService as PeerServiceDefinition } from '../../src/api/peer/peer.js';
import { PeerDirectory } from '../../src/peer/directory.js';
import { PeerService } from '../../src/peer/service.js';
import { StaticPeerSource, type Peer } from '../../src/peer/source.js';
import { resolveSettings, type Settings } from '../../src/server/config.js';
import { bindUnixSocket } from '../../src/server/listeners.js';
import { startNode, type RunningNode } from '../../src/server/node.js';
import { startRelay, type RunningRelay } from '../../src/server/relay.js';
import { RELAY_SETTINGS, toRelayOptions } from '../../src/server/relayOptions.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';
import { spawnCli, type CliProcess } from '../harness/cli.js';
import { makeTestCa, type CertFiles, type TestCa } from '../harness/certs.js';
import { ethernet, ipv4, udp } from '../harness/frames.js';
import { writePcap } from '../harness/pcapFiles.js';

/** First packet time of every crafted capture (seconds since the epoch). */
export const CAPTURE_EPOCH = 1_700_000_000;

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `hubble-ts-relay-${label}-`));
}

/**
 * A capture for node `index` of `nodes`: `count` UDP datagrams one apart in a global sequence, packet k of node i at
 * CAPTURE_EPOCH + (k * nodes + i) ms, so the nodes' flows interleave. Source port 30000 + 1000 i + k names each one.
 */
export function craftCapture(dir: string, index: number, nodes: number, count: number): string {
  const records = [];
  for (let k = 0; k < count; k++) {
    const ms = k * nodes + index;
    const frame = ethernet(
      { type: 0x0800 },
      ipv4(
        { src: `10.0.${index}.1`, dst: '10.9.9.9', protocol: 17 },
        udp(30_000 + 1000 * index + k, 7000, new Uint8Array(8)),
      ),
    );
    records.push({ seconds: CAPTURE_EPOCH + Math.floor(ms / 1000), fraction: (ms % 1000) * 1000, data: frame });
  }
  const path = join(dir, `node${index}.pcap`);
  writeFileSync(path, writePcap(records, { linkType: 1 }));
  return path;
}

/** The source port craftCapture gives packet k of node i. */
export function craftedPort(index: number, k: number): number {
  return 30_000 + 1000 * index + k;
}

export interface ClusterPki {
  ca: TestCa;
  /** A CA nobody trusts: certificates from it must be refused. */
  otherCa: TestCa;
  /** Per node name: its server certificate, for <name>.default.hubble-grpc.cilium.io (Hubble's derived name); the first
   * node's also for hubble-peer.default.hubble-grpc.cilium.io. */
  nodes: Record<string, CertFiles>;
  /** The relay's client certificate towards the nodes. */
  relayClient: CertFiles;
  /** The relay's server certificate (127.0.0.1, localhost). */
  relayServer: CertFiles;
  /** A CLI user's client certificate towards the relay. */
  user: CertFiles;
  /** A client certificate from the untrusted CA. */
  strangerUser: CertFiles;
}

export function makeClusterPki(nodeNames: readonly string[]): ClusterPki {
  const ca = makeTestCa('hubble-ts relay test CA');
  const otherCa = makeTestCa('some other CA');
  const nodes: Record<string, CertFiles> = {};
  for (const name of nodeNames) {
    // The first node also answers as the cluster's Peer service over TCP (hubble-peer.<cluster>...), as in Kubernetes.
    const names = [`${name}.default.hubble-grpc.cilium.io`];
    if (name === nodeNames[0]) names.push('hubble-peer.default.hubble-grpc.cilium.io');
    nodes[name] = ca.issue(name, names, 'server');
  }
  return {
    ca,
    otherCa,
    nodes,
    relayClient: ca.issue('relay-client', ['relay-client.hubble-relay.cilium.io'], 'client'),
    relayServer: ca.issue('relay-server', ['127.0.0.1', 'localhost'], 'server'),
    user: ca.issue('user', ['user.example'], 'client'),
    strangerUser: otherCa.issue('stranger', ['stranger.example'], 'client'),
  };
}

/** A TCP port nobody listens on right now (for servers that must come back on the same port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestNodeOptions {
  name: string;
  dir: string;
  source: string;
  port?: number;
  /** Serve TCP with this certificate, requiring client certificates from `clientCa` when given. */
  tls?: { cert: CertFiles; clientCa?: string };
  peersFile?: string;
}

/** A hubble-ts node in this process, serving TCP on 127.0.0.1; with a pcap source, once it is replayed. */
export async function startTestNode(o: TestNodeOptions): Promise<RunningNode> {
  const settings: Settings = {
    source: [o.source],
    'socket-path': join(o.dir, `${o.name}.sock`),
    'recordings-dir': join(o.dir, `${o.name}-recordings`),
    'listen-address': `127.0.0.1:${o.port ?? 0}`,
    'node-name': o.name,
  };
  if (o.tls === undefined) settings['disable-server-tls'] = true;
  else {
    settings['tls-cert-file'] = o.tls.cert.cert;
    settings['tls-key-file'] = o.tls.cert.key;
    if (o.tls.clientCa !== undefined) settings['tls-client-ca-files'] = [o.tls.clientCa];
  }
  if (o.peersFile !== undefined) settings['peers-file'] = o.peersFile;
  const node = await startNode(toServeOptions(resolveSettings(SERVE_SETTINGS, settings)), pino({ level: 'silent' }));
  // A replayed capture is all in the ring before the test looks; a live one never ends.
  if (o.source.startsWith('pcap:')) await node.sourcesDone;
  return node;
}

/** Writes a peers file listing `peers`. */
export function writePeersFile(path: string, peers: readonly Peer[]): void {
  const lines = ['peers:'];
  for (const p of peers) {
    lines.push(`  - name: ${p.name}`, `    address: ${p.address}`);
    if (p.tlsServerName !== undefined) lines.push(`    tls-server-name: ${p.tlsServerName}`);
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** The real Peer service on a unix socket, announcing whatever `set` last said. */
export interface TestPeerService {
  target: string;
  set(peers: readonly Peer[]): void;
  close(): Promise<void>;
}

export async function startPeerService(socketPath: string, peers: readonly Peer[]): Promise<TestPeerService> {
  const source = new StaticPeerSource('test', peers);
  const directory = new PeerDirectory([source]);
  await directory.start();
  const service = new PeerService(directory);
  const server = new grpc.Server();
  server.addService(PeerServiceDefinition, service.implementation);
  await bindUnixSocket(server, socketPath);
  return {
    target: `unix://${socketPath}`,
    set: (next) => source.set(next),
    async close() {
      service.close();
      directory.close();
      server.forceShutdown();
    },
  };
}

/** A relay in this process, plaintext both ways on 127.0.0.1, following `peerService`; `settings` add to that. */
export function startPlainRelay(peerService: string, settings: Settings = {}): Promise<RunningRelay> {
  return startRelay(
    toRelayOptions(
      resolveSettings(RELAY_SETTINGS, {
        'peer-service': peerService,
        'listen-address': '127.0.0.1:0',
        'disable-server-tls': true,
        'disable-client-tls': true,
        ...settings,
      }),
    ),
    pino({ level: 'silent' }),
  );
}

/** `hubble-ts relay ARGS --listen-address 127.0.0.1:PORT`, once it serves. */
export async function startRelayProcess(
  args: readonly string[],
  port?: number,
): Promise<CliProcess & { port: number }> {
  const p = port ?? (await freePort());
  const relay = spawnCli(['relay', '--listen-address', `127.0.0.1:${p}`, ...args]);
  await relay.waitFor((out) => out.includes('serving Hubble Relay API'), 20_000, 'the relay to serve');
  return Object.assign(relay, { port: p });
}

/** JSON lines of `observe -o json`. */
export function jsonLines(text: string): Array<Record<string, any>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);
}

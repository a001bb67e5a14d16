// `hubble-ts serve` and the Peer service: served beside the Observer on the unix socket and on TCP (mTLS there), named
// by health checks and reflection, announcing this node and the peers file; the settings that shape it; and a spawned
// `hubble-ts serve --peers-file` answering Notify and following edits to the file.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GetFlowsRequest,
  ObserverClient,
  type GetFlowsResponse,
  type GetNodesResponse,
} from '../../src/api/observer/observer.js';
import { PeerClient } from '../../src/api/peer/peer.js';
import { ConfigError, resolveSettings, type Settings } from '../../src/server/config.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';
import { makeTestCa, type TestCa } from '../harness/certs.js';
import { spawnCli, type CliProcess } from '../harness/cli.js';
import { NotifySubscriber, unixPeerClient } from '../peer/notifyClient.js';
import {
  anyFilter,
  emptyCapture,
  RecordStream,
  replay,
  startTestNode,
  syntheticPackets,
  writeSyntheticCapture,
  type TestNode,
} from '../recorder/harness.js';

const PEERS = `peers:
  - name: alpha
    address: 10.0.0.1:4244
    tls-server-name: alpha.default.hubble-grpc.cilium.io
  - name: beta
    address: "[fd00::2]:4244"
`;

function peersFile(text = PEERS): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-peers-')), 'peers.yaml');
  writeFileSync(path, text);
  return path;
}

function healthOf(target: string, creds: grpc.ChannelCredentials, service: string): Promise<string> {
  const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Health(target, creds) as unknown as {
    check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
    close(): void;
  };
  return new Promise<string>((resolve) =>
    client.check({ service }, (err, res) => resolve(err ? grpc.status[err.code]! : res!.status)),
  ).finally(() => client.close());
}

async function reflectedServices(target: string, creds: grpc.ChannelCredentials): Promise<string[]> {
  const proto = createRequire(import.meta.url).resolve(
    '@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto',
  );
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { keepCase: true, oneofs: true })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(target, creds);
  const call = (
    client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, Record<string, any>> }
  ).ServerReflectionInfo();
  const res = await new Promise<Record<string, any>>((resolve, reject) => {
    call.on('data', resolve);
    call.on('error', reject);
    call.write({ list_services: '' });
  });
  call.end();
  client.close();
  return (res['list_services_response'].service as { name: string }[]).map((s) => s.name);
}

describe('serve with a peers file and a TCP listener with mTLS', () => {
  let ca: TestCa;
  let t: TestNode;
  let file: string;
  let tlsCreds: grpc.ChannelCredentials;

  beforeAll(async () => {
    ca = makeTestCa();
    const server = ca.issue('server', ['localhost', '127.0.0.1'], 'server');
    const relay = ca.issue('relay', ['relay'], 'client');
    tlsCreds = grpc.credentials.createSsl(readFileSync(ca.cert), readFileSync(relay.key), readFileSync(relay.cert));
    file = peersFile();
    t = await startTestNode(
      {
        'node-name': 'rec-node',
        'listen-address': '127.0.0.1:0',
        'tls-cert-file': server.cert,
        'tls-key-file': server.key,
        'tls-client-ca-files': [ca.cert],
        'peers-file': file,
      },
      { peersFile: { debounceMs: 30 } },
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it('announces the file’s peers and this node (its TCP address, the TLS name Hubble derives) on the unix socket', async () => {
    const client = unixPeerClient(t.socket);
    const sub = new NotifySubscriber(client);
    expect(await sub.waitForCount(3)).toEqual([
      'ADDED alpha 10.0.0.1:4244 tls=alpha.default.hubble-grpc.cilium.io',
      'ADDED beta [fd00::2]:4244',
      `ADDED rec-node 127.0.0.1:${t.node.tcpPort} tls=rec-node.default.hubble-grpc.cilium.io`,
    ]);
    sub.cancel();
    client.close();
  });

  it('serves the same on TCP to a client with a certificate, and follows edits to the file', async () => {
    const client = new PeerClient(`localhost:${t.node.tcpPort}`, tlsCreds);
    const sub = new NotifySubscriber(client);
    await sub.waitForCount(3);
    writeFileSync(file, PEERS.replace('10.0.0.1:4244', '10.0.0.11:4244'));
    expect(await sub.next(1)).toEqual(['UPDATED alpha 10.0.0.11:4244 tls=alpha.default.hubble-grpc.cilium.io']);
    writeFileSync(file, PEERS);
    await sub.next(1);
    sub.cancel();
    client.close();
  });

  it('names peer.Peer in health checks and reflection on both listeners', async () => {
    const unix = `unix://${t.socket}`;
    const insecure = grpc.credentials.createInsecure();
    const tcp = `localhost:${t.node.tcpPort}`;
    expect(await healthOf(unix, insecure, 'peer.Peer')).toBe('SERVING');
    expect(await healthOf(tcp, tlsCreds, 'peer.Peer')).toBe('SERVING');
    expect(await reflectedServices(unix, insecure)).toEqual(expect.arrayContaining(['observer.Observer', 'peer.Peer']));
    expect(await reflectedServices(tcp, tlsCreds)).toEqual(expect.arrayContaining(['observer.Observer', 'peer.Peer']));
  });
});

describe('serve without TCP', () => {
  it('announces this node by its unix socket, and ends Notify streams with OK at shutdown without waiting', async () => {
    const t = await startTestNode({ 'node-name': 'local-node', 'cluster-name': 'lab' });
    const client = unixPeerClient(t.socket);
    const sub = new NotifySubscriber(client);
    expect(await sub.waitForCount(1)).toEqual([`ADDED lab/local-node unix://${t.socket}`]);
    const started = Date.now();
    await t.close();
    expect(await sub.ended).toMatchObject({ code: grpc.status.OK });
    // Well inside the API's grace period: the stream did not hold shutdown up.
    expect(Date.now() - started).toBeLessThan(1500);
    client.close();
  });

  it('refuses to start on a bad peers file, naming the file and line', async () => {
    const bad = peersFile(
      'peers:\n  - name: alpha\n    address: 10.0.0.1:4244\n  - name: alpha\n    address: 10.0.0.2:4244\n',
    );
    await expect(startTestNode({ 'peers-file': bad })).rejects.toThrow(ConfigError);
    await expect(startTestNode({ 'peers-file': bad })).rejects.toThrow(
      `peers file ${bad}:4: peers[1].name: "alpha" is already the name of the peer on line 2`,
    );
  });
});

describe('peer settings', () => {
  const options = (settings: Settings, yaml?: string) => {
    let config: string | undefined;
    if (yaml !== undefined) {
      config = join(mkdtempSync(join(tmpdir(), 'hubble-ts-cfg-')), 'config.yaml');
      writeFileSync(config, yaml);
    }
    return toServeOptions(resolveSettings(SERVE_SETTINGS, settings, config));
  };

  it('has no peers file and no advertise address by default', () => {
    expect(options({}).peers).toEqual({ file: undefined, advertise: undefined });
  });

  it.each<[string, Settings, string | undefined, unknown]>([
    ['--peers-file', { 'peers-file': '/etc/p.yaml' }, undefined, { file: '/etc/p.yaml', advertise: undefined }],
    ['peers-file in YAML', {}, 'peers-file: /etc/p.yaml\n', { file: '/etc/p.yaml', advertise: undefined }],
    [
      '--advertise-address HOST',
      { 'listen-address': ':4244', 'disable-server-tls': true, 'advertise-address': 'node-1.example' },
      undefined,
      { file: undefined, advertise: { host: 'node-1.example', port: undefined } },
    ],
    [
      'advertise-address [v6]:PORT in YAML',
      {},
      'listen-address: ":4244"\ndisable-server-tls: true\nadvertise-address: "[FD00::7]:14244"\n',
      { file: undefined, advertise: { host: 'fd00::7', port: 14244 } },
    ],
  ])('reads %s', (_what, settings, yaml, expected) => {
    expect(options(settings, yaml).peers).toEqual(expected);
  });

  it.each<[Settings, RegExp]>([
    [{ 'advertise-address': '10.0.0.1' }, /^--advertise-address needs --listen-address$/],
    [
      { 'listen-address': ':4244', 'disable-server-tls': true, 'advertise-address': '10.0.0.1:99999' },
      /^--advertise-address: "99999" is not a port number \(1-65535\) \(give HOST or HOST:PORT/,
    ],
    [
      { 'listen-address': ':4244', 'disable-server-tls': true, 'advertise-address': 'no such host' },
      /^--advertise-address: "no such host" is not an IP address or host name/,
    ],
  ])('refuses %j in one line saying why', (settings, message) => {
    expect(() => options(settings)).toThrow(message);
  });
});

describe('a spawned hubble-ts serve --peers-file', () => {
  let serve: CliProcess;
  let socket: string;
  let file: string;
  const logs = () => serve.stdout() + serve.stderr();

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-e2e-peers-'));
    socket = join(dir, 'hubble.sock');
    file = peersFile();
    const config = join(dir, 'config.yaml');
    // The peers file by YAML, as an operator's config would have it; the rest by flags.
    writeFileSync(config, `peers-file: ${file}\n`);
    serve = spawnCli([
      'serve',
      '--config',
      config,
      '--socket-path',
      socket,
      '--recordings-dir',
      join(dir, 'recordings'),
      '--node-name',
      'e2e-node',
      '--source',
      `pcap:${emptyCapture()}`,
      '--listen-address',
      ':0',
      '--disable-server-tls',
      '--advertise-address',
      '192.0.2.44:4244',
    ]);
    await serve.waitFor((out, err) => (out + err).includes('serving Hubble API'), 20_000, 'serve to start');
  });

  afterAll(async () => {
    await serve?.stop('SIGTERM');
  });

  it('answers Notify with the file’s peers and itself at its advertise address, and follows an edit', async () => {
    const started = JSON.parse(
      logs()
        .split('\n')
        .find((l) => l.includes('serving Hubble API'))!,
    ) as Record<string, unknown>;
    expect(started).toMatchObject({ peer: '192.0.2.44:4244', peerAddressFrom: 'advertise address', peers: 3 });
    const client = unixPeerClient(socket);
    const sub = new NotifySubscriber(client);
    expect(await sub.waitForCount(3)).toEqual([
      'ADDED alpha 10.0.0.1:4244 tls=alpha.default.hubble-grpc.cilium.io',
      'ADDED beta [fd00::2]:4244',
      'ADDED e2e-node 192.0.2.44:4244',
    ]);
    writeFileSync(file, PEERS.replace(/ {2}- name: beta\n.*\n/, ''));
    expect(await sub.next(1)).toEqual(['DELETED beta [fd00::2]:4244']);
    sub.cancel();
    client.close();
  });

  it('ends Notify with OK and exits 0 on SIGTERM', async () => {
    const client = unixPeerClient(socket);
    const sub = new NotifySubscriber(client);
    await sub.waitForCount(2);
    serve.child.kill('SIGTERM');
    expect(await sub.ended).toMatchObject({ code: grpc.status.OK });
    expect(await serve.exited).toBe(0);
    client.close();
  });
});

describe('a node outside the default cluster', () => {
  it('goes by cluster/node everywhere it names itself: flows, GetNodes, the Peer service, the Recorder', async () => {
    const capture = writeSyntheticCapture(syntheticPackets(1));
    const t = await startTestNode({ 'node-name': 'n1.ex', 'cluster-name': 'lab', source: [`pcap:${capture}`] });
    const observer = new ObserverClient(`unix://${t.socket}`, grpc.credentials.createInsecure());
    try {
      const flows: GetFlowsResponse[] = [];
      await new Promise<void>((resolve, reject) => {
        const call = observer.getFlows(GetFlowsRequest.fromPartial({ number: '1', first: true }));
        call.on('data', (r: GetFlowsResponse) => flows.push(r));
        call.on('end', resolve);
        call.on('error', reject);
      });
      expect(flows.map((r) => [r.nodeName, r.flow?.nodeName])).toEqual([['lab/n1.ex', 'lab/n1.ex']]);
      const nodes = await new Promise<GetNodesResponse>((resolve, reject) =>
        observer.getNodes({}, (err, res) => (err ? reject(err) : resolve(res))),
      );
      expect(nodes.nodes.map((n) => n.name)).toEqual(['lab/n1.ex']);
      const sub = new NotifySubscriber(unixPeerClient(t.socket));
      expect(await sub.waitForCount(1)).toEqual([`ADDED lab/n1.ex unix://${t.socket}`]);
      // The Recorder, as upstream's: its responses name the node so, and its files carry it with '/' made '_'.
      const stream = new RecordStream(t.recorder).start({ include: [anyFilter] });
      expect((await stream.running()).nodeName).toBe('lab/n1.ex');
      await replay(t.node, capture);
      stream.stop();
      const stopped = await stream.stopped();
      expect(stopped.nodeName).toBe('lab/n1.ex');
      expect(stopped.stopped!.filesink!.filePath).toMatch(/\/hubble_\d+_\d+_lab_n1\.ex\.pcap$/);
    } finally {
      observer.close();
      await t.close();
    }
  });
});

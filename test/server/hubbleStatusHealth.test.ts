// `hubble status` starts with grpc.health.v1 Check for "hubble.server.Observer" (Hubble's health name for its
// Observer), and stops with "Health status unknown for service ..." when a server does not know that name. These
// tests ask exactly that, byte for byte as grpc-go's health client sends it, on every listener of a node (unix socket,
// plaintext TCP, TLS) and of the relay, with the relay's SERVING/NOT_SERVING rules; then run `hubble-ts status`.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type CliProcess } from '../harness/cli.js';
import { makeTestCa } from '../harness/certs.js';
import { craftCapture, freePort, startRelayProcess, tempDir } from '../relay/harness.js';

const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
/** What the hubble CLI asks about (pkg/hubble/api/v1: ObserverServiceName). */
const HUBBLE_HEALTH_NAME = 'hubble.server.Observer';

type HealthAnswer = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | `error ${string}`;

/** HealthCheckRequest{service} encoded by hand (field 1, length-delimited), answered status decoded by hand. */
function healthCheck(target: string, service: string, creds = grpc.credentials.createInsecure(), options = {}) {
  const name = Buffer.from(service);
  const request = Buffer.concat([Buffer.from([0x0a, name.length]), name]);
  const client = new grpc.Client(target, creds, options);
  return new Promise<HealthAnswer>((resolve) => {
    client.makeUnaryRequest(
      HEALTH_CHECK,
      (b: Buffer) => b,
      (b: Buffer) => b,
      request,
      { deadline: Date.now() + 5000 },
      (err, res) => {
        if (err) return resolve(`error ${grpc.status[err.code]}: ${err.details}`);
        // HealthCheckResponse{status = 1 varint}; an empty message is status 0 (UNKNOWN).
        const status = res!.length >= 2 && res![0] === 0x08 ? res![1] : 0;
        resolve(status === 1 ? 'SERVING' : status === 2 ? 'NOT_SERVING' : 'UNKNOWN');
      },
    );
  }).finally(() => client.close());
}

describe('hubble status health check on a node', () => {
  let dir: string;
  let node: CliProcess;
  let socket: string;
  let plainPort: number;
  let tlsPort: number;
  let tlsNode: CliProcess;
  let ca: ReturnType<typeof makeTestCa>;

  beforeAll(async () => {
    dir = tempDir('health');
    const capture = craftCapture(dir, 0, 1, 5);
    socket = join(dir, 'hubble.sock');
    plainPort = await freePort();
    node = spawnCli([
      'serve',
      '--source',
      `pcap:${capture}`,
      '--socket-path',
      socket,
      '--recordings-dir',
      join(dir, 'rec'),
      '--node-name',
      'health-node',
      '--listen-address',
      `127.0.0.1:${plainPort}`,
      '--disable-server-tls',
    ]);
    ca = makeTestCa();
    const cert = ca.issue('server', ['localhost', '127.0.0.1'], 'server');
    tlsPort = await freePort();
    tlsNode = spawnCli([
      'serve',
      '--source',
      `pcap:${capture}`,
      '--socket-path',
      join(dir, 'tls.sock'),
      '--recordings-dir',
      join(dir, 'rec-tls'),
      '--listen-address',
      `127.0.0.1:${tlsPort}`,
      '--tls-cert-file',
      cert.cert,
      '--tls-key-file',
      cert.key,
    ]);
    await node.waitFor((out) => out.includes('serving Hubble API'), 20_000, 'the node to serve');
    await tlsNode.waitFor((out) => out.includes('serving Hubble API'), 20_000, 'the TLS node to serve');
  });

  afterAll(async () => {
    await node?.stop();
    await tlsNode?.stop();
  });

  it('answers SERVING for hubble.server.Observer and observer.Observer on the unix socket and on TCP', async () => {
    for (const target of [`unix://${socket}`, `127.0.0.1:${plainPort}`]) {
      expect(await healthCheck(target, HUBBLE_HEALTH_NAME), target).toBe('SERVING');
      expect(await healthCheck(target, 'observer.Observer'), target).toBe('SERVING');
      expect(await healthCheck(target, ''), target).toBe('SERVING');
      expect(await healthCheck(target, 'no.such.Service'), target).toMatch(/^error NOT_FOUND/);
    }
    const creds = grpc.credentials.createSsl(readFileSync(ca.cert));
    expect(await healthCheck(`127.0.0.1:${tlsPort}`, HUBBLE_HEALTH_NAME, creds)).toBe('SERVING');
  });

  it('`status` reports the health check Ok and the ring, over the socket, TCP and TLS', async () => {
    const viaSocket = await runCli(['status', '--server', `unix://${socket}`]);
    expect(viaSocket.stderr).toBe('');
    expect(viaSocket.stdout).toMatch(/^Healthcheck \(via unix:\/\/.+\): Ok\nCurrent\/Max Flows: [\d,]+\/4,095/);
    const viaTcp = await runCli(['status', '--server', `127.0.0.1:${plainPort}`]);
    expect(viaTcp.stdout).toContain(`Healthcheck (via 127.0.0.1:${plainPort}): Ok`);
    const viaTls = await runCli(['status', '--server', `tls://127.0.0.1:${tlsPort}`, '--tls-ca-cert-files', ca.cert]);
    expect(viaTls.stdout).toContain('): Ok');
    expect(viaTls.code).toBe(0);
  });
});

describe('hubble status health check on the relay', () => {
  let dir: string;
  let node: CliProcess | undefined;
  let relay: CliProcess & { port: number };
  let socket: string;

  beforeAll(async () => {
    dir = tempDir('relay-health');
    socket = join(dir, 'hubble.sock');
    // The relay first, pointed at a Peer service that is not there yet.
    relay = await startRelayProcess([
      '--peer-service',
      `unix://${socket}`,
      '--disable-client-tls',
      '--disable-server-tls',
      '--retry-timeout',
      '1s',
    ]);
  });

  afterAll(async () => {
    await relay?.stop();
    await node?.stop();
  });

  it('is NOT_SERVING under both names while no node is connected, and `status` says so', async () => {
    const target = `127.0.0.1:${relay.port}`;
    expect(await healthCheck(target, HUBBLE_HEALTH_NAME)).toBe('NOT_SERVING');
    expect(await healthCheck(target, 'observer.Observer')).toBe('NOT_SERVING');
    const status = await runCli(['status', '--server', target]);
    expect(status.stdout).toBe(`Healthcheck (via ${target}): Unavailable: NOT_SERVING\n`);
    expect(status.stderr.trim()).toBe('hubble-ts: not healthy');
    expect(status.code).not.toBe(0);
  });

  it('turns SERVING under both names once a node is connected, and `status` sums the nodes', async () => {
    node = spawnCli([
      'serve',
      '--source',
      `pcap:${craftCapture(dir, 0, 1, 3)}`,
      '--socket-path',
      socket,
      '--recordings-dir',
      join(dir, 'rec'),
      '--node-name',
      'alpha',
    ]);
    await node.waitFor((out) => out.includes('serving Hubble API'), 20_000, 'the node to serve');
    const target = `127.0.0.1:${relay.port}`;
    const deadline = Date.now() + 15_000;
    while ((await healthCheck(target, HUBBLE_HEALTH_NAME)) !== 'SERVING') {
      if (Date.now() > deadline) throw new Error(`relay never turned SERVING: ${relay.stderr().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await healthCheck(target, 'observer.Observer')).toBe('SERVING');
    const status = await runCli(['status', '--server', target]);
    expect(status.stdout).toMatch(/^Healthcheck \(via 127\.0\.0\.1:\d+\): Ok\n/);
    expect(status.stdout).toContain('Connected Nodes: 1/1');
    expect(status.code).toBe(0);
  });
});

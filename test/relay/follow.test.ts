// What a user of `observe --follow` through the relay sees when a node dies and comes back: two `hubble-ts serve`
// processes capturing live on loopback (each its own UDP port), mTLS between relay and nodes, `hubble-ts relay` and
// `hubble-ts observe --follow` as processes. The node is killed with SIGKILL mid-follow, the other keeps flowing, the
// client is told, and the node's flows come back in the same stream once it is restarted on the same port; and a node
// that had sent a follower nothing before dying resumes from when the follow began.
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  jsonLines,
  makeClusterPki,
  startRelayProcess,
  tempDir,
  writePeersFile,
  type ClusterPki,
} from './harness.js';
import { spawnCli, type CliProcess } from '../harness/cli.js';

interface ServeProcess extends CliProcess {
  udpPort: number;
}

describe('observe --follow through the relay while a node dies and returns', () => {
  let dir: string;
  let pki: ClusterPki;
  const tcpPorts: Record<'alpha' | 'beta', number> = { alpha: 0, beta: 0 };
  const udpPorts: Record<'alpha' | 'beta', number> = { alpha: 0, beta: 0 };
  const running: CliProcess[] = [];
  let relay: CliProcess & { port: number };
  let beta: ServeProcess;

  function serve(name: 'alpha' | 'beta', extra: string[] = []): Promise<ServeProcess> {
    const p = spawnCli([
      'serve',
      '--node-name',
      name,
      '--source',
      `live:lo:udp dst port ${udpPorts[name]}`,
      '--socket-path',
      join(dir, `${name}.sock`),
      '--recordings-dir',
      join(dir, `${name}-recordings`),
      '--listen-address',
      `127.0.0.1:${tcpPorts[name]}`,
      '--tls-cert-file',
      pki.nodes[name]!.cert,
      '--tls-key-file',
      pki.nodes[name]!.key,
      '--tls-client-ca-files',
      pki.ca.cert,
      ...extra,
    ]);
    running.push(p);
    return p
      .waitFor((out, err) => (out + err).includes('serving Hubble API'), 20_000, `${name} to serve`)
      .then(() => Object.assign(p, { udpPort: udpPorts[name] }));
  }

  /** One datagram to `port` from a fresh source port (which names it in the flows); returns that source port. */
  async function sendDatagram(port: number): Promise<number> {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const sourcePort = sock.address().port;
    await new Promise<void>((resolve, reject) => sock.send('x', port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    sock.close();
    return sourcePort;
  }

  type Seen = Array<{ node: string; sourcePort: number; time: number }>;
  const flowsOf = (observe: CliProcess): Seen =>
    jsonLines(observe.stdout())
      .filter((l) => l['flow'] !== undefined)
      .map((l) => ({
        node: l['flow'].node_name as string,
        sourcePort: l['flow'].l4.UDP.source_port as number,
        time: Date.parse(l['flow'].time as string),
      }));

  /** Sends datagrams to `node` every 200 ms until one of them shows up in the follow output; returns its port. */
  async function sendUntilSeen(observe: CliProcess, node: 'alpha' | 'beta', ms = 30_000): Promise<number> {
    const sent = new Set<number>();
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      sent.add(await sendDatagram(udpPorts[node]));
      const seen = flowsOf(observe).find((f) => f.node === node && sent.has(f.sourcePort));
      if (seen !== undefined) return seen.sourcePort;
      if (observe.child.exitCode !== null) throw new Error(`observe exited: ${observe.stderr()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no flow from ${node} reached observe --follow in ${ms} ms; stderr: ${observe.stderr()}`);
  }

  /** Waits for `observe` to be told about `node` (a node status event on its stderr). */
  function nodeStatusFor(observe: CliProcess, node: 'alpha' | 'beta'): Promise<void> {
    return observe.waitFor(
      (_out, err) => jsonLines(err).some((l) => l['node_status']?.node_names?.includes(node)),
      10_000,
      `a node status event for ${node}`,
    );
  }

  beforeAll(async () => {
    dir = tempDir('follow');
    pki = makeClusterPki(['alpha', 'beta']);
    for (const name of ['alpha', 'beta'] as const) {
      tcpPorts[name] = await freePort();
      udpPorts[name] = await freePort();
    }
  });

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
  });

  it('keeps flowing from the live node, reports the dead one, and resumes it when it is back', async () => {
    beta = await serve('beta');
    const peersFile = join(dir, 'peers.yaml');
    writePeersFile(peersFile, [{ name: 'beta', address: `127.0.0.1:${tcpPorts.beta}` }]);
    await serve('alpha', ['--peers-file', peersFile]);
    relay = await startRelayProcess([
      '--peer-service',
      `unix://${join(dir, 'alpha.sock')}`,
      '--tls-client-cert-file',
      pki.relayClient.cert,
      '--tls-client-key-file',
      pki.relayClient.key,
      '--tls-hubble-server-ca-files',
      pki.ca.cert,
      '--disable-server-tls',
      '--retry-timeout',
      '1s',
      '--sort-buffer-drain-timeout',
      '100ms',
    ]);
    running.push(relay);
    await relay.waitFor(
      (out) => (out.match(/"msg":"connected to peer"/g) ?? []).length === 2,
      15_000,
      'the relay to connect to both nodes',
    );

    const observe = spawnCli(['observe', '--follow', '-o', 'json', '--server', `127.0.0.1:${relay.port}`]);
    running.push(observe);
    await sendUntilSeen(observe, 'alpha');
    await sendUntilSeen(observe, 'beta');

    await beta.stop('SIGKILL');
    // The client hears that beta is gone (hubble prints unavailable and failing nodes on stderr)...
    await nodeStatusFor(observe, 'beta');
    const betaDown = jsonLines(observe.stderr()).find((l) => l['node_status']?.node_names?.includes('beta'))!;
    expect(['NODE_UNAVAILABLE', 'NODE_ERROR']).toContain(betaDown['node_status'].state_change);
    // ...and alpha's flows keep coming in the same stream.
    const flowsBefore = flowsOf(observe).length;
    await sendUntilSeen(observe, 'alpha', 10_000);
    expect(flowsOf(observe).length).toBeGreaterThan(flowsBefore);

    beta = await serve('beta');
    const afterRestart = await sendUntilSeen(observe, 'beta', 30_000);
    expect(observe.child.exitCode).toBeNull();
    expect(flowsOf(observe).some((f) => f.node === 'beta' && f.sourcePort === afterRestart)).toBe(true);
    await sendUntilSeen(observe, 'alpha', 10_000);

    // Every datagram at most once, and the stream in time order.
    const flows = flowsOf(observe);
    const keys = flows.map((f) => `${f.node}:${f.sourcePort}`);
    expect(new Set(keys).size).toBe(keys.length);
    const times = flows.map((f) => f.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  }, 120_000);

  it('resumes a node that had sent this follower nothing from when the follow began, losing nothing', async () => {
    // A follower to which beta has sent nothing when beta dies; beta comes back and captures a datagram before the
    // relay dials it again (the relay is held stopped meanwhile). That datagram must reach the follower: it resumed
    // "from now", and lost whatever came between the node's return and the redial (up to the 30 s backoff).
    const observe = spawnCli(['observe', '--follow', '-o', 'json', '--server', `127.0.0.1:${relay.port}`]);
    running.push(observe);
    await sendUntilSeen(observe, 'alpha');
    await beta.stop('SIGKILL');
    await nodeStatusFor(observe, 'beta');
    relay.child.kill('SIGSTOP');
    let sent: number;
    try {
      beta = await serve('beta');
      sent = await sendDatagram(udpPorts.beta);
      // Captured by beta before the relay can ask for it.
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      relay.child.kill('SIGCONT');
    }
    await observe.waitFor(
      () => flowsOf(observe).some((f) => f.node === 'beta' && f.sourcePort === sent),
      30_000,
      `the datagram beta captured before the relay redialled it (from port ${sent})`,
    );
    const keys = flowsOf(observe).map((f) => `${f.node}:${f.sourcePort}`);
    expect(new Set(keys).size).toBe(keys.length);
  }, 120_000);
});

// A relay over nodes of which some hang: one peer accepts TCP connections and never says a word (from the start), and
// one node stops dead (SIGSTOP) while the relay is connected to it and a client follows through the relay. The relay
// answers for the rest: the follower keeps getting the live nodes' flows, GetNodes and ServerStatus answer within
// bounded time naming the hung ones, a non-following GetFlows completes with the live nodes' flows and the hung
// node's error, and health stays SERVING.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObserverClient, type GetNodesResponse, type ServerStatusResponse } from '../../src/api/observer/observer.js';
import { NodeState } from '../../src/api/relay/relay.js';
import { healthCheck } from '../fuzz/wire.js';
import { freePort, writePeersFile } from '../relay/harness.js';
import { FlowCounter, observerClient, waitUntil } from '../soak/flowCounter.js';
import {
  scrapeMetrics,
  startRelay,
  startServe,
  sumOf,
  type RelayProcess,
  type ServedProcess,
} from '../soak/processes.js';
import { UdpTarget } from './load.js';

const LIVE = ['alpha', 'beta', 'gamma'] as const;

describe('a relay whose nodes hang', () => {
  let dir: string;
  const nodes = new Map<string, ServedProcess>();
  const targets = new Map<string, UdpTarget>();
  let mute: Server;
  const muteSockets: Socket[] = [];
  let relay: RelayProcess;
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-fault-hang-'));
    // "delta": accepts, reads nothing, answers nothing, never closes.
    mute = createServer((s) => {
      muteSockets.push(s);
      s.pause();
    });
    const mutePort = await freePort();
    await new Promise<void>((r) => mute.listen(mutePort, '127.0.0.1', r));
    for (const name of LIVE) targets.set(name, await UdpTarget.open());
    const started = await Promise.all(
      (['beta', 'gamma'] as const).map((name) =>
        startServe({ name, dir, sources: [`live:lo:udp dst port ${targets.get(name)!.port}`], tcp: true }),
      ),
    );
    for (const p of started) nodes.set(p.name, p);
    const peersFile = join(dir, 'peers.yaml');
    writePeersFile(peersFile, [
      { name: 'beta', address: `127.0.0.1:${nodes.get('beta')!.tcpPort}` },
      { name: 'gamma', address: `127.0.0.1:${nodes.get('gamma')!.tcpPort}` },
      { name: 'delta', address: `127.0.0.1:${mutePort}` },
    ]);
    nodes.set(
      'alpha',
      await startServe({
        name: 'alpha',
        dir,
        sources: [`live:lo:udp dst port ${targets.get('alpha')!.port}`],
        tcp: true,
        extra: ['--peers-file', peersFile],
      }),
    );
    relay = await startRelay(`127.0.0.1:${nodes.get('alpha')!.tcpPort}`, [
      '--dial-timeout',
      '2s',
      '--retry-timeout',
      '2s',
    ]);
    await waitUntil(
      async () =>
        sumOf(await scrapeMetrics(relay.metricsPort), 'hubble_relay_pool_peer_connection_status', {
          status: 'READY',
        }) === 3,
      'the relay to connect to the three live nodes',
      30_000,
    );
  });

  afterAll(async () => {
    const gamma = nodes.get('gamma');
    if (gamma?.child.pid !== undefined) gamma.child.kill('SIGCONT');
    for (const c of clients) c.close();
    for (const s of muteSockets) s.destroy();
    mute?.close();
    for (const t of targets.values()) t.close();
    await Promise.all([relay, ...nodes.values()].map((p) => p?.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers for the live nodes, in bounded time, naming the hung ones', async () => {
    const target = `127.0.0.1:${relay.port}`;
    const follower = new FlowCounter(observerClient(target, 'follower'), { follow: true });
    const client = new ObserverClient(target, grpc.credentials.createInsecure());
    clients.push(client);
    await waitUntil(() => follower.statuses.length > 0, 'the follower to hear which nodes answer');
    for (const name of LIVE) await targets.get(name)!.send(5, 100);
    await waitUntil(
      () => LIVE.every((n) => (follower.byNode.get(n)?.flows ?? 0) >= 5),
      'flows from every live node through the relay',
    );

    // gamma stops dead: its TCP connection stays open, nothing answers on it.
    nodes.get('gamma')!.child.kill('SIGSTOP');
    const timed = async <T>(call: () => Promise<T>): Promise<{ value: T; ms: number }> => {
      const t0 = Date.now();
      const value = await call();
      return { value, ms: Date.now() - t0 };
    };
    const deadline = () => ({ deadline: Date.now() + 30_000 });
    const [nodesAnswer, status, history] = await Promise.all([
      timed(
        () =>
          new Promise<GetNodesResponse>((resolve, reject) =>
            client.getNodes({}, new grpc.Metadata(), deadline(), (e, r) => (e ? reject(e) : resolve(r))),
          ),
      ),
      timed(
        () =>
          new Promise<ServerStatusResponse>((resolve, reject) =>
            client.serverStatus({}, new grpc.Metadata(), deadline(), (e, r) => (e ? reject(e) : resolve(r))),
          ),
      ),
      timed(async () => {
        const c = new FlowCounter(observerClient(target, 'history'), { number: '10' }, deadline());
        const end = await c.ended;
        return { end, c };
      }),
      // Meanwhile the live nodes' new flows still reach the follower.
      (async () => {
        const before = { alpha: follower.byNode.get('alpha')!.flows, beta: follower.byNode.get('beta')!.flows };
        await targets.get('alpha')!.send(5, 100);
        await targets.get('beta')!.send(5, 100);
        await waitUntil(
          () =>
            follower.byNode.get('alpha')!.flows >= before.alpha + 5 &&
            follower.byNode.get('beta')!.flows >= before.beta + 5,
          'the live nodes’ flows to keep coming through while gamma hangs',
          10_000,
        );
      })(),
    ]);

    const states = Object.fromEntries(nodesAnswer.value.nodes.map((n) => [n.name, n.state]));
    console.log(
      `fault: hung node: GetNodes ${nodesAnswer.ms} ms, ServerStatus ${status.ms} ms, GetFlows --last 10 ${history.ms} ms; ` +
        `states ${JSON.stringify(states)}`,
    );
    expect(states['alpha']).toBe(NodeState.NODE_CONNECTED);
    expect(states['beta']).toBe(NodeState.NODE_CONNECTED);
    expect([NodeState.NODE_ERROR, NodeState.NODE_UNAVAILABLE]).toContain(states['gamma']);
    expect(states['delta']).toBe(NodeState.NODE_UNAVAILABLE);
    expect(nodesAnswer.ms).toBeLessThan(7_000);
    expect(status.value.numConnectedNodes).toBe(2);
    expect([...status.value.unavailableNodes].sort()).toEqual(['delta', 'gamma']);
    expect(status.ms).toBeLessThan(7_000);
    // A request that does not follow completes: the live nodes' flows, and the hung node named in a status event.
    const { end, c } = history.value;
    expect(grpc.status[end.code], end.details).toBe('OK');
    expect(c.flows).toBe(10);
    const hung = c.statuses.find((s) => s.nodeState === NodeState.NODE_ERROR && s.nodeNames.includes('gamma'));
    // Worded as grpc-go words a failed call, as every NODE_ERROR is.
    expect(hung?.message).toMatch(
      /^rpc error: code = DeadlineExceeded desc = no answer within \d+s \(the node hangs\)$/,
    );
    expect(history.ms).toBeLessThan(13_000);
    expect(await healthCheck(target, 'observer.Observer')).toBe('SERVING');
    follower.cancel();
  }, 90_000);
});
